"""The `graph-interpreter` Prefect flow: runs one batch of executions of one workflow version.

This module only adapts the interpreter's core (`flow_factory.routing`, which knows neither Prefect nor
the database) to Prefect and to the platform database:

- each node is one Prefect task run per batch (`run_node`, named after the node) over the executions
  that reached it; a retry of the failed subset is a new task run of the same node. The trigger is
  settled in the flow without a task run;
- the batch's executions are loaded and marked running in one transaction, and step rows are written
  behind the steps (`StepWriter`): a node does not wait for the database before the next one starts,
  and the rows still queued at the end are written with the executions' outcomes, in one transaction;
- a fault of the interpreter fails what the batch did not finish, a crash of the flow run or the platform
  database going away resumes it in a new batch, and a cancellation cancels it; an execution
  cancelled through the API stops at the next step boundary (`BatchRouter.cancelled`);
- fired by a schedule (no batch), the flow queues one execution of the workflow;
- the parameters are not trusted: anyone with the Prefect API can create a flow run of any deployment with
  any `batch_id` or `workflow_id`. A flow run runs only its own deployment's batches and workflow (else it
  fails, touching nothing), and only executions still waiting for their batch: a second flow run of the
  batch (a replay, the Prefect UI's "Retry") runs no step again;
- Prefect gets no payload (`core.payload_free`): the only parameter is an id, nothing is persisted as a
  result, log lines name runs, nodes and error classes, and a failing flow or task body raises its error's
  class and kind only (the platform database keeps the error for the tenant).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from prefect import Flow, flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import FlowRun, State
from prefect.context import FlowRunContext
from prefect.runtime import flow_run
from prefect.settings import get_current_settings
from prefect.utilities.annotations import quote

from core.payload_free import PayloadFreeError, is_database_away, keep_payloads_out_of_prefect_logs
from core.settings import ExecutionSettings, get_settings
from flow_factory.batch_door import BatchDoor
from flow_factory.graph import Graph
from flow_factory.plan import compile_plan
from flow_factory.routing import BatchRouter
from flow_factory.steps import NodeCall, StepOutcome, run_node_call
from notifications.alerts import notify_step_failed
from store import ExecutionStatus
from store.batches import BatchStorage, BatchStore, BatchWork, NotThisDeployment, StepWriter

FLOW_NAME = "graph-interpreter"
ENTRYPOINT = "flow_factory.interpreter.graph_interpreter"

T = TypeVar("T")


def _unexamined(value: T) -> T:
    """Prefect passes a quoted argument to the task as it is, without walking it for futures (a batch's
    work is thousands of objects)."""
    return cast(T, quote(value))


@task(task_run_name="{node_id}", cache_policy=NO_CACHE, persist_result=False)
async def run_node(node_id: str, attempt: int, call: NodeCall) -> list[StepOutcome]:
    """One node over every execution (or loop item) of the batch that reached it. A step's failure is its
    outcome; what raises here is a fault of the interpreter, recorded by Prefect as its class only."""
    try:
        return await run_node_call(call, logger=get_run_logger())
    except Exception as exc:
        raise PayloadFreeError.of(exc) from None


async def run_as_task(call: NodeCall) -> list[StepOutcome]:
    """The step runner of the flow: one task run per call."""
    return await run_node(call.node_id, call.attempt, _unexamined(call))


def _store() -> BatchStorage:
    """The database on the shared workers; in a tenant's Job, which holds no database credentials, the batch
    door of the platform API."""
    settings = get_settings()
    if settings.batch_door.url:
        return BatchDoor(settings.batch_door)
    return BatchStore(settings.platform_database_url)


def _on_cancel(flow: Flow[Any, Any], flow_run: FlowRun, state: State[Any]) -> None:
    batch_id = (flow_run.parameters or {}).get("batch_id")
    if batch_id:
        _store().fail_unfinished(
            batch_id,
            ExecutionStatus.CANCELLED,
            {"message": "The run was cancelled.", "hint": None, "retryable": False},
            deployment_id=str(flow_run.deployment_id) if flow_run.deployment_id else None,
            flow_run_id=str(flow_run.id),
        )


def _on_crash(flow: Flow[Any, Any], flow_run: FlowRun, state: State[Any]) -> None:
    """Its executions resume in a new batch (`BatchStore.resume_unfinished`)."""
    batch_id = (flow_run.parameters or {}).get("batch_id")
    if batch_id:
        _store().resume_unfinished(
            batch_id,
            most=get_settings().execution.max_resumptions,
            reason="The worker running this run stopped unexpectedly",
            deployment_id=str(flow_run.deployment_id) if flow_run.deployment_id else None,
            flow_run_id=str(flow_run.id),
        )


def _own_deployment_id() -> str | None:
    """The deployment this flow run was created from: Prefect sets it, no parameter changes it."""
    context = FlowRunContext.get()
    run = context.flow_run if context else None
    return str(run.deployment_id) if run and run.deployment_id else None


async def _enqueue_tick(store: BatchStorage, workflow_id: str) -> dict[str, int]:
    scheduled_at = flow_run.scheduled_start_time or datetime.now(UTC)
    outcome = await _refusing_forgeries(
        store.enqueue_tick, workflow_id, flow_run.id, scheduled_at, _own_deployment_id()
    )
    return {outcome: 1}


async def _refusing_forgeries(call: Any, *args: Any) -> Any:
    """`call` in a thread; a forged parameter is logged (why nothing ran) and fails the flow run."""
    try:
        return await asyncio.to_thread(call, *args)
    except NotThisDeployment as exc:  # its text names ids only
        get_run_logger().error("Refused to run: %s. Nothing was run or changed.", str(exc))
        raise


async def _run_batch(store: BatchStorage, batch_id: str, settings: ExecutionSettings) -> dict[str, int]:
    work: BatchWork = await _refusing_forgeries(store.start_in_flow_run, batch_id, _own_deployment_id())  # claimed
    if not work.executions:
        return {}
    writer = StepWriter(store)
    try:
        router = BatchRouter(
            plan=compile_plan(Graph.model_validate(work.graph)),
            runner=run_as_task,
            sink=writer,
            settings=settings,
            alert=notify_step_failed,
            logger=get_run_logger(),
            cancelled=lambda execution_ids: asyncio.to_thread(store.cancelled_among, execution_ids),
        )
        outcomes = await router.run(work.executions)
        await asyncio.to_thread(store.finish, outcomes, await writer.pending())
    except Exception as exc:
        with contextlib.suppress(Exception):  # what the finished steps wrote, before ending what did not finish
            await writer.flush()
        await asyncio.to_thread(
            end_unfinished, store, batch_id, exc, settings.max_resumptions, _own_deployment_id(), flow_run.id
        )
        raise
    return dict(Counter(str(outcome["status"]) for outcome in outcomes.values()))


def end_unfinished(
    store: BatchStorage,
    batch_id: str,
    fault: Exception,
    max_resumptions: int,
    deployment_id: str | None,
    flow_run_id: str | None,
) -> None:
    """After `fault` stopped the batch: its unfinished executions fail, unless the platform database went
    away, which is no fault of theirs: then they resume from their stored steps in a new batch. If it is still
    away, this raises too, the flow run fails, and the dispatcher's reconciliation resumes them later."""
    if is_database_away(fault):
        store.resume_unfinished(
            batch_id,
            most=max_resumptions,
            reason="The platform database was unavailable while this execution ran",
            deployment_id=deployment_id,
            flow_run_id=flow_run_id,
        )
        return
    error = {"message": f"Internal error while running the workflow: {fault}", "hint": None, "retryable": False}
    store.fail_unfinished(batch_id, ExecutionStatus.FAILED, error, deployment_id=deployment_id, flow_run_id=flow_run_id)


@flow(
    name=FLOW_NAME,
    persist_result=False,
    log_prints=False,
    # nothing is persisted, but without a storage of its own the engine asks the server for its default
    # result storage at every flow run (a blocking call); a local path costs no call
    result_storage=Path(get_current_settings().results.local_storage_path),
    on_crashed=[_on_crash],
    on_cancellation=[_on_cancel],
)
async def graph_interpreter(batch_id: str = "", workflow_id: str = "") -> dict[str, int]:
    """Run every execution of one batch through its workflow graph; or, fired by a schedule, queue one."""
    keep_payloads_out_of_prefect_logs()
    settings = get_settings()
    store = _store()
    try:
        if not batch_id:
            return await _enqueue_tick(store, workflow_id)
        return await _run_batch(store, batch_id, settings.execution)
    except NotThisDeployment:  # names the refused ids, no payload
        raise
    except Exception as exc:
        raise PayloadFreeError.of(exc) from None
