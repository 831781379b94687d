"""StepWriter and BatchStore against a real platform database (SQLite, and PostgreSQL when configured):
step rows are written behind the steps, what is left is written with the executions' outcomes, a failed
write fails the batch's end, and a wait stored by one batch is resumed by the next from those rows."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import pytest
from prefect.client.schemas.objects import FlowRun, State, StateType
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from core.payload_free import PlatformDatabaseAway
from core.settings import ExecutionSettings
from engine.reconcile import resume_or_end
from flow_factory import steps
from flow_factory.graph import Graph
from flow_factory.interpreter import end_unfinished
from flow_factory.plan import compile_plan
from flow_factory.routing import BatchRouter, inline_runner
from store import Batch, Execution, ExecutionStatus, StepResult, StepStatus, utcnow
from store.batches import BatchStore, StepRecord, StepWriter
from store.db import get_session_factory
from tests.platform_rows import Clock, add_execution, add_tenant, add_workflow

LOG = logging.getLogger("flowyard.test.step_writer")


def _batch_of(db_url: str, count: int, graph: dict[str, Any] | None = None) -> tuple[str, list[str]]:
    """A batch of `count` executions not started yet: (batch id, execution ids)."""
    with get_session_factory(db_url).begin() as db:
        workflow = add_workflow(db, add_tenant(db), graph=graph)
        batch = Batch(
            tenant_id=workflow.tenant_id, workflow_id=workflow.id, version=1, deployment_id=workflow.deployment_id
        )
        db.add(batch)
        db.flush()
        clock = Clock()
        executions = [
            add_execution(db, workflow, clock=clock, status=ExecutionStatus.BATCHED, batch_id=batch.id, input={"n": i})
            for i in range(count)
        ]
        return batch.id, [e.id for e in executions]


def _rows(db_url: str, execution_ids: list[str]) -> dict[str, StepResult]:
    with get_session_factory(db_url)() as db:
        return {row.id: row for row in db.scalars(select(StepResult).where(StepResult.execution_id.in_(execution_ids)))}


def _statuses(db_url: str, execution_ids: list[str]) -> list[str]:
    with get_session_factory(db_url)() as db:
        return [db.get(Execution, i).status for i in execution_ids]


def _record(tenant_id: str, execution_id: str, node_id: str) -> StepRecord:
    return StepRecord(str(uuid.uuid4()), tenant_id, execution_id, node_id, StepStatus.RUNNING, started_at=utcnow())


async def _eventually(condition: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_steps_are_written_behind_and_the_rest_with_the_outcomes(platform_db_url):
    store = BatchStore(platform_db_url)
    batch_id, ids = _batch_of(platform_db_url, 2)
    work = await asyncio.to_thread(store.start, batch_id)
    assert [e.id for e in work.executions] == ids and _statuses(platform_db_url, ids) == ["running"] * 2
    tenant_id = work.executions[0].tenant_id
    writer = StepWriter(store)
    first = [_record(tenant_id, i, "say") for i in ids]

    writer.insert(first)  # the caller goes on; the rows arrive in the background
    await _eventually(lambda: len(_rows(platform_db_url, ids)) == 2)
    for record in first:
        record.status, record.attempts, record.output = StepStatus.COMPLETED, 1, {"message": "hi"}
    writer.update(first)
    first[0].output = {"message": "changed after it was queued"}  # rows are copied when queued
    await asyncio.to_thread(
        store.finish, {i: {"status": ExecutionStatus.COMPLETED, "error": None} for i in ids}, await writer.pending()
    )

    rows = _rows(platform_db_url, ids)
    assert {(r.status, r.attempts) for r in rows.values()} == {("completed", 1)}
    assert rows[first[0].id].output == {"message": "hi"}
    assert _statuses(platform_db_url, ids) == ["completed"] * 2


async def test_a_failed_background_write_fails_the_batch_end_and_nothing_after_it_is_written(platform_db_url):
    store = BatchStore(platform_db_url)
    batch_id, [execution_id] = _batch_of(platform_db_url, 1)
    work = await asyncio.to_thread(store.start, batch_id)
    tenant_id = work.executions[0].tenant_id
    writer = StepWriter(store)
    writer.insert([_record(tenant_id, str(uuid.uuid4()), "say")])  # no such execution
    await asyncio.sleep(1)  # the background write has failed by now

    writer.insert([_record(tenant_id, execution_id, "say")])
    with pytest.raises(IntegrityError):
        await writer.pending()
    assert _rows(platform_db_url, [execution_id]) == {}
    error = {"message": "Internal error", "hint": None, "retryable": False}
    await asyncio.to_thread(store.fail_unfinished, batch_id, ExecutionStatus.FAILED, error)
    assert _statuses(platform_db_url, [execution_id]) == ["failed"]


async def test_a_failed_write_left_for_the_batch_end_leaves_the_outcomes_unwritten(platform_db_url):
    store = BatchStore(platform_db_url)
    batch_id, [execution_id] = _batch_of(platform_db_url, 1)
    work = await asyncio.to_thread(store.start, batch_id)
    tenant_id = work.executions[0].tenant_id
    writer = StepWriter(store)
    writer.insert([_record(tenant_id, execution_id, "say"), _record(tenant_id, str(uuid.uuid4()), "say")])
    left = await writer.pending()  # taken before the background write started: now the batch end's to write
    with pytest.raises(IntegrityError):
        await asyncio.to_thread(
            store.finish, {execution_id: {"status": ExecutionStatus.COMPLETED, "error": None}}, left
        )
    assert _statuses(platform_db_url, [execution_id]) == ["running"]  # one transaction: nothing of it was kept
    assert _rows(platform_db_url, [execution_id]) == {}


DELAY_GRAPH = {
    "nodes": [
        {"id": "start", "type": "trigger.manual", "config": {}},
        {"id": "wait", "type": "logic.delay", "config": {"mode": "duration", "hours": 1}},
        {"id": "after", "type": "util.log", "config": {"message": "n={{ trigger.n }}"}},
    ],
    "edges": [{"id": "e1", "source": "start", "target": "wait"}, {"id": "e2", "source": "wait", "target": "after"}],
}


async def _run(store: BatchStore, batch_id: str) -> dict[str, dict[str, Any]]:
    """What the graph-interpreter flow does with a batch, with the in-process runner."""
    work = await asyncio.to_thread(store.start, batch_id)
    writer = StepWriter(store)
    router = BatchRouter(
        plan=compile_plan(Graph.model_validate(work.graph)),
        runner=inline_runner(LOG),
        sink=writer,
        settings=ExecutionSettings(),
        alert=_no_alert,
        logger=LOG,
    )
    outcomes = await router.run(work.executions)
    await asyncio.to_thread(store.finish, outcomes, await writer.pending())
    return outcomes


async def _no_alert(**_: Any) -> None:
    raise AssertionError("nothing failed")


async def test_a_wait_stored_by_one_batch_is_resumed_by_the_next_from_the_stored_rows(platform_db_url):
    store = BatchStore(platform_db_url)
    batch_id, ids = _batch_of(platform_db_url, 2, DELAY_GRAPH)
    await _run(store, batch_id)
    assert _statuses(platform_db_url, ids) == ["waiting"] * 2
    with get_session_factory(platform_db_url)() as db:
        waiting = db.get(Execution, ids[0])
        assert waiting.waiting_node_id == "wait" and waiting.resume_at > utcnow()

    with get_session_factory(platform_db_url).begin() as db:  # the delay is over and a dispatcher batched them
        later = Batch(
            tenant_id=waiting.tenant_id, workflow_id=waiting.workflow_id, version=1, deployment_id=waiting.deployment_id
        )
        db.add(later)
        db.flush()
        db.execute(
            update(Execution).where(Execution.id.in_(ids)).values(status=ExecutionStatus.BATCHED, batch_id=later.id)
        )
        later_id = later.id
    await _run(store, later_id)

    assert _statuses(platform_db_url, ids) == ["completed"] * 2
    rows = [r for r in _rows(platform_db_url, ids).values() if r.execution_id == ids[1]]
    by_node = {r.node_id: r for r in rows}
    assert sorted(by_node) == ["after", "start", "wait"] and len(rows) == 3  # no step ran twice
    assert by_node["wait"].status == "completed" and "resumed_at" in by_node["wait"].output
    assert by_node["after"].output == {"message": "n=1"}


# --- a crashed batch: its executions resume from their stored steps ---------------------------------------------

THREE_STEPS = {
    "nodes": [
        {"id": "start", "type": "trigger.manual", "config": {}},
        {"id": "first", "type": "util.log", "config": {"message": "first {{ trigger.n }}"}},
        {"id": "second", "type": "util.log", "config": {"message": "second {{ trigger.n }}"}},
    ],
    "edges": [{"id": "e1", "source": "start", "target": "first"}, {"id": "e2", "source": "first", "target": "second"}],
}


def _into_new_batch(db_url: str, execution_ids: list[str]) -> str:
    """What the dispatcher does with queued executions: a new batch."""
    with get_session_factory(db_url).begin() as db:
        one = db.get(Execution, execution_ids[0])
        batch = Batch(tenant_id=one.tenant_id, workflow_id=one.workflow_id, version=1, deployment_id=one.deployment_id)
        db.add(batch)
        db.flush()
        db.execute(
            update(Execution)
            .where(Execution.id.in_(execution_ids), Execution.status == ExecutionStatus.QUEUED)
            .values(status=ExecutionStatus.BATCHED, batch_id=batch.id)
        )
        return batch.id


async def _crash_after_first_step(store: BatchStore, batch_id: str) -> dict[str, str]:
    """A batch whose worker died while its second step ran: the first one's rows are stored, the second one's
    are `running`. Returns the first step's row id by execution."""
    work = await asyncio.to_thread(store.start, batch_id)
    writer = StepWriter(store)
    first = {}
    for execution in work.executions:
        done = [_record(execution.tenant_id, execution.id, node) for node in ("start", "first")]
        for record in done:
            record.status, record.ended_at = StepStatus.COMPLETED, utcnow()
        writer.insert([*done, _record(execution.tenant_id, execution.id, "second")])
        first[execution.id] = done[1].id
    await writer.flush()
    return first


