"""Deleting a workspace: its Prefect objects first (if Prefect cannot be reached nothing is deleted and the
owner may try again), then its data key and every row it owns in one transaction. Without the data key no
secret of the workspace opens again, wherever a copy of its ciphertext survives (crypto-shredding).

The workspace's own audit trail goes with it (it is the workspace's data); the deletion itself is recorded
in the platform's chain (tenant_id NULL, the one anonymous acts use), so operators can still tell who
deleted which workspace and when."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from blocks.crypto import destroy_tenant_keys
from core.settings import Settings
from platform_api.deps import Caller
from platform_api.kube import deprovision_workspace
from platform_api.privacy import schemas
from platform_api.privacy.prefect import Workspace, remove_workspace
from platform_api.problems import Problem
from store import Batch, Connection, Membership, Tenant, User, Workflow, record_event
from store.db import get_session_factory


def _unconfirmed(slug: str) -> Problem:
    return Problem(
        422,
        "validation-error",
        "Invalid request",
        "confirm: type the workspace's slug to confirm its deletion",
        hint=f'Send {{"confirm": "{slug}"}}. Deleting a workspace cannot be undone.',
        errors=[{"path": "confirm", "message": "does not match the workspace's slug", "hint": f"Type '{slug}'."}],
    )


def _used_prefect(db: Session, tenant_id: str) -> bool:
    """Whether the workspace ever made Prefect objects: a deployment, a batch or a connection's block."""
    return bool(
        db.scalar(select(exists().where(Workflow.tenant_id == tenant_id, Workflow.deployment_id.is_not(None))))
        or db.scalar(select(exists().where(Batch.tenant_id == tenant_id)))
        or db.scalar(select(exists().where(Connection.tenant_id == tenant_id)))
    )


def delete_workspace(
    db: Session, *, caller: Caller, request: Request, data: schemas.WorkspaceDelete, settings: Settings
) -> None:
    tenant = db.get_one(Tenant, caller.tenant_id)
    if data.confirm != tenant.slug:
        raise _unconfirmed(tenant.slug)
    removed: dict[str, int] = {}
    if _used_prefect(db, tenant.id):
        flow_runs = [i for i in db.scalars(select(Batch.flow_run_id).where(Batch.tenant_id == tenant.id)) if i]
        removed = remove_workspace(settings, Workspace(tenant.id, tenant.slug, flow_runs))
    kubernetes = deprovision_workspace(settings, tenant.slug)
    db.commit()  # end the request's transaction: on SQLite it holds the write lock the deletion needs
    with get_session_factory(settings.platform_database_url)() as platform:  # crosses tenants: users, the chain
        _delete_rows(platform, tenant.id)
        record_event(
            platform,
            tenant_id=None,
            action="tenant.deleted",
            target=f"tenant:{tenant.id}",
            actor_user_id=caller.user_id if caller.api_key_id is None else None,
            actor_api_key_id=caller.api_key_id,
            client_address=request.client.host if request.client else None,
            detail={"slug": tenant.slug, "prefect": removed, **({"kubernetes": kubernetes} if kubernetes else {})},
        )
        platform.commit()


def _delete_rows(db: Session, tenant_id: str) -> None:
    """The data keys first, destroyed with their vault secret (crypto-shredding: what they sealed never opens
    again, in backups either), then the tenant (every tenant-owned table cascades from it), then the accounts
    that belonged to no other workspace: they could no longer sign in to anything."""
    members = list(db.scalars(select(Membership.user_id).where(Membership.tenant_id == tenant_id)))
    destroy_tenant_keys(db, tenant_id)
    db.execute(delete(Tenant).where(Tenant.id == tenant_id))
    elsewhere = select(Membership.user_id).where(Membership.user_id.in_(members))
    db.execute(delete(User).where(User.id.in_(members), User.id.not_in(elsewhere)))
