"""The `graph-interpreter` Prefect flow: runs one batch of executions of one workflow version.

Each node is one Prefect task run per batch, over the executions that reached it, except the trigger:
it only passes each execution's input on, so it is settled in the flow itself (a task run costs the
Prefect server 70-100 ms of CPU and the execution a few more round trips for nothing). The batch's
executions are loaded and marked running in one transaction, and step rows are written behind the
steps (`StepWriter`): a node does not wait for the database before the next one starts, and the rows
still queued at the end are written with the executions' outcomes, in one transaction. Nodes whose
predecessors have all finished run concurrently, so parallel branches run at the same time.
A retry of the failed subset is a new task run of the same node. Results are written per
execution, in bulk. An execution that reaches a delay or an approval leaves the batch
(status `waiting`); a later batch resumes it from the step results stored in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.settings import get_current_settings
from prefect.utilities.annotations import quote
from pydantic import ValidationError

from core.errors import Permanent, StepFailure
from core.settings import ExecutionSettings, get_settings
from flow_factory.expressions import render_value
from flow_factory.graph import Graph
from flow_factory.nodes import get_node_type
from flow_factory.nodes.base import NodeResult, NodeType, StepContext, Wait
from flow_factory.plan import ExecutionPlan, compile_plan
from flow_factory.redact import redact
from notifications.alerts import notify_step_failed
from store import utcnow
from store.batches import BatchStore, QueuedExecution, StepRecord, StepWriter

FLOW_NAME = "graph-interpreter"
ENTRYPOINT = "flow_factory.interpreter.graph_interpreter"
ERROR_HANDLE = "error"
MERGE_TYPE, LOOP_TYPE, LOOP_EACH = "logic.merge", "logic.loop", "each"
FINISHED = ("completed", "failed")


@dataclass
class ExecutionRun:
    """One execution's progress through the graph in this batch; inside a loop body, one item's."""

    queued: QueuedExecution
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    taken_edges: set[str] = field(default_factory=set)
    settled: set[str] = field(default_factory=set)
    finish_order: list[str] = field(default_factory=list)
    records: dict[str, StepRecord] = field(default_factory=dict)  # earlier steps, by node id
    error: dict[str, Any] | None = None
    wait: tuple[str, Wait] | None = None
    item: tuple[int, Any] | None = None

    @property
    def id(self) -> str:
        return self.queued.id

    @property
    def item_index(self) -> int | None:
        return self.item[0] if self.item else None

    def context(self) -> dict[str, Any]:
        context = {"trigger": self.queued.input, "steps": self.steps,
                   "execution": {"id": self.id, "mode": self.queued.mode}}
        if self.item:
            context["loop"] = {"index": self.item[0], "item": self.item[1]}
        return context

    def reached(self, plan: ExecutionPlan, node_id: str) -> bool:
        if self.error is not None or self.wait is not None or node_id in self.settled:
            return False
        return node_id == plan.trigger_id or any(edge.id in self.taken_edges for edge in plan.incoming[node_id])

    def settle(self, plan: ExecutionPlan, record: StepRecord) -> None:
        """Route a finished step: its handle's edges, the error path, or a failed run."""
        node_id = record.node_id
        self.settled.add(node_id)
        self.finish_order.append(node_id)
        self.steps[node_id] = {"output": record.output}
        if record.status == "completed":
            self.taken_edges.update(edge.id for edge in plan.next_edges(node_id, record.handle))
            return
        self.steps[node_id]["error"] = record.error
        error_edges = plan.next_edges(node_id, ERROR_HANDLE)
        if error_edges:
            self.taken_edges.update(edge.id for edge in error_edges)
        else:
            self.error = {"node_id": node_id, **(record.error or {})}

    def item_run(self, plan: ExecutionPlan, loop_id: str, index: int, value: Any) -> "ExecutionRun":
        each = {edge.id for edge in plan.next_edges(loop_id, LOOP_EACH)}
        return ExecutionRun(self.queued, steps=dict(self.steps), taken_edges=set(each), item=(index, value))


def restore(queued: QueuedExecution, plan: ExecutionPlan) -> ExecutionRun:
    """Rebuild an execution's progress from its stored steps (after a delay or an approval)."""
    run = ExecutionRun(queued)
    ordered = sorted((r for r in queued.earlier_steps if r.item_index is None), key=lambda r: r.started_at or utcnow())
    for record in ordered:
        if record.status in FINISHED:
            run.settle(plan, record)
        elif record.status == "waiting":
            run.records[record.node_id] = record
    return run


