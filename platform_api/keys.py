"""Rotating a workspace's data key, online: `POST /api/v1/tenant/keys/rotate` (owner).

The new key seals from the moment its transaction commits; the one it replaces is kept (retired) so that
what it sealed still opens while every sealed value is sealed again: connections' blocks in Prefect (secrets
and settings MAC, through the connections' save path), webhook endpoints' secrets and pending OAuth
verifiers. Once all of them are, the retired keys are deleted; if one could not be (Prefect unreachable),
they are kept and a second call finishes the work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from blocks.crypto import DecryptionError, MasterKeys, TenantCipher, cipher_for, drop_retired_keys, rotate_data_key
from core.settings import Settings
from platform_api.audit.service import audit
from platform_api.connections.service import reseal_connection, verifier_context
from platform_api.deps import DB, Caller, get_settings
from platform_api.permissions import Allowed, Permission
from platform_api.triggers.service import SECRET_CONTEXT
from store import Connection, OAuthState, WebhookEndpoint

router = APIRouter(prefix="/api/v1/tenant/keys", tags=["workspace"])


class KeyRotationRead(BaseModel):
    key_id: str = Field(description="Id of the workspace's new data key (named in every value it seals).")
    connections: int = Field(description="Connections whose stored secrets and settings were sealed again.")
    webhook_secrets: int = Field(description="Webhook endpoints whose signing secret was sealed again.")
    oauth_pending: int = Field(description="Pending OAuth authorisations whose verifier was sealed again.")
    lost_secrets: list[str] = Field(
        description="What no longer opened before the rotation: `<connection>.<secret>` (enter it again), "
        "`webhook_endpoints:<id>` (rotate its secret)."
    )
    retired_keys_deleted: int = Field(description="Earlier data keys deleted: nothing sealed with them is left.")


def _reseal_column(cipher: TenantCipher, rows: list, column: str, context: Callable, lost: list[str]) -> int:
    """Seal each row's `column` again; one that does not open (damaged) is named in `lost` and left."""
    for row in rows:
        try:
            plaintext = cipher.unseal(getattr(row, column), context=context(row))
        except DecryptionError:
            lost.append(f"{type(row).__tablename__}:{row.id}")
            continue
        setattr(row, column, cipher.seal(plaintext, context=context(row)))
    return len(rows)


def _reseal_connections(db: Session, settings: Settings, tenant_id: str) -> tuple[int, list[str]]:
    """Every connection's block, sealed again and saved in Prefect (a 503 Problem if Prefect is unreachable)."""
    rows, lost = db.scalars(select(Connection).where(Connection.tenant_id == tenant_id)).all(), []
    for row in rows:
        lost += [f"{row.name}.{name}" for name in reseal_connection(db, row=row, settings=settings)]
        db.commit()  # each one as its block is saved
    return len(rows), lost


@router.post("/rotate", response_model=KeyRotationRead)
def rotate_key(
    request: Request,
    db: DB,
    caller: Annotated[Caller, Allowed(Permission.MANAGE_KEYS)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> KeyRotationRead:
    """Give the workspace a new data key and seal its secrets again with it, while they stay usable."""
    tenant_id = caller.tenant_id
    replaced = cipher_for(db, tenant_id, settings).key_id
    key_id = rotate_data_key(db, tenant_id, master_key=MasterKeys.of(settings))
    detail = {"new_id": key_id, "replaced_id": replaced}  # ids, not keys (a detail's "key" fields are redacted)
    audit(db, caller, "keys.rotated", f"tenant:{tenant_id}", request=request, detail=detail)
    db.commit()
    connections, lost = _reseal_connections(db, settings, tenant_id)  # a 503 keeps the retired keys
    cipher = cipher_for(db, tenant_id, settings)
    endpoints = list(db.scalars(select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant_id)))
    pending = list(db.scalars(select(OAuthState).where(OAuthState.tenant_id == tenant_id)))
    webhook_secrets = _reseal_column(cipher, endpoints, "sealed_secret", lambda _: SECRET_CONTEXT, lost)
    oauth_pending = _reseal_column(
        cipher, pending, "sealed_verifier", lambda row: verifier_context(row.state_hash), lost
    )
    deleted = drop_retired_keys(db, tenant_id)
    db.commit()
    return KeyRotationRead(
        key_id=key_id,
        connections=connections,
        webhook_secrets=webhook_secrets,
        oauth_pending=oauth_pending,
        lost_secrets=lost,
        retired_keys_deleted=deleted,
    )
