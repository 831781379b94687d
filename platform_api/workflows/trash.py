"""The workflow trash: deleting a workflow (softly), listing deleted ones, restoring one within 30 days.

A deleted workflow keeps its rows (versions, runs, Prefect deployment) but leaves the API's lists and reads
(`get_owned_workflow` answers 404 `workflow-deleted`), its name is freed for a live workflow (it waits in
`deleted_name`), no trigger starts it (webhooks answer 410, its subscriptions are removed, a schedule's tick is
skipped and its Prefect schedules are paused) and its active runs are cancelled. Restoring brings it back as it
was: disabled or not, its subscriptions written again, its schedules resumed unless disabled or paused. After
`TRASH_DAYS` the hourly retention purge deletes it (`engine.retention.purge_deleted_workflows`)."""

from __future__ import annotations

import logging

from fastapi import Request, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.settings import Settings
from platform_api.audit.service import audit
from platform_api.deps import Caller
from platform_api.pagination import paginate
from platform_api.problems import Problem
from platform_api.run_control.service import cancel_emptied_flow_runs, cancel_where
from platform_api.triggers import service as triggers
from platform_api.workflows import schemas
from platform_api.workflows.service import (
    _summary_fields,
    get_owned_workflow,
    get_version,
    purge_after,
    read_workflow,
    redeploy,
)
from store import Execution, Role, Workflow, utcnow
from store.workflows import TRASH_DAYS, trashed_name

log = logging.getLogger("flowyard.workflows")


def _scheduled(db: Session, workflow: Workflow) -> bool:
    """Whether its published version has Prefect schedules (the only part of its deployment the trash changes)."""
    if not workflow.published_version or not workflow.deployment_id:
        return False
    return triggers.trigger_of(get_version(db, workflow, workflow.published_version).graph)[0] == "trigger.schedule"


def _trashed(workflow: Workflow) -> schemas.TrashedWorkflow:
    assert workflow.deleted_at is not None
    return schemas.TrashedWorkflow(
        **{**_summary_fields(workflow), "name": workflow.deleted_name or workflow.name},
        deleted_at=workflow.deleted_at,
        purge_after=purge_after(workflow),
    )


def delete_workflow(
    db: Session, *, caller: Caller, workflow_id: str, settings: Settings, request: Request | None = None
) -> schemas.WorkflowDeleted:
    """Move the workflow to the trash and cancel its active runs; a deleted workflow answers 404 (`workflow-deleted`)."""
    caller.require(Role.EDITOR, "delete workflows")
    workflow = get_owned_workflow(db, caller, workflow_id, lock=True)
    name = workflow.name
    workflow.deleted_at = utcnow()
    workflow.deleted_name, workflow.name = name, trashed_name(name, workflow.id)
    triggers.sync_subscriptions(db, workflow, {})  # its data changes and events start nothing; restore writes them
    # in the same transaction as the deletion: nothing it had accepted runs on (run_control's own cancel)
    cancelled, batches = cancel_where(db, Execution.tenant_id == caller.tenant_id, Execution.workflow_id == workflow.id)
    for run_id in cancelled:
        why = {"workflow_id": workflow.id, "reason": "workflow deleted"}
        audit(db, caller, "run.cancelled", f"run:{run_id}", request=request, detail=why)
    detail = {"name": name, "cancelled_runs": len(cancelled), "purge_after": purge_after(workflow).isoformat()}
    audit(db, caller, "workflow.deleted", f"workflow:{workflow.id}", request=request, detail=detail)
    db.commit()  # at once, whatever Prefect says: webhooks answer 410 and a schedule's tick skips it from now on
    deleted = schemas.WorkflowDeleted(**_trashed(workflow).model_dump(), cancelled_runs=len(cancelled))
    cancel_emptied_flow_runs(db, settings, batches)
    if _scheduled(db, workflow):
        try:
            redeploy(db, caller=caller, workflow=workflow, settings=settings)  # its schedules pause in Prefect
        except Problem:
            db.rollback()
            log.warning("could not pause the schedules of deleted workflow %s in Prefect", workflow.id)
    return deleted


