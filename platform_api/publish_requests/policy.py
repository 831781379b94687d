"""Whether publishing a workflow needs approval, and who may still publish it directly: the workspace's rule and a
workflow's override of it (`store.PublishPolicy`). Imported by the workflows and workspace services, so it imports
neither."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_api.deps import Caller
from platform_api.permissions import Permission, not_permitted
from platform_api.problems import Problem
from store import PublishPolicy, Workflow
from store.publish_requests import DEFAULT_DIRECT_ROLES


@dataclass(frozen=True)
class WorkspaceRule:
    requires_approval: bool
    direct_roles: tuple[str, ...]


def _workspace_row(db: Session, tenant_id: str) -> PublishPolicy | None:
    return db.scalar(
        select(PublishPolicy).where(PublishPolicy.tenant_id == tenant_id, PublishPolicy.workflow_id.is_(None))
    )


def _workflow_row(db: Session, workflow: Workflow) -> PublishPolicy | None:
    return db.scalar(select(PublishPolicy).where(PublishPolicy.workflow_id == workflow.id))


def workspace_rule(db: Session, tenant_id: str) -> WorkspaceRule:
    row = _workspace_row(db, tenant_id)
    if row is None:
        return WorkspaceRule(False, DEFAULT_DIRECT_ROLES)
    roles = DEFAULT_DIRECT_ROLES if row.direct_roles is None else tuple(row.direct_roles)
    return WorkspaceRule(bool(row.requires_approval), roles)


def set_workspace_rule(
    db: Session, *, tenant_id: str, requires_approval: bool | None = None, direct_roles: Sequence[str] | None = None
) -> None:
    """Change what was given (None: leave it as it is)."""
    row = _workspace_row(db, tenant_id)
    if row is None:
        row = PublishPolicy(tenant_id=tenant_id, workflow_id=None, requires_approval=False)
        db.add(row)
    if requires_approval is not None:
        row.requires_approval = requires_approval
    if direct_roles is not None:
        row.direct_roles = [role for role in DEFAULT_DIRECT_ROLES if role in direct_roles]


def workflow_override(db: Session, workflow: Workflow) -> bool | None:
    """The workflow's own `publish_requires_approval`; None: it follows the workspace."""
    row = _workflow_row(db, workflow)
    return None if row is None else row.requires_approval


def set_workflow_override(db: Session, *, caller: Caller, workflow: Workflow, value: bool | None) -> None:
    """Only those who manage the workspace's settings change it: otherwise an editor could lift the rule. Sending
    the value it already has changes nothing and is allowed to all who may edit the workflow."""
    row = _workflow_row(db, workflow)
    if value == (None if row is None else row.requires_approval):
        return
    if Permission.MANAGE_SETTINGS not in caller.permissions:
        raise not_permitted(Permission.MANAGE_SETTINGS, role=caller.role, scopes=caller.scopes)
    if value is None:
        if row is not None:
            db.delete(row)
        return
    if row is None:
        db.add(PublishPolicy(tenant_id=workflow.tenant_id, workflow_id=workflow.id, requires_approval=value))
    else:
        row.requires_approval = value


def approval_required(db: Session, workflow: Workflow) -> bool:
    """The workflow's override, else the workspace's rule."""
    override = workflow_override(db, workflow)
    return workspace_rule(db, workflow.tenant_id).requires_approval if override is None else override


def publishes_directly(db: Session, *, caller: Caller, workflow: Workflow) -> bool:
    """Whether the caller's publish makes the workflow live at once (else it asks for approval). Editors never
    publish directly while approval is required; owners and admins do when the workspace lets their role."""
    if not approval_required(db, workflow):
        return True
    return caller.role in workspace_rule(db, workflow.tenant_id).direct_roles


def approval_needed(workflow: Workflow) -> Problem:
    """403 for a direct publish that this workflow's approval rule does not allow the caller."""
    return Problem(
        403,
        "approval-required",
        "Approval required",
        f"Publishing '{workflow.name}' needs an owner's or admin's approval in this workspace.",
        hint=f"POST /api/v1/workflows/{workflow.id}/publish asks for it (202 with the request's id); "
        "GET /api/v1/publish-requests lists the requests.",
    )
