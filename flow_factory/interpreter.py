"""The `graph-interpreter` Prefect flow: runs one batch of executions of one workflow version.

Each node is one Prefect task run per batch, over the executions that reached it. A retry of
the failed subset is a new task run of the same node. Results are written per execution, in bulk.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote
from pydantic import ValidationError

from flow_factory.batch_store import BatchStore, QueuedExecution, StepRecord
from flow_factory.expressions import render_value
from flow_factory.graph import Graph
from flow_factory.nodes import get_node_type
from flow_factory.nodes.base import NodeType, StepContext, StepError
from flow_factory.plan import ExecutionPlan, compile_plan
from flow_factory.redact import redact
from flowyard.settings import ExecutionSettings, get_settings
from store.models import utcnow

FLOW_NAME = "graph-interpreter"
ENTRYPOINT = "flow_factory.interpreter.graph_interpreter"
ERROR_HANDLE = "error"


@dataclass
class ExecutionRun:
    """One execution's progress through the graph within this batch."""

    queued: QueuedExecution
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    taken_edges: set[str] = field(default_factory=set)
    error: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return self.queued.id

    def context(self) -> dict[str, Any]:
        return {
            "trigger": self.queued.input,
            "steps": self.steps,
            "execution": {"id": self.id, "mode": self.queued.mode},
        }

    def reached(self, plan: ExecutionPlan, node_id: str) -> bool:
        if self.error is not None:
            return False
        if node_id == plan.trigger_id:
            return True
        return any(edge.id in self.taken_edges for edge in plan.incoming[node_id])


@dataclass
class StepOutcome:
    record: StepRecord
    retryable: bool = False
    retry_after: float | None = None


class _ExecutionLog(logging.LoggerAdapter):
    def process(self, msg, kwargs):
        return f"[run {self.extra['execution_id']}] [{self.extra['node_id']}] {msg}", kwargs


async def _run_step(node: Any, node_type: NodeType, run: ExecutionRun, record: StepRecord, logger) -> StepOutcome:
    record.attempts += 1
    record.started_at = record.started_at or utcnow()
    ctx = StepContext(run.id, run.queued.tenant_id, node.id, run.queued.mode, _ExecutionLog(logger, {
        "execution_id": run.id, "node_id": node.id}))
    try:
        if node_type.is_trigger:
            record.input, output = run.queued.input, run.queued.input
        else:
            rendered = render_value(node.config, run.context())
            record.input = redact(rendered)
            output = await node_type.run(_validated_config(node_type, rendered), ctx)
    except StepError as exc:
        record.status, record.error, record.ended_at = "failed", exc.as_dict(), utcnow()
        ctx.logger.warning("failed (attempt %s): %s", record.attempts, exc.message)
        return StepOutcome(record, retryable=exc.retryable, retry_after=exc.retry_after)
    except Exception as exc:  # a bug in a node must fail its step, not the batch
        ctx.logger.exception("unexpected error")
        record.status, record.ended_at = "failed", utcnow()
        record.error = {"message": f"Unexpected error: {exc}", "hint": "Report this to support.", "retryable": False}
        return StepOutcome(record)
    record.status, record.output, record.error, record.ended_at = "completed", redact(output), None, utcnow()
    record.handle = "default"
    return StepOutcome(record)


def _validated_config(node_type: NodeType, rendered: Any) -> Any:
    try:
        return node_type.config_model.model_validate(rendered)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "config"
        raise StepError(
            f"After filling in expressions, config.{where} is invalid: {first['msg']}",
            hint="Check the expression feeding this field and the values it received.",
        ) from None


@task(task_run_name="{node_id}", cache_policy=NO_CACHE, persist_result=False)
async def run_node(node_id: str, node_type: str, attempt: int, work: list[tuple[ExecutionRun, StepRecord]],
                   plan: ExecutionPlan, concurrency: int) -> list[StepOutcome]:
    """One node over every execution of the batch that reached it."""
    logger = get_run_logger()
    node, declared = plan.nodes[node_id], get_node_type(node_type)
    limit = asyncio.Semaphore(concurrency)

    async def one(run: ExecutionRun, record: StepRecord) -> StepOutcome:
        async with limit:
            return await _run_step(node, declared, run, record, logger)

    outcomes = await asyncio.gather(*(one(run, record) for run, record in work))
    await asyncio.to_thread(_store().update_steps, [o.record for o in outcomes])
    return list(outcomes)


