"""A tenant's rate limit for an integration is a Prefect global concurrency limit with slot decay, taken on the
worker's own client (blocks.connections._take_slots), against the real Prefect server of `flowyard up`."""

from __future__ import annotations

import time
import uuid

import pytest
from prefect.client.orchestration import SyncPrefectClient
from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

from blocks.connections import _take_slots


async def test_once_the_slots_are_taken_the_next_call_waits_for_one_to_decay(stack):
    name = f"t-test-{uuid.uuid4().hex[:8]}-http-rate"
    with SyncPrefectClient(stack.prefect_url, auth_string=stack.auth_string) as client:
        client.upsert_global_concurrency_limit_by_name(name, 2, slot_decay_per_second=1.0)
    with temporary_settings({PREFECT_API_URL: stack.prefect_url, PREFECT_API_AUTH_STRING: stack.auth_string}):
        began = time.monotonic()
        await _take_slots(name, 2)  # both free: at once
        await _take_slots(name, 1)  # none free: Prefect answers 423 until one has decayed (1 s)
        waited = time.monotonic() - began
    assert waited >= 0.5, f"the third slot was taken after {waited:.2f}s, before any had decayed"
    with SyncPrefectClient(stack.prefect_url, auth_string=stack.auth_string) as client:
        assert client.read_global_concurrency_limit_by_name(name).active_slots >= 1


async def test_a_missing_limit_is_an_error_not_a_free_pass(stack):
    with (
        temporary_settings({PREFECT_API_URL: stack.prefect_url, PREFECT_API_AUTH_STRING: stack.auth_string}),
        pytest.raises(LookupError, match="does not exist"),
    ):
        await _take_slots(f"t-missing-{uuid.uuid4().hex[:8]}-http-rate", 1)
