"""Which queued executions may start now: each workflow's conflict policy and the tenant's limit.

`queue`: one at a time, the rest wait. `skip`: one at a time, a new one arriving while one is in
flight is cancelled. `parallel`: up to `max_parallel` at once (no limit when unset). A tenant's
`max_running` (or the platform's default, `quotas.max_running`) caps its executions in flight across
workflows. Executions resuming after a wait were admitted before and are never held back. Whatever is
held back stays queued: nothing is dropped except by the `skip` policy, which says so on the execution,
and for a workflow deleted after the execution was accepted.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from store import ConflictPolicy, Execution, ExecutionStatus, Tenant, Workflow, utcnow
from store.sealed import sealing_for

IN_FLIGHT = (ExecutionStatus.BATCHED, ExecutionStatus.RUNNING)
DELETED = {
    "message": "Cancelled: its workflow was deleted before it could start.",
    "hint": "Restore the workflow from the trash and run it again.",
    "retryable": False,
}
SKIPPED = {
    "message": "Skipped: the previous run of this workflow was still going.",
    "hint": "Change the workflow's conflict policy to `queue` to run it afterwards instead.",
    "retryable": False,
}


def _in_flight(db: Session, column: InstrumentedAttribute[str], ids: set[str]) -> Counter[str]:
    """Executions in flight per value of `column` (a workflow or a tenant id)."""
    rows = db.execute(
        select(column, func.count()).where(column.in_(ids), Execution.status.in_(IN_FLIGHT)).group_by(column)
    )
    return Counter({key: count for key, count in rows})


def workflow_limit(workflow: Workflow) -> int | None:
    """Executions of the workflow that may be in flight at once (None: no limit)."""
    if workflow.conflict_policy in (ConflictPolicy.QUEUE, ConflictPolicy.SKIP):
        return 1
    return workflow.max_parallel


def admit(db: Session, queued: list[Execution], *, default_max_running: int | None = None) -> list[Execution]:
    """The executions (oldest first) that may start now; cancels those the `skip` policy drops.
    `default_max_running` limits the tenants without a `max_running` of their own (None: no limit)."""
    workflows = {w.id: w for w in db.scalars(select(Workflow).where(Workflow.id.in_({e.workflow_id for e in queued})))}
    tenant_limits = dict(
        db.execute(select(Tenant.id, Tenant.max_running).where(Tenant.id.in_({e.tenant_id for e in queued}))).all()
    )
    per_workflow = _in_flight(db, Execution.workflow_id, set(workflows))
    per_tenant = _in_flight(db, Execution.tenant_id, set(tenant_limits))
    admitted: list[Execution] = []
    skipped: list[str] = []
    deleted: list[str] = []
    for execution in queued:
        workflow, tenant_limit = workflows[execution.workflow_id], tenant_limits.get(execution.tenant_id)
        if workflow.deleted_at is not None:  # accepted just before the delete committed
            deleted.append(execution.id)
            continue
        tenant_limit = default_max_running if tenant_limit is None else tenant_limit
        resuming = execution.started_at is not None
        limit = workflow_limit(workflow)
        if not resuming and limit is not None and per_workflow[workflow.id] >= limit:
            if workflow.conflict_policy == ConflictPolicy.SKIP:
                skipped.append(execution.id)
            continue
        if not resuming and tenant_limit is not None and per_tenant[execution.tenant_id] >= tenant_limit:
            continue
        per_workflow[workflow.id] += 1
        per_tenant[execution.tenant_id] += 1
        admitted.append(execution)
    for ids, error in ((skipped, SKIPPED), (deleted, DELETED)):
        _cancel(db, [e for e in queued if e.id in set(ids)], error)
    return admitted


def _cancel(db: Session, executions: list[Execution], error: dict[str, Any]) -> None:
    """Cancel these queued executions with `error`, sealed for each one's tenant."""
    by_tenant: dict[str, list[str]] = {}
    for execution in executions:
        by_tenant.setdefault(execution.tenant_id, []).append(execution.id)
    for tenant_id, ids in by_tenant.items():
        with sealing_for(db, tenant_id):
            db.execute(
                update(Execution)
                .where(Execution.id.in_(ids), Execution.status == ExecutionStatus.QUEUED)
                .values(status=ExecutionStatus.CANCELLED, error=error, ended_at=utcnow())
            )
