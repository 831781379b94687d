"""Running one node for the executions of a batch that reached it: render its config, check it, call the
node type, and record what happened on each execution's step record.

This is what a step runner (`flow_factory.routing.StepRunner`) runs: in production inside one Prefect
task run per node (`flow_factory.interpreter.run_node`), in tests as a plain coroutine. Whatever a node
raises fails its step, never the batch, but for the platform database going away under it
(`PlatformDatabaseAway`): that interrupts the batch, whose executions resume from their stored steps.
The step's record keeps the whole error; the log (Prefect's) says only the node type, the attempt and the
error's class and kind, never a payload.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.errors import ErrorKind, Permanent, StepFailure, docs_url
from core.payload_free import PlatformDatabaseAway, failure_class, is_database_away
from flow_factory.expressions import render_value
from flow_factory.nodes import get_node_type
from flow_factory.nodes.base import NodeResult, NodeType, StepContext
from flow_factory.plan import ExecutionPlan
from flow_factory.progress import ERROR_HANDLE, ExecutionRun
from flow_factory.redact import redact
from store import StepStatus, utcnow
from store.batches import StepRecord

MERGE_TYPE = "logic.merge"
ANY_EXECUTION = "*"  # the key of `NodeCall.limits` that applies to executions without a limit of their own

Logger = logging.Logger | logging.LoggerAdapter[Any]  # in production, Prefect's run logger (an adapter)


@dataclass
class StepWork:
    """One execution (or loop item) to run the node for: its progress, its step record, and what the
    routing adds to the step's context (a loop's per-item results)."""

    run: ExecutionRun
    record: StepRecord
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NodeCall:
    """One node over the executions that reached it; `attempt` counts the retries of the failed subset."""

    plan: ExecutionPlan
    node_id: str
    attempt: int
    work: list[StepWork]
    limits: dict[str, int]  # steps at once: per execution id (a loop's items), else ANY_EXECUTION


@dataclass
class StepOutcome:
    record: StepRecord
    retryable: bool = False
    retry_after: float | None = None


class ExecutionLog(logging.LoggerAdapter[Logger]):
    """Prefixes each line with the execution and the node, so one run's lines can be found in a batch's log."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        extra = self.extra or {}
        return f"[run {extra['execution_id']}] [{extra['node_id']}] {msg}", kwargs


def node_type_of(plan: ExecutionPlan, node_id: str) -> NodeType:
    node_type = get_node_type(plan.nodes[node_id].type)
    if node_type is None:  # saved by an older Flowyard that had it
        raise Permanent(
            f"Unknown node type {plan.nodes[node_id].type!r}.",
            hint="Replace this step with one of the current node types.",
        )
    return node_type


async def run_node_call(call: NodeCall, *, logger: Logger) -> list[StepOutcome]:
    """Every step of the call, concurrently within its limits; outcomes in the order of `call.work`."""
    semaphores = {key: asyncio.Semaphore(limit) for key, limit in call.limits.items()}

    async def one(work: StepWork) -> StepOutcome:
        async with semaphores.get(work.run.id, semaphores[ANY_EXECUTION]):
            return await run_step(call.plan, call.node_id, work, logger=logger)

    return list(await asyncio.gather(*(one(work) for work in call.work)))


async def run_step(plan: ExecutionPlan, node_id: str, work: StepWork, *, logger: Logger) -> StepOutcome:
    """Run the node for one execution and record the result on `work.record`; never raises."""
    run, record = work.run, work.record
    ctx = _step_context(plan, node_id, work, logger)
    record.attempts += 1
    try:
        result = await _invoke(plan, node_id, work, ctx)
    except StepFailure as exc:
        record.status, record.error, record.ended_at = StepStatus.FAILED, exc.as_dict(), utcnow()
        record.decision = exc.details.get("decision")
        record.handle = _error_handle(plan, node_id)
        _log_failure(plan, node_id, record, exc, ctx)
        return StepOutcome(record, retryable=exc.retryable, retry_after=exc.retry_after)
    except Exception as exc:  # a bug in a node must fail its step, not the batch
        if is_database_away(exc):  # not the step's fault: the batch stops and its executions resume
            raise PlatformDatabaseAway() from None
        _log_failure(plan, node_id, record, exc, ctx)
        record.status, record.ended_at = StepStatus.FAILED, utcnow()
        record.error = {
            "message": f"Unexpected error: {str(exc) or type(exc).__name__}",
            "hint": "Report this to support.",
            "retryable": False,
            "kind": ErrorKind.INTERNAL.value,
            "docs_url": docs_url(ErrorKind.INTERNAL),
        }
        record.handle = _error_handle(plan, node_id)
        return StepOutcome(record)
    record.output, record.error, record.handle = redact(result.output), None, result.handle
    record.decision = result.decision
    if result.wait and result.wait.until > datetime.now(UTC):
        record.status = StepStatus.WAITING
        run.wait = (node_id, result.wait)
    else:
        record.status, record.ended_at = StepStatus.COMPLETED, utcnow()
    return StepOutcome(record)


def _log_failure(plan: ExecutionPlan, node_id: str, record: StepRecord, exc: Exception, ctx: StepContext) -> None:
    """`http.request failed (attempt 1): Permanent (validation)`: the error's text stays in the step's record."""
    level = logging.WARNING if isinstance(exc, StepFailure) else logging.ERROR
    node_type = plan.nodes[node_id].type
    ctx.logger.log(level, "%s failed (attempt %s): %s", node_type, record.attempts, failure_class(exc))


def _error_handle(plan: ExecutionPlan, node_id: str) -> str | None:
    return ERROR_HANDLE if plan.next_edges(node_id, ERROR_HANDLE) else None


def _step_context(plan: ExecutionPlan, node_id: str, work: StepWork, logger: Logger) -> StepContext:
    run = work.run
    context = {**run.context(), **work.extra}
    if plan.nodes[node_id].type == MERGE_TYPE:
        incoming = {edge.source for edge in plan.incoming[node_id] if edge.id in run.taken_edges}
        context["arrived"] = [(n, run.steps[n]["output"]) for n in run.finish_order if n in incoming]
    log = ExecutionLog(logger, {"execution_id": run.id, "node_id": node_id})
    return StepContext(run.id, run.queued.tenant_id, node_id, run.queued.mode, log, run.queued.time_zone, context)


async def _invoke(plan: ExecutionPlan, node_id: str, work: StepWork, ctx: StepContext) -> NodeResult:
    run, record = work.run, work.record
    node_type = node_type_of(plan, node_id)
    if node_type.is_trigger:
        record.input = redact(run.queued.input)
        return NodeResult(output=run.queued.input)
    if record.status == StepStatus.WAITING and node_type.resume:  # its wait is over
        return await node_type.resume(record.output, ctx)
    rendered = render_value(plan.nodes[node_id].config, run.context())
    record.input = redact(rendered)
    result = await node_type.run(node_type.parse_config(rendered), ctx)
    return result if isinstance(result, NodeResult) else NodeResult(output=result)
