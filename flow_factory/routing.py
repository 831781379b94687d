"""The interpreter's core: in which order the nodes of a graph run over a batch's executions, and what
happens after each step (routing by handle, error edges, retries of the failed subset, loop bodies,
waits, alerts about final failures).

It knows neither Prefect nor the database. What it needs comes in explicitly (`BatchRouter`):

- a step runner: how one node runs over a list of executions (`NodeCall`). The `graph-interpreter` flow
  makes each call one Prefect task run named after the node; tests run `inline_runner` in-process;
- a step sink: where step records go (`insert` when a step starts, `update` when it ends); the flow's
  `StepWriter`, or a list in tests;
- optionally, a cancellation check: which of the batch's executions were cancelled meanwhile. It is asked
  at each step boundary (before a node runs, before a retry); a cancelled execution runs no further step;
- the execution settings (attempts and back-off), the alert sent when a live step failed for good, and
  the logger of the trigger step, which is settled here without a runner: it only passes each
  execution's input on, and a Prefect task run would cost the server 70-100 ms of CPU for nothing.

Nodes whose predecessors have all finished run concurrently, so parallel branches run at the same time.
An execution that reaches a delay or an approval leaves the batch (status `waiting`); a later batch
resumes it from its stored step records (`flow_factory.progress.restore`).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from core.errors import StepFailure
from core.settings import ExecutionSettings
from flow_factory.expressions import render_value
from flow_factory.plan import LOOP_TYPE, ExecutionPlan, pass_through_handle
from flow_factory.progress import ExecutionRun, RunKey, restore
from flow_factory.redact import redact
from flow_factory.steps import (
    ANY_EXECUTION,
    Logger,
    NodeCall,
    StepOutcome,
    StepWork,
    node_type_of,
    run_node_call,
    run_step,
)
from store import ExecutionMode, StepStatus, utcnow
from store.batches import QueuedExecution, StepRecord


class StepRunner(Protocol):
    """Runs one node over the executions of a call; returns one outcome per `call.work` item, in order."""

    async def __call__(self, call: NodeCall) -> list[StepOutcome]: ...


class StepSink(Protocol):
    """Takes step records as they start (`insert`) and end (`update`); copies what it keeps."""

    def insert(self, records: list[StepRecord]) -> None: ...

    def update(self, records: list[StepRecord]) -> None: ...


class StepFailedAlert(Protocol):
    """Tells the tenant a live step failed for good; must not raise."""

    async def __call__(
        self, *, tenant_id: str, execution_id: str, node_id: str, error: dict[str, Any] | None
    ) -> None: ...


class CancellationCheck(Protocol):
    """Which of these execution ids were cancelled since the batch started."""

    async def __call__(self, execution_ids: list[str]) -> set[str]: ...


def inline_runner(logger: Logger) -> StepRunner:
    """A runner that runs the node right here, in this coroutine (no Prefect task run)."""

    async def run(call: NodeCall) -> list[StepOutcome]:
        return await run_node_call(call, logger=logger)

    return run


def retry_delay(settings: ExecutionSettings, attempt: int, outcomes: list[StepOutcome]) -> float:
    """Exponential back-off with jitter, but never sooner than a service asked (Retry-After)."""
    backoff = min(settings.retry_max_seconds, settings.retry_base_seconds * 2 ** (attempt - 1))
    jittered = backoff * random.uniform(0.5, 1.0)
    asked = max((o.retry_after or 0.0) for o in outcomes)
    return float(min(settings.retry_max_seconds, max(jittered, asked)))


@dataclass(frozen=True)
class BatchRouter:
    """Runs a batch's executions through one workflow version's plan."""

    plan: ExecutionPlan
    runner: StepRunner
    sink: StepSink
    settings: ExecutionSettings
    alert: StepFailedAlert
    logger: Logger
    cancelled: CancellationCheck | None = None

    async def run(self, executions: list[QueuedExecution]) -> dict[str, dict[str, Any]]:
        """Every execution as far as it goes in this batch; returns each one's `end_of_batch`, by id."""
        runs = [restore(queued, self.plan) for queued in executions]
        self.sink.insert(await self._pass_trigger(runs))
        await self._schedule(self.plan.top_level(), runs)
        return {run.id: run.end_of_batch() for run in runs}

    async def _pass_trigger(self, runs: list[ExecutionRun]) -> list[StepRecord]:
        """The trigger step of every run that starts here (not one resuming after a wait), settled without a
        runner; returns its step records, finished, for the caller to insert."""
        starting = [run for run in runs if run.reached(self.plan, self.plan.trigger_id)]
        records, _ = _records_for(self.plan.trigger_id, starting)
        for run in starting:
            record = records[run.key]
            await run_step(self.plan, self.plan.trigger_id, StepWork(run, record), logger=self.logger)
            run.settle(self.plan, record)
            await self._alert_if_final_failure(run, record)
        return list(records.values())

    async def _schedule(
        self, node_ids: list[str], runs: list[ExecutionRun], limits: dict[str, int] | None = None
    ) -> None:
        """Run each node once all its predecessors in this scope have finished; independent nodes concurrently."""
        done = {node_id: asyncio.Event() for node_id in node_ids}

        async def drive(node_id: str) -> None:
            await asyncio.gather(*(done[p].wait() for p in self.plan.predecessors(node_id) if p in done))
            reached = await self._not_cancelled([run for run in runs if run.reached(self.plan, node_id)])
            try:
                if reached and self.plan.nodes[node_id].disabled and node_id != self.plan.trigger_id:
                    self._pass_disabled(node_id, reached)
                elif reached and self.plan.nodes[node_id].type == LOOP_TYPE:
                    await self._run_loop(node_id, reached)
                elif reached:
                    await self._run_with_retries(node_id, reached, limits=limits)
            finally:
                done[node_id].set()

        await asyncio.gather(*(drive(node_id) for node_id in node_ids))

    def _pass_disabled(self, node_id: str, runs: list[ExecutionRun]) -> None:
        """A disabled step does not run (no runner, no task run): each run's data passes through it, out of its
        first output, and its step record says `skipped`."""
        records, new = _records_for(node_id, runs)
        handle = pass_through_handle(self.plan.nodes[node_id])
        for run in runs:
            record = records[run.key]
            passed = redact(run.passed_through(self.plan, node_id))
            record.status, record.input, record.output, record.handle = StepStatus.SKIPPED, passed, passed, handle
            record.ended_at = utcnow()
            run.settle(self.plan, record)
        self.sink.insert(new)
        self.sink.update(list(records.values()))

    async def _run_with_retries(
        self,
        node_id: str,
        runs: list[ExecutionRun],
        *,
        extras: dict[RunKey, dict[str, Any]] | None = None,
        limits: dict[str, int] | None = None,
    ) -> None:
        """Run the node over `runs`, then again over the subset that failed retryably, until it succeeds or
        runs out of attempts; each finished step is routed as soon as its attempt returns."""
        records, new = _records_for(node_id, runs)
        self.sink.insert(new)
        limits = {ANY_EXECUTION: self.settings.step_concurrency, **(limits or {})}
        pending, attempt = runs, 1
        while pending:
            work = [StepWork(run, records[run.key], (extras or {}).get(run.key, {})) for run in pending]
            outcomes = await self.runner(NodeCall(self.plan, node_id, attempt, work, limits))
            self.sink.update([o.record for o in outcomes])
            retry = {
                (o.record.execution_id, o.record.item_index): o
                for o in outcomes
                if o.record.status == StepStatus.FAILED and o.retryable and attempt < self.settings.max_attempts
            }
            for run in pending:
                record = records[run.key]
                if run.key not in retry and record.status != StepStatus.WAITING:
                    run.settle(self.plan, record)
                    await self._alert_if_final_failure(run, record)
            if retry:
                await asyncio.sleep(retry_delay(self.settings, attempt, list(retry.values())))
            pending, attempt = await self._not_cancelled([run for run in pending if run.key in retry]), attempt + 1

    async def _not_cancelled(self, runs: list[ExecutionRun]) -> list[ExecutionRun]:
        """The step boundary: `runs` without those cancelled meanwhile, which are marked so and run no more."""
        if self.cancelled is None or not runs:
            return runs
        cancelled = await self.cancelled(sorted({run.id for run in runs}))
        for run in runs:
            run.cancelled = run.cancelled or run.id in cancelled
        return [run for run in runs if not run.cancelled]

    async def _run_loop(self, loop_id: str, runs: list[ExecutionRun]) -> None:
        """Run the body once per item of every execution that reached the loop, then the loop node itself."""
        node = self.plan.nodes[loop_id]
        item_runs: dict[str, list[ExecutionRun]] = {}
        limits: dict[str, int] = {}
        extras: dict[RunKey, dict[str, Any]] = {}
        for run in runs:
            try:  # the node type's config model: items, concurrency, max_items
                loop: Any = node_type_of(self.plan, loop_id).parse_config(render_value(node.config, run.context()))
            except StepFailure as exc:  # the loop step fails with this; its items never run
                extras[run.key] = {"loop_error": exc.as_dict()}
                continue
            limits[run.id] = loop.concurrency
            if len(loop.items) > loop.max_items:
                extras[run.key] = {
                    "loop_error": {
                        "message": f"the list has {len(loop.items)} items; this loop allows {loop.max_items}",
                        "hint": "raise max_items or filter the list first",
                    }
                }
                item_runs[run.id] = []
            else:
                item_runs[run.id] = [run.item_run(self.plan, loop_id, i, item) for i, item in enumerate(loop.items)]
        body = [item for items in item_runs.values() for item in items]
        await self._schedule(self.plan.loop_bodies[loop_id], body, limits)
        for run in runs:
            results = [item.item_result(self.plan, loop_id) for item in item_runs.get(run.id, [])]
            extras.setdefault(run.key, {})["loop_results"] = results
        await self._run_with_retries(loop_id, runs, extras=extras)

    async def _alert_if_final_failure(self, run: ExecutionRun, record: StepRecord) -> None:
        """Tell the tenant's admins when a live step failed for good: its last retry failed, or the failure
        ends the run or makes it wait for a person. A failure the workflow handles on its error path at the first
        attempt is not news."""
        if run.queued.mode != ExecutionMode.LIVE or record.status != StepStatus.FAILED:
            return
        if (record.error or {}).get("retryable") or run.error is not None or run.attention is not None:
            await self.alert(
                tenant_id=run.queued.tenant_id, execution_id=run.id, node_id=record.node_id, error=record.error
            )


def _records_for(node_id: str, runs: list[ExecutionRun]) -> tuple[dict[RunKey, StepRecord], list[StepRecord]]:
    """Each run's record for this node: the stored one when resuming a wait, else a new one (also returned
    apart, to be inserted)."""
    records, new = {}, []
    for run in runs:
        record = run.records.pop(node_id, None) if run.item is None else None
        if record is None:
            record = StepRecord(
                str(uuid.uuid4()),
                run.queued.tenant_id,
                run.id,
                node_id,
                StepStatus.RUNNING,
                item_index=run.item_index,
                started_at=utcnow(),
            )
            new.append(record)
        records[run.key] = record
    return records, new