async def test_a_crashed_batch_resumes_from_its_stored_steps_running_none_twice(platform_db_url):
    store = BatchStore(platform_db_url)
    batch_id, ids = _batch_of(platform_db_url, 2, THREE_STEPS)
    first_rows = await _crash_after_first_step(store, batch_id)

    outcome = await asyncio.to_thread(store.resume_unfinished, batch_id, most=3, reason="The worker died")
    assert outcome == {"resumed": 2, "failed": 0}
    assert _statuses(platform_db_url, ids) == ["queued"] * 2
    await _run(store, _into_new_batch(platform_db_url, ids))

    assert _statuses(platform_db_url, ids) == ["completed"] * 2
    rows = _rows(platform_db_url, ids).values()
    for execution_id in ids:
        mine = {r.node_id: r for r in rows if r.execution_id == execution_id}
        assert (
            sorted(mine) == ["first", "second", "start"]
            and len([r for r in rows if r.execution_id == execution_id]) == 3
        )
        assert mine["first"].id == first_rows[execution_id]  # the stored step was not run again
        assert mine["second"].status == "completed"
    with get_session_factory(platform_db_url)() as db:
        assert db.get(Execution, ids[0]).resumptions == 1


async def test_an_execution_resumed_its_most_times_fails_with_the_reason(platform_db_url):
    store = BatchStore(platform_db_url)
    batch_id, [execution_id] = _batch_of(platform_db_url, 1, THREE_STEPS)
    await _crash_after_first_step(store, batch_id)
    assert await asyncio.to_thread(store.resume_unfinished, batch_id, most=1, reason="The worker died") == {
        "resumed": 1,
        "failed": 0,
    }
    again = _into_new_batch(platform_db_url, [execution_id])
    await asyncio.to_thread(store.start, again)  # and its worker dies again
    assert await asyncio.to_thread(store.resume_unfinished, again, most=1, reason="The worker died") == {
        "resumed": 0,
        "failed": 1,
    }

    assert _statuses(platform_db_url, [execution_id]) == ["failed"]
    with get_session_factory(platform_db_url)() as db:
        error = db.get(Execution, execution_id).error
    assert error["message"] == "The worker died; it was already resumed 1 times, so it was not resumed again."


