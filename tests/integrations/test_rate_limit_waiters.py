"""Steps of a batch that wait for a slot of the same rate limit share one call to Prefect
(blocks.connections.throttle). A step cancelled while it waits (its flow run crashed: Prefect lost its concurrency
lease after a restart) must not leave the others, or the next batch's steps, waiting for ever."""

from __future__ import annotations

import asyncio

from prefect.context import TaskRunContext

from blocks import connections


async def test_a_step_cancelled_while_it_waits_for_a_slot_holds_up_no_other(monkeypatch):
    prefect_answers = asyncio.Event()

    async def take_slots(name: str, count: int) -> None:
        await prefect_answers.wait()

    monkeypatch.setattr(connections, "_take_slots", take_slots)
    monkeypatch.setattr(connections, "rate_limit_per_second", lambda integration: 1.0)  # one slot per call
    monkeypatch.setattr(connections, "_ensured_limits", {(connections.rate_limit_name("acme", "sendgrid"), 1.0)})
    monkeypatch.setattr(TaskRunContext, "get", staticmethod(lambda: object()))  # inside a task run

    first = asyncio.create_task(connections.throttle("acme", "sendgrid"))
    second = asyncio.create_task(connections.throttle("acme", "sendgrid"))
    await asyncio.sleep(0.01)  # both wait for the same acquisition
    first.cancel()
    prefect_answers.set()
    await asyncio.wait_for(second, timeout=5)
    await asyncio.wait_for(connections.throttle("acme", "sendgrid"), timeout=5)  # a later step too
