"""The worker's loops (poll, heartbeat, cancellations) ride out a Prefect API that fails for a while: they log,
back off and go on; only errors that do not stop make the worker give up (and its supervisor restart it)."""

from __future__ import annotations

import asyncio
import logging

import httpx

from engine.worker import until_it_gives_up


def _prefect_answers(status: int) -> httpx.HTTPStatusError:
    request = httpx.Request("POST", "http://127.0.0.1:4200/api/flow_runs/filter")
    response = httpx.Response(status, request=request, json={"exception_message": "Internal Server Error"})
    return httpx.HTTPStatusError(f"Server error '{status}'", request=request, response=response)


async def test_a_loop_backs_off_while_prefect_answers_500_and_goes_on_when_it_is_back(caplog):
    calls = 0
    back = asyncio.Event()

    async def check_cancellations() -> None:
        nonlocal calls
        calls += 1
        if calls <= 5:  # Prefect's database restarts: 3 in a row make the loop back off
            raise _prefect_answers(500)
        if calls == 8:
            back.set()

    with caplog.at_level(logging.WARNING, logger="flowyard.worker"):
        loop = asyncio.create_task(until_it_gives_up(check_cancellations, 0.01))
        await asyncio.wait_for(back.wait(), timeout=30)
        assert not loop.done()  # still running
        loop.cancel()
    assert "Failed the last 3 attempts" in caplog.text and "Backing off" in caplog.text


async def test_a_loop_gives_up_after_four_rounds_of_errors():
    calls = 0

    async def heartbeat() -> None:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("Connection refused")

    await asyncio.wait_for(until_it_gives_up(heartbeat, 0.001), timeout=30)
    assert calls == 12


async def test_the_heartbeat_rides_out_an_outage_within_its_patience_without_backing_off(caplog):
    """The dispatcher judges workers again soon after Prefect is back: a heartbeat still backing off then would
    make a live worker look dead."""
    calls = 0
    heard = asyncio.Event()

    async def heartbeat() -> None:
        nonlocal calls
        calls += 1
        if calls <= 8:  # Prefect restarting: 8 heartbeats fail
            raise httpx.ConnectError("Connection refused")
        heard.set()

    with caplog.at_level(logging.WARNING, logger="flowyard.worker"):
        loop = asyncio.create_task(until_it_gives_up(heartbeat, 0.01, patience_seconds=0.1))
        await asyncio.wait_for(heard.wait(), timeout=30)
        loop.cancel()
    assert "Backing off" not in caplog.text