def list_trash(
    db: Session, *, caller: Caller, limit: int, cursor: str | None, request: Request, response: Response
) -> list[schemas.TrashedWorkflow]:
    rows = paginate(
        db,
        select(Workflow).where(Workflow.tenant_id == caller.tenant_id, Workflow.deleted_at.is_not(None)),
        order=((Workflow.deleted_at, True),),
        row_id=Workflow.id,
        limit=limit,
        cursor=cursor,
        request=request,
        response=response,
    )
    return [_trashed(workflow) for workflow in rows]


def _not_in_trash(db: Session, caller: Caller, workflow_id: str) -> Problem:
    live = db.scalar(select(Workflow.id).where(Workflow.id == workflow_id, Workflow.tenant_id == caller.tenant_id))
    if live:
        return Problem(
            409,
            "not-deleted",
            "Not deleted",
            "This workflow is not in the trash: there is nothing to restore.",
            hint=f"Read it with GET /api/v1/workflows/{workflow_id}.",
        )
    return Problem(
        404,
        "not-found",
        "Not found",
        "No deleted workflow with that id is in your workspace's trash.",
        hint=f"GET /api/v1/workflows/trash lists what can be restored; after {TRASH_DAYS} days a deleted "
        "workflow is purged.",
    )


def _name_taken(name: str, workflow_id: str, holder: str) -> Problem:
    return Problem(
        409,
        "name-taken",
        "Name already used",
        f"A live workflow named '{name}' ({holder}) exists in your workspace, so this one cannot come back under "
        "that name.",
        hint=f"Restore it under another name (POST /api/v1/workflows/{workflow_id}/restore with "
        '{"name": "..."}), or rename or delete the live one first.',
        errors=[{"path": "name", "message": "already used by a live workflow", "hint": "choose another name"}],
    )


def restore_workflow(
    db: Session,
    *,
    caller: Caller,
    workflow_id: str,
    settings: Settings,
    name: str | None = None,
    request: Request | None = None,
) -> schemas.WorkflowRead:
    """Bring a deleted workflow back as it was (disabled or not); its schedules resume unless it is disabled or
    they are paused. 409 when a live workflow has its name (unless `name` is given), 410 once it is being purged,
    503 when Prefect cannot resume its schedules (nothing is restored then)."""
    caller.require(Role.EDITOR, "restore workflows")
    workflow = db.scalar(
        select(Workflow)
        .where(Workflow.id == workflow_id, Workflow.tenant_id == caller.tenant_id, Workflow.deleted_at.is_not(None))
        .with_for_update()
    )
    if workflow is None or workflow.deleted_at is None:
        raise _not_in_trash(db, caller, workflow_id)
    if purge_after(workflow) <= utcnow():
        raise Problem(
            410,
            "workflow-purged",
            "Too late to restore",
            f"This workflow was deleted more than {TRASH_DAYS} days ago: it is being purged with its runs.",
            hint="Create it again (POST /api/v1/workflows).",
        )
    own_name = workflow.deleted_name or workflow.name
    wanted = name or own_name
    holder = db.scalar(
        select(Workflow.id).where(
            Workflow.tenant_id == caller.tenant_id, Workflow.name == wanted, Workflow.id != workflow.id
        )
    )
    if holder:
        raise _name_taken(wanted, workflow.id, holder)
    deleted_at = workflow.deleted_at
    workflow.name, workflow.deleted_name, workflow.deleted_at = wanted, None, None
    try:
        db.flush()
    except IntegrityError:  # a live workflow took the name meanwhile
        db.rollback()
        raise _name_taken(wanted, workflow_id, "just created") from None
    if workflow.published_version:
        triggers.sync_subscriptions(db, workflow, get_version(db, workflow, workflow.published_version).graph)
    renamed_from = own_name if wanted != own_name else None
    detail = {"name": wanted, "renamed_from": renamed_from, "deleted_at": deleted_at.isoformat()}
    audit(db, caller, "workflow.restored", f"workflow:{workflow.id}", request=request, detail=detail)
    if _scheduled(db, workflow):
        redeploy(db, caller=caller, workflow=workflow, settings=settings)  # schedules resume (unless disabled), or 503
    else:
        db.commit()
    return read_workflow(db, caller=caller, workflow_id=workflow.id)