class _ExecutionLog(logging.LoggerAdapter):
    def process(self, msg, kwargs):
        return f"[run {self.extra['execution_id']}] [{self.extra['node_id']}] {msg}", kwargs


@dataclass
class StepOutcome:
    record: StepRecord
    retryable: bool = False
    retry_after: float | None = None


def _step_context(run: ExecutionRun, plan: ExecutionPlan, node_id: str, logger, extra: dict[str, Any]) -> StepContext:
    context = {**run.context(), **extra}
    if plan.nodes[node_id].type == MERGE_TYPE:
        incoming = {edge.source for edge in plan.incoming[node_id] if edge.id in run.taken_edges}
        context["arrived"] = [(n, run.steps[n]["output"]) for n in run.finish_order if n in incoming]
    log = _ExecutionLog(logger, {"execution_id": run.id, "node_id": node_id})
    return StepContext(run.id, run.queued.tenant_id, node_id, run.queued.mode, log, run.queued.time_zone, context)


def _validated_config(node_type: NodeType, rendered: Any) -> Any:
    try:
        return node_type.config_model.model_validate(rendered)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "config"
        raise Permanent(
            f"After filling in expressions, config.{where} is invalid: {first['msg']}",
            hint="Check the expression feeding this field and the values it received.",
        ) from None


async def _invoke(node: Any, node_type: NodeType, run: ExecutionRun, record: StepRecord, ctx: StepContext) -> NodeResult:
    if node_type.is_trigger:
        record.input = redact(run.queued.input)
        return NodeResult(output=run.queued.input)
    if record.status == "waiting" and node_type.resume:  # its wait is over
        return await node_type.resume(record.output, ctx)
    rendered = render_value(node.config, run.context())
    record.input = redact(rendered)
    result = await node_type.run(_validated_config(node_type, rendered), ctx)
    return result if isinstance(result, NodeResult) else NodeResult(output=result)


async def _run_step(plan: ExecutionPlan, node_id: str, run: ExecutionRun, record: StepRecord, logger,
                    extra: dict[str, Any]) -> StepOutcome:
    node, node_type = plan.nodes[node_id], get_node_type(plan.nodes[node_id].type)
    ctx = _step_context(run, plan, node_id, logger, extra)
    record.attempts += 1
    try:
        result = await _invoke(node, node_type, run, record, ctx)
    except StepFailure as exc:
        record.status, record.error, record.ended_at = "failed", exc.as_dict(), utcnow()
        record.decision = exc.details.get("decision")
        record.handle = ERROR_HANDLE if plan.next_edges(node_id, ERROR_HANDLE) else None
        ctx.logger.warning("failed (attempt %s): %s", record.attempts, exc.message)
        return StepOutcome(record, retryable=exc.retryable, retry_after=exc.retry_after)
    except Exception as exc:  # a bug in a node must fail its step, not the batch
        ctx.logger.exception("unexpected error")
        record.status, record.ended_at = "failed", utcnow()
        record.error = {"message": f"Unexpected error: {str(exc) or type(exc).__name__}", "hint": "Report this to support.", "retryable": False}
        record.handle = ERROR_HANDLE if plan.next_edges(node_id, ERROR_HANDLE) else None
        return StepOutcome(record)
    record.output, record.error, record.handle, record.decision = redact(result.output), None, result.handle, result.decision
    if result.wait and result.wait.until > datetime.now(timezone.utc):
        record.status = "waiting"
        run.wait = (node_id, result.wait)
    else:
        record.status, record.ended_at = "completed", utcnow()
    return StepOutcome(record)


@task(task_run_name="{node_id}", cache_policy=NO_CACHE, persist_result=False)
async def run_node(node_id: str, attempt: int, work: list[tuple[ExecutionRun, StepRecord, dict]],
                   plan: ExecutionPlan, limits: dict[str, int]) -> list[StepOutcome]:
    """One node over every execution (or loop item) of the batch that reached it."""
    logger = get_run_logger()
    semaphores = {key: asyncio.Semaphore(limit) for key, limit in limits.items()}

    async def one(run: ExecutionRun, record: StepRecord, extra: dict) -> StepOutcome:
        async with semaphores.get(run.id, semaphores["*"]):
            return await _run_step(plan, node_id, run, record, logger, extra)

    return list(await asyncio.gather(*(one(*item) for item in work)))


def _store() -> BatchStore:
    return BatchStore(get_settings().platform_database_url)


_step_writer: contextvars.ContextVar[StepWriter | None] = contextvars.ContextVar("flowyard_step_writer", default=None)


