"""A connection's block is asked of Prefect again while Prefect cannot answer (restarting, or its database is),
then the step fails retryably; Prefect's other answers are not retried."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from blocks import connections
from core.errors import Retryable

ROW = SimpleNamespace(block_name="t-acme-sendgrid-main", name="Main SendGrid")


def _answer(status: int) -> httpx.HTTPStatusError:
    request = httpx.Request("POST", "http://prefect.local/api/block_types/slug/sendgrid/block_documents/name/x")
    return httpx.HTTPStatusError(f"{status}", request=request, response=httpx.Response(status, request=request))


class Prefect:
    """`aload` of a block type whose Prefect fails `failures` times with `error`, then finds the block."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    async def aload(self, name: str) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return f"block {name}"


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    monkeypatch.setattr(connections, "BLOCK_LOAD_DELAYS", (0.0,) * 5)


@pytest.mark.parametrize("error", [_answer(500), _answer(503), httpx.ConnectError("refused")])
async def test_a_block_is_asked_again_while_prefect_cannot_answer(error):
    prefect = Prefect(failures=5, error=error)
    assert await connections._load_block(prefect, ROW) == "block t-acme-sendgrid-main"
    assert prefect.calls == 6


async def test_prefect_away_for_longer_fails_the_step_retryably():
    prefect = Prefect(failures=99, error=_answer(500))
    with pytest.raises(Retryable) as failed:
        await connections._load_block(prefect, ROW)
    assert prefect.calls == 6
    assert "credentials of connection 'Main SendGrid'" in str(failed.value) and failed.value.retryable


async def test_an_answer_that_is_not_an_outage_is_not_asked_again():
    prefect = Prefect(failures=99, error=_answer(403))
    with pytest.raises(httpx.HTTPStatusError):
        await connections._load_block(prefect, ROW)
    assert prefect.calls == 1