async def test_a_flow_run_not_the_batchs_resumes_nothing(platform_db_url):
    store = BatchStore(platform_db_url)
    batch_id, ids = _batch_of(platform_db_url, 1, THREE_STEPS)
    await _crash_after_first_step(store, batch_id)
    forged = await asyncio.to_thread(
        store.resume_unfinished, batch_id, most=3, reason="x", deployment_id=str(uuid.uuid4()), flow_run_id="f"
    )
    assert forged == {}
    assert _statuses(platform_db_url, ids) == ["running"]


@pytest.mark.parametrize(
    ("ended", "then"),
    [(StateType.CRASHED, "queued"), (StateType.FAILED, "queued"), (StateType.CANCELLED, "cancelled")],
)
async def test_a_batch_whose_flow_run_ended_resumes_or_ends_what_it_left(platform_db_url, ended, then):
    """Crashed (a dead worker) or Failed while executions were still running (the interpreter could not even
    record their failure: the database was away): they resume. Cancelled: they end cancelled."""
    store = BatchStore(platform_db_url)
    batch_id, ids = _batch_of(platform_db_url, 2, THREE_STEPS)
    await asyncio.to_thread(store.start, batch_id)
    run = FlowRun(flow_id=uuid.uuid4(), state_type=ended, state=State(type=ended, name=ended.value.title()))
    await asyncio.to_thread(resume_or_end, store, batch_id, run, 3)
    assert _statuses(platform_db_url, ids) == [then] * 2