def _retry_delay(settings: ExecutionSettings, attempt: int, outcomes: list[StepOutcome]) -> float:
    backoff = min(settings.retry_max_seconds, settings.retry_base_seconds * 2 ** (attempt - 1))
    jittered = backoff * random.uniform(0.5, 1.0)
    asked = max((o.retry_after or 0.0) for o in outcomes)
    return min(settings.retry_max_seconds, max(jittered, asked))


def _records_for(node_id: str, runs: list[ExecutionRun]) -> tuple[dict[tuple, StepRecord], list[StepRecord]]:
    """Each run's record for this node: the stored one when resuming a wait, else a new one."""
    records, new = {}, []
    for run in runs:
        record = run.records.pop(node_id, None) if run.item is None else None
        if record is None:
            record = StepRecord(str(uuid.uuid4()), run.queued.tenant_id, run.id, node_id, "running",
                                item_index=run.item_index, started_at=utcnow())
            new.append(record)
        records[(run.id, run.item_index)] = record
    return records, new


async def _run_node_with_retries(plan: ExecutionPlan, node_id: str, runs: list[ExecutionRun],
                                 extras: dict[tuple, dict] | None = None, limits: dict[str, int] | None = None) -> None:
    settings = get_settings().execution
    records, new = _records_for(node_id, runs)
    writer = _step_writer.get() or StepWriter(_store())  # the batch's, or (outside a batch) one of its own
    writer.insert(new)
    limits = {"*": settings.step_concurrency, **(limits or {})}
    pending, attempt = runs, 1
    while pending:
        work = [(run, records[(run.id, run.item_index)], (extras or {}).get((run.id, run.item_index), {}))
                for run in pending]
        outcomes = await run_node(node_id, attempt, quote(work), quote(plan), limits)
        writer.update([o.record for o in outcomes])
        retry = {(o.record.execution_id, o.record.item_index): o for o in outcomes
                 if o.record.status == "failed" and o.retryable and attempt < settings.max_attempts}
        for run in pending:
            record = records[(run.id, run.item_index)]
            if (run.id, run.item_index) not in retry and record.status != "waiting":
                run.settle(plan, record)
                await _alert_if_final_failure(run, record)
        if retry:
            await asyncio.sleep(_retry_delay(settings, attempt, list(retry.values())))
        pending, attempt = [run for run in pending if (run.id, run.item_index) in retry], attempt + 1
    if _step_writer.get() is not writer:
        await writer.flush()


async def _alert_if_final_failure(run: ExecutionRun, record: StepRecord) -> None:
    """Tell the tenant's admins when a live step failed for good: its last retry failed, or the failure
    ends the run. A failure the workflow handles on its error path at the first attempt is not news."""
    if run.queued.mode != "live" or record.status != "failed":
        return
    if (record.error or {}).get("retryable") or run.error is not None:
        await notify_step_failed(tenant_id=run.queued.tenant_id, execution_id=run.id, node_id=record.node_id,
                                 error=record.error)


async def _run_loop(plan: ExecutionPlan, loop_id: str, runs: list[ExecutionRun]) -> None:
    """Run the body once per item of every execution that reached the loop, then the loop node itself."""
    node = plan.nodes[loop_id]
    item_runs: dict[str, list[ExecutionRun]] = {}
    limits: dict[str, int] = {}
    extras: dict[tuple, dict] = {}
    for run in runs:
        try:
            config = _validated_config(get_node_type(node.type), render_value(node.config, run.context()))
        except StepFailure as exc:  # the loop step fails with this; its items never run
            extras[(run.id, None)] = {"loop_error": exc.as_dict()}
            continue
        item_runs[run.id] = [run.item_run(plan, loop_id, i, item) for i, item in enumerate(config.items)]
        limits[run.id] = config.concurrency
        if len(config.items) > config.max_items:
            extras[(run.id, None)] = {"loop_error": {
                "message": f"the list has {len(config.items)} items; this loop allows {config.max_items}",
                "hint": "raise max_items or filter the list first"}}
            item_runs[run.id] = []
    await _schedule(plan, plan.loop_bodies[loop_id], [r for items in item_runs.values() for r in items], limits)
    for run in runs:
        results = [_item_result(plan, loop_id, item) for item in item_runs.get(run.id, [])]
        extras.setdefault((run.id, None), {})["loop_results"] = results
    await _run_node_with_retries(plan, loop_id, runs, extras)


