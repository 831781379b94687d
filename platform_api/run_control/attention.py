"""A run that needs attention: one of its steps may have reached a service that cannot recognise a repeat (its
answer was lost, or its worker stopped while sending), so Flowyard neither sent it again nor failed the run. A
person checks the service and answers:
- `mark_sent`: it arrived. The step completes without sending (its ledger row says `done`, so nothing sends it).
- `send_again`: it did not. The step's row and its ledger row go, so the step sends once more.
Either way the run queues again and resumes from its stored steps."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from notifications.people import actor_name
from platform_api.audit.service import audit
from platform_api.deps import Caller
from platform_api.problems import Problem, not_found
from platform_api.run_control import schemas
from platform_api.runs.schemas import run_status
from store import Execution, ExecutionStatus, SideEffect, SideEffectStatus, StepResult, StepStatus, utcnow


def resolve(
    db: Session, *, caller: Caller, run_id: str, data: schemas.AttentionResolve, request: Request | None = None
) -> schemas.AttentionResolved:
    execution = db.scalar(
        select(Execution).where(Execution.id == run_id, Execution.tenant_id == caller.tenant_id).with_for_update()
    )
    if execution is None:
        raise not_found("run")
    if execution.status != ExecutionStatus.NEEDS_ATTENTION or not execution.waiting_node_id:
        raise Problem(
            409,
            "run-not-needing-attention",
            "Nothing to decide",
            f"This run is {run_status(execution.status)}; only a run that needs attention waits for this answer.",
            hint="Reload the run: someone may have answered already.",
        )
    node_id = execution.waiting_node_id
    ledger_key = f"{execution.id}-{node_id}"  # blocks.base.ActionContext.idempotency_key
    if data.resolution == "mark_sent":
        _mark_sent(db, caller, execution.id, node_id, ledger_key)
    else:
        _forget_the_send(db, caller, execution.id, node_id, ledger_key)
    execution.status = ExecutionStatus.QUEUED  # to resume from its stored steps in a new batch
    execution.batch_id = execution.error = execution.waiting_node_id = None
    detail = {"workflow_id": execution.workflow_id, "node_id": node_id, "resolution": data.resolution}
    audit(db, caller, "run.attention_resolved", f"run:{execution.id}", request=request, detail=detail)
    db.commit()
    return schemas.AttentionResolved(run_id=execution.id, node_id=node_id, resolution=data.resolution)


def _the_step(execution_id: str, node_id: str) -> tuple[ColumnElement[bool], ...]:
    return (StepResult.execution_id == execution_id, StepResult.node_id == node_id, StepResult.item_index.is_(None))


def _mark_sent(db: Session, caller: Caller, execution_id: str, node_id: str, ledger_key: str) -> None:
    now = utcnow()
    marked = {"marked_sent_by": actor_name(db, caller.user_id), "marked_sent_at": now.isoformat()}
    effect = db.scalar(select(SideEffect).where(SideEffect.tenant_id == caller.tenant_id, SideEffect.key == ledger_key))
    if effect is not None:
        effect.status, effect.result, effect.updated_at = SideEffectStatus.DONE, marked, now
    step = db.scalar(select(StepResult).where(*_the_step(execution_id, node_id)))
    if step is not None:
        step.status, step.output, step.error, step.handle, step.ended_at = StepStatus.COMPLETED, marked, None, None, now


def _forget_the_send(db: Session, caller: Caller, execution_id: str, node_id: str, ledger_key: str) -> None:
    db.execute(delete(SideEffect).where(SideEffect.tenant_id == caller.tenant_id, SideEffect.key == ledger_key))
    db.execute(delete(StepResult).where(*_the_step(execution_id, node_id)))
