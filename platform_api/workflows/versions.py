"""Comparing a workflow's versions and rolling back to one: a restore saves an old graph as a new version."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.orm import Session

from flow_factory.diff import diff_graphs
from platform_api.audit.service import audit
from platform_api.deps import Caller
from platform_api.problems import Problem
from platform_api.workflows import schemas, service
from store import Role, WorkflowVersion, utcnow


def _existing_version(db: Session, workflow_id: str, caller: Caller, version: int) -> WorkflowVersion:
    workflow = service.get_owned_workflow(db, caller, workflow_id)
    row = service.find_version(db, workflow, version)
    if row is None:
        raise Problem(
            404,
            "not-found",
            "Not found",
            f"This workflow has no version {version}.",
            hint=f"Its versions are 1 to {workflow.latest_version} (GET /api/v1/workflows/{workflow.id}/versions).",
            errors=[{"path": "version", "message": "no such version", "hint": "list the versions"}],
        )
    return row


def diff_versions(db: Session, *, caller: Caller, workflow_id: str, a: int, b: int) -> schemas.VersionDiff:
    before = _existing_version(db, workflow_id, caller, a)
    after = _existing_version(db, workflow_id, caller, b)
    return schemas.VersionDiff(**diff_graphs(before.graph, after.graph).model_dump(), from_version=a, to_version=b)


def restore_version(
    db: Session,
    *,
    caller: Caller,
    workflow_id: str,
    version: int,
    data: schemas.VersionRestore,
    request: Request | None = None,
) -> schemas.WorkflowRead:
    """Save version `version`'s graph as the newest version (publishing it is the route's next step)."""
    caller.require(Role.EDITOR, "restore versions")
    old = _existing_version(db, workflow_id, caller, version)
    workflow = service.get_owned_workflow(db, caller, workflow_id, lock=True)
    workflow.latest_version += 1
    message = data.message or f"Restored from version {version}"
    db.add(service.new_version(caller, workflow, workflow.latest_version, old.graph, valid=old.valid, message=message))
    workflow.updated_at = utcnow()
    detail = {"from_version": version, "version": workflow.latest_version, "publish": data.publish}
    audit(db, caller, "workflow.version_restored", f"workflow:{workflow.id}", request=request, detail=detail)
    db.commit()
    return service.read_workflow(db, caller=caller, workflow_id=workflow.id)