def _item_result(plan: ExecutionPlan, loop_id: str, item: ExecutionRun) -> dict[str, Any]:
    body = plan.loop_bodies[loop_id]
    last = next((n for n in reversed(item.finish_order) if n in body), None)
    output = item.steps[last]["output"] if last else None
    return {"index": item.item_index, "status": "failed" if item.error else "completed",
            "output": output, "error": item.error}


async def _schedule(plan: ExecutionPlan, node_ids: list[str], runs: list[ExecutionRun],
                    limits: dict[str, int] | None = None) -> None:
    """Run each node once all its predecessors in this scope have finished; independent nodes concurrently."""
    done = {node_id: asyncio.Event() for node_id in node_ids}

    async def drive(node_id: str) -> None:
        await asyncio.gather(*(done[p].wait() for p in plan.predecessors(node_id) if p in done))
        reached = [run for run in runs if run.reached(plan, node_id)]
        try:
            if reached and plan.nodes[node_id].type == LOOP_TYPE:
                await _run_loop(plan, node_id, reached)
            elif reached:
                await _run_node_with_retries(plan, node_id, reached, limits=limits)
        finally:
            done[node_id].set()

    await asyncio.gather(*(drive(node_id) for node_id in node_ids))


async def _pass_trigger(plan: ExecutionPlan, runs: list[ExecutionRun]) -> list[StepRecord]:
    """The trigger step of every run that starts here (not one resuming after a wait), settled in the flow
    without a task run; returns its step records for the caller to write."""
    starting = [run for run in runs if run.reached(plan, plan.trigger_id)]
    if not starting:
        return []
    records, _ = _records_for(plan.trigger_id, starting)
    logger = get_run_logger()
    for run in starting:
        record = records[(run.id, run.item_index)]
        await _run_step(plan, plan.trigger_id, run, record, logger, {})
        run.settle(plan, record)
        await _alert_if_final_failure(run, record)
    return list(records.values())


def _outcome(run: ExecutionRun) -> dict[str, Any]:
    if run.error:
        return {"status": "failed", "error": run.error}
    if run.wait:
        node_id, wait = run.wait
        return {"status": "waiting", "resume_at": wait.until, "waiting_node_id": node_id}
    return {"status": "completed", "error": None}


def _on_crash_or_cancel(status: str, message: str):
    def hook(flow, flow_run, state) -> None:
        batch_id = (flow_run.parameters or {}).get("batch_id")
        if batch_id:
            _store().fail_unfinished(batch_id, status, {"message": message, "hint": None, "retryable": False})

    return hook


@flow(
    name=FLOW_NAME,
    persist_result=False,
    # nothing is persisted, but without a storage of its own the engine asks the server for its default
    # result storage at every flow run (a blocking call); a local path costs no call
    result_storage=Path(get_current_settings().results.local_storage_path),
    on_crashed=[_on_crash_or_cancel("failed", "The worker running this run stopped unexpectedly.")],
    on_cancellation=[_on_crash_or_cancel("cancelled", "The run was cancelled.")],
)
async def graph_interpreter(batch_id: str = "", workflow_id: str = "") -> dict[str, int]:
    """Run every execution of one batch through its workflow graph; or, fired by a schedule, queue one."""
    store = _store()
    if not batch_id:
        scheduled_at = flow_run.scheduled_start_time or datetime.now(timezone.utc)
        outcome = await asyncio.to_thread(store.enqueue_tick, workflow_id, flow_run.id, scheduled_at)
        return {outcome: 1}
    work = await asyncio.to_thread(store.start, batch_id)  # loaded and marked running
    if not work.executions:
        return {}
    writer = StepWriter(store)
    token = _step_writer.set(writer)
    try:
        plan = compile_plan(Graph.model_validate(work.graph))
        runs = [restore(queued, plan) for queued in work.executions]
        writer.insert(await _pass_trigger(plan, runs))
        await _schedule(plan, plan.top_level(), runs)
        outcomes = {run.id: _outcome(run) for run in runs}
        await asyncio.to_thread(store.finish, outcomes, await writer.pending())
    except Exception as exc:
        with contextlib.suppress(Exception):  # what the finished steps wrote, before failing what did not finish
            await writer.flush()
        error = {"message": f"Internal error while running the workflow: {exc}", "hint": None, "retryable": False}
        await asyncio.to_thread(store.fail_unfinished, batch_id, "failed", error)
        raise
    finally:
        _step_writer.reset(token)
    counts: dict[str, int] = {}
    for outcome in outcomes.values():
        counts[outcome["status"]] = counts.get(outcome["status"], 0) + 1
    return counts
