"""A Prefect client bound to the configured API URL (never an ephemeral server)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from prefect.client.orchestration import SyncPrefectClient

from flowyard.settings import Settings


@contextmanager
def prefect_client(settings: Settings) -> Iterator[SyncPrefectClient]:
    with SyncPrefectClient(settings.prefect_api_url, httpx_settings={"timeout": 30}) as client:
        yield client
