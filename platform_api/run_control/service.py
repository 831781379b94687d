"""Run control: cancel one run or every active run of a workflow; disable and enable a workflow.

Queued and waiting executions end `cancelled` at once (a delay never fires, an approval is closed). A
running one is marked `cancelled` too, and its batch's interpreter stops it at the next step boundary
(`flow_factory.routing.BatchRouter.cancelled`); when no execution of its batch is left to run, the batch's
Prefect flow run is cancelled, which also cancels the step under way."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from prefect.states import Cancelling
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from core.prefect_client import prefect_client
from core.settings import Settings
from platform_api.audit.service import audit
from platform_api.deps import Caller
from platform_api.problems import Problem, not_found
from platform_api.run_control import schemas
from platform_api.workflows import schemas as workflow_schemas
from platform_api.workflows.service import get_owned_workflow, read_workflow, redeploy
from store import (
    Approval,
    ApprovalStatus,
    Batch,
    Execution,
    ExecutionStatus,
    StepResult,
    StepStatus,
    Workflow,
    utcnow,
)

log = logging.getLogger("flowyard.run_control")

ACTIVE = (
    ExecutionStatus.QUEUED,
    ExecutionStatus.BATCHED,
    ExecutionStatus.RUNNING,
    ExecutionStatus.WAITING,
    ExecutionStatus.NEEDS_ATTENTION,
)
IN_A_BATCH = (ExecutionStatus.BATCHED, ExecutionStatus.RUNNING)
CANCELLED = {
    "message": "Cancelled on request.",
    "hint": "Start a new run of the workflow to run it again.",
    "retryable": False,
}
CHUNK = 500  # ids per IN (...) list


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _running_step() -> Any:
    """The step an execution is running now, latest started first (a correlated subquery)."""
    return (
        select(StepResult.node_id)
        .where(StepResult.execution_id == Execution.id, StepResult.status == StepStatus.RUNNING)
        .order_by(StepResult.started_at.desc())
        .limit(1)
        .correlate(Execution)
        .scalar_subquery()
    )


def cancel_where(db: Session, *conditions: ColumnElement[bool]) -> tuple[list[str], set[str]]:
    """Cancel the active executions that match; returns their ids and the batches they were in (not committed)."""
    rows = db.execute(
        select(Execution.id, Execution.status, Execution.batch_id).where(*conditions, Execution.status.in_(ACTIVE))
    ).all()
    now, cancelled = utcnow(), []
    for chunk in _chunks([row.id for row in rows]):
        result = db.execute(
            update(Execution)
            .where(Execution.id.in_(chunk), Execution.status.in_(ACTIVE))  # not one that ended meanwhile
            .values(
                status=ExecutionStatus.CANCELLED,
                error=CANCELLED,
                ended_at=now,
                resume_at=None,
                stopped_at_node_id=func.coalesce(Execution.waiting_node_id, _running_step()),
            )
            .returning(Execution.id)
            .execution_options(synchronize_session=False)
        )
        ids = list(result.scalars())
        db.execute(
            update(StepResult)
            .where(StepResult.execution_id.in_(ids), StepResult.status.in_((StepStatus.RUNNING, StepStatus.WAITING)))
            .values(status=StepStatus.CANCELLED, ended_at=now)
        )
        db.execute(
            update(Approval)
            .where(Approval.execution_id.in_(ids), Approval.status == ApprovalStatus.PENDING)
            .values(status=ApprovalStatus.CANCELLED, decided_at=now)
        )
        cancelled += ids
    done = set(cancelled)
    batches = {row.batch_id for row in rows if row.id in done and row.batch_id and row.status in IN_A_BATCH}
    return cancelled, batches


def cancel_emptied_flow_runs(db: Session, settings: Settings, batch_ids: set[str]) -> None:
    """Cancel the Prefect flow run of each batch that has no execution left to run. Best effort: the
    interpreter stops cancelled executions at the next step boundary anyway."""
    for batch_id in batch_ids:
        left = db.scalar(
            select(func.count())
            .select_from(Execution)
            .where(Execution.batch_id == batch_id, Execution.status.in_(IN_A_BATCH))
        )
        flow_run_id = db.scalar(select(Batch.flow_run_id).where(Batch.id == batch_id))
        if left or not flow_run_id:
            continue
        try:
            with prefect_client(settings) as client:
                client.set_flow_run_state(flow_run_id, Cancelling(message="Every run of this batch was cancelled."))
        except Exception:
            log.warning("could not cancel flow run %s of batch %s", flow_run_id, batch_id, exc_info=True)


def _already_ended(execution: Execution) -> Problem:
    return Problem(
        409,
        "run-finished",
        "Run already finished",
        f"This run ended {execution.status}; only a queued, waiting or running run can be cancelled.",
        hint="To run it again, retry it (POST /api/v1/runs/{id}/retry) or replay it.",
    )


def cancel_run(
    db: Session, *, caller: Caller, run_id: str, settings: Settings, request: Request | None = None
) -> schemas.RunCancelled:
    """Cancel one run; cancelling a cancelled run again answers the same."""
    execution = db.scalar(select(Execution).where(Execution.id == run_id, Execution.tenant_id == caller.tenant_id))
    if execution is None:
        raise not_found("run")
    if execution.status != ExecutionStatus.CANCELLED:
        cancelled, batches = cancel_where(db, Execution.id == execution.id)
        if not cancelled:  # it ended before it could be cancelled
            db.refresh(execution)
            raise _already_ended(execution)
        db.refresh(execution)
        detail = {"workflow_id": execution.workflow_id, "stopped_at": execution.stopped_at_node_id}
        audit(db, caller, "run.cancelled", f"run:{execution.id}", request=request, detail=detail)
        db.commit()
        cancel_emptied_flow_runs(db, settings, batches)
    return schemas.RunCancelled(run_id=execution.id, stopped_at=execution.stopped_at_node_id)


def cancel_workflow_runs(
    db: Session, *, caller: Caller, workflow_id: str, settings: Settings, request: Request | None = None
) -> schemas.RunsCancelled:
    """Cancel every queued, waiting or running run of the workflow."""
    workflow = get_owned_workflow(db, caller, workflow_id)
    cancelled, batches = cancel_where(db, Execution.tenant_id == caller.tenant_id, Execution.workflow_id == workflow.id)
    for run_id in cancelled:
        audit(db, caller, "run.cancelled", f"run:{run_id}", request=request, detail={"workflow_id": workflow.id})
    db.commit()
    cancel_emptied_flow_runs(db, settings, batches)
    return schemas.RunsCancelled(cancelled=len(cancelled))


def set_disabled(
    db: Session,
    *,
    caller: Caller,
    workflow_id: str,
    disabled: bool,
    settings: Settings,
    request: Request | None = None,
) -> workflow_schemas.WorkflowRead:
    """Disable (no trigger starts it, schedules pause) or enable a workflow; doing it twice changes nothing."""
    workflow = get_owned_workflow(db, caller, workflow_id, lock=True)
    if workflow.disabled != disabled:
        workflow.disabled = disabled
        action = "workflow.disabled" if disabled else "workflow.enabled"
        audit(db, caller, action, f"workflow:{workflow.id}", request=request)
        if disabled:
            db.commit()  # at once, whatever Prefect says: a schedule's tick skips a disabled workflow anyway
            _pause_schedules(db, caller=caller, workflow=workflow, settings=settings)
        else:
            redeploy(db, caller=caller, workflow=workflow, settings=settings)  # schedules resume, or 503
    return read_workflow(db, caller=caller, workflow_id=workflow.id)


def _pause_schedules(db: Session, *, caller: Caller, workflow: Workflow, settings: Settings) -> None:
    try:
        redeploy(db, caller=caller, workflow=workflow, settings=settings)
    except Problem:
        db.rollback()
        log.warning("could not pause the schedules of disabled workflow %s in Prefect", workflow.id)