# --- the platform database goes away under a step: the batch is interrupted, not failed ----------------------


async def test_a_step_that_loses_the_platform_database_interrupts_the_batch_which_resumes(platform_db_url, monkeypatch):
    store = BatchStore(platform_db_url)
    batch_id, ids = _batch_of(platform_db_url, 2, THREE_STEPS)
    invoke = steps._invoke

    async def database_restarts_under_second(plan: Any, node_id: str, work: Any, ctx: Any) -> Any:
        if node_id == "second":  # as psycopg says it when PostgreSQL restarts under a query
            raise OperationalError("INSERT INTO side_effects ...", {}, Exception("server closed the connection"))
        return await invoke(plan, node_id, work, ctx)

    monkeypatch.setattr(steps, "_invoke", database_restarts_under_second)
    with pytest.raises(PlatformDatabaseAway) as interrupted:
        await _run(store, batch_id)
    await asyncio.to_thread(end_unfinished, store, batch_id, interrupted.value, 3, None, None)  # the flow's except
    assert _statuses(platform_db_url, ids) == ["queued"] * 2  # not failed: they resume

    monkeypatch.setattr(steps, "_invoke", invoke)  # the database is back
    await _run(store, _into_new_batch(platform_db_url, ids))
    assert _statuses(platform_db_url, ids) == ["completed"] * 2
    with get_session_factory(platform_db_url)() as db:
        assert [db.get(Execution, i).resumptions for i in ids] == [1, 1]


async def test_any_other_fault_of_the_interpreter_fails_what_the_batch_left(platform_db_url):
    store = BatchStore(platform_db_url)
    batch_id, ids = _batch_of(platform_db_url, 1, THREE_STEPS)
    await asyncio.to_thread(store.start, batch_id)
    await asyncio.to_thread(end_unfinished, store, batch_id, KeyError("plan"), 3, None, None)
    assert _statuses(platform_db_url, ids) == ["failed"]
    with get_session_factory(platform_db_url)() as db:
        assert db.get(Execution, ids[0]).error["message"] == "Internal error while running the workflow: 'plan'"