def _store() -> BatchStore:
    return BatchStore(get_settings().platform_database_url)


def _retry_delay(settings: ExecutionSettings, attempt: int, outcomes: list[StepOutcome]) -> float:
    backoff = min(settings.retry_max_seconds, settings.retry_base_seconds * 2 ** (attempt - 1))
    jittered = backoff * random.uniform(0.5, 1.0)
    asked = max((o.retry_after or 0.0) for o in outcomes)
    return min(settings.retry_max_seconds, max(jittered, asked))


def _apply(plan: ExecutionPlan, node_id: str, run: ExecutionRun, record: StepRecord) -> None:
    """Route one finished step: the default path on success, the error path or a failed run otherwise."""
    if record.status == "completed":
        run.steps[node_id] = {"output": record.output}
        run.taken_edges.update(edge.id for edge in plan.next_edges(node_id, None))
        return
    error_edges = plan.next_edges(node_id, ERROR_HANDLE)
    run.steps[node_id] = {"output": None, "error": record.error}
    if error_edges:
        record.handle = ERROR_HANDLE
        run.taken_edges.update(edge.id for edge in error_edges)
    else:
        run.error = {"node_id": node_id, **(record.error or {})}


async def _run_node_with_retries(plan: ExecutionPlan, node_id: str, runs: list[ExecutionRun]) -> None:
    settings = get_settings().execution
    node = plan.nodes[node_id]
    records = {
        run.id: StepRecord(str(uuid.uuid4()), run.queued.tenant_id, run.id, node_id, "running", started_at=utcnow())
        for run in runs
    }
    await asyncio.to_thread(_store().insert_steps, list(records.values()))
    pending, attempt = runs, 1
    while pending:
        work = [(run, records[run.id]) for run in pending]
        outcomes = await run_node(node_id, node.type, attempt, quote(work), quote(plan), settings.step_concurrency)
        retry = [o for o in outcomes if o.record.status == "failed" and o.retryable and attempt < settings.max_attempts]
        retry_ids = {o.record.execution_id for o in retry}
        for run in pending:
            if run.id not in retry_ids:
                _apply(plan, node_id, run, records[run.id])
        if retry:
            await asyncio.sleep(_retry_delay(settings, attempt, retry))
        pending, attempt = [run for run in pending if run.id in retry_ids], attempt + 1


def _on_crash_or_cancel(status: str, message: str):
    def hook(flow, flow_run, state) -> None:
        batch_id = (flow_run.parameters or {}).get("batch_id")
        if batch_id:
            _store().fail_unfinished(batch_id, status, {"message": message, "hint": None, "retryable": False})

    return hook


@flow(
    name=FLOW_NAME,
    persist_result=False,
    on_crashed=[_on_crash_or_cancel("failed", "The worker running this run stopped unexpectedly.")],
    on_cancellation=[_on_crash_or_cancel("cancelled", "The run was cancelled.")],
)
async def graph_interpreter(batch_id: str) -> dict[str, int]:
    """Run every execution of one batch through its workflow graph."""
    store = _store()
    work = await asyncio.to_thread(store.load, batch_id)
    if not work.executions:
        return {"completed": 0, "failed": 0}
    runs = [ExecutionRun(queued) for queued in work.executions]
    try:
        plan = compile_plan(Graph.model_validate(work.graph))
        await asyncio.to_thread(store.mark_running, [run.id for run in runs])
        for node_id in plan.order:
            reached = [run for run in runs if run.reached(plan, node_id)]
            if reached:
                await _run_node_with_retries(plan, node_id, reached)
    except Exception as exc:
        error = {"message": f"Internal error while running the workflow: {exc}", "hint": None, "retryable": False}
        await asyncio.to_thread(store.fail_unfinished, batch_id, "failed", error)
        raise
    outcomes = {run.id: ("failed" if run.error else "completed", run.error) for run in runs}
    await asyncio.to_thread(store.finish, outcomes)
    failed = sum(1 for status, _ in outcomes.values() if status == "failed")
    return {"completed": len(runs) - failed, "failed": failed}
