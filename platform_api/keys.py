"""Rotating a workspace's data key, online: `POST /api/v1/tenant/keys/rotate` (owner), and its progress,
`GET /api/v1/tenant/keys/rotation`.

The new key seals from the moment its transaction commits; the ones it replaces are kept (retired) so that
what they sealed still opens while everything is sealed again:

- secrets, in the call itself: connections' blocks in Prefect (secrets and settings MAC, through the
  connections' save path), webhook endpoints' secrets and pending OAuth verifiers;
- the stored workflow data (graphs, run inputs, step data, approvals, outbox snapshots, notifications, CRM
  records), in the background: the call starts a `flowyard-reencrypt` flow run for the workspace
  (`engine.reencrypt`, one per rotation), which seals it again in bounded batches while runs go on, waits
  until no process can still seal with a retired key (`FLOWYARD_KEYS__CACHE_SECONDS` after the rotation),
  and then deletes the retired keys if nothing sealed with them is left.

`GET /api/v1/tenant/keys/rotation` counts what is not sealed with the current key yet, per column, and says
how the last re-encryption run stands. If Prefect is unreachable (a connection's block cannot be saved, or the
flow run cannot be started), the call answers 503 with the new key in force and the retired keys kept: a
second call finishes the work. With payload encryption off (`FLOWYARD_KEYS__ENCRYPT_PAYLOADS`, the benchmark's
comparison only) nothing is re-encrypted, and the retired keys are deleted at once unless stored values are
still sealed with them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from blocks.crypto import DecryptionError, MasterKeys, TenantCipher, cipher_for, drop_retired_keys, rotate_data_key
from core.prefect_client import prefect_client
from core.settings import Settings
from engine.reencrypt import current_key_id, latest_reencryption, remaining, start_reencryption
from platform_api.audit.service import audit
from platform_api.connections.service import reseal_connection, verifier_context
from platform_api.deps import DB, Caller, get_settings
from platform_api.permissions import Allowed, Permission
from platform_api.problems import Problem
from platform_api.triggers.service import SECRET_CONTEXT
from store import Connection, OAuthState, RetiredTenantKey, WebhookEndpoint
from store.sealed import installed_keyring

router = APIRouter(prefix="/api/v1/tenant/keys", tags=["workspace"])
log = logging.getLogger("flowyard.keys")

RunState = Literal[
    "scheduled", "pending", "running", "paused", "cancelling", "cancelled", "completed", "failed", "crashed"
]

REMAINING = (
    "Stored values of the workspace's workflow data not sealed with its current data key yet, per "
    "`table.column` (rows written before payload encryption count too)."
)


class KeyRotationRead(BaseModel):
    key_id: str = Field(description="Id of the workspace's new data key (named in every value it seals).")
    connections: int = Field(description="Connections whose stored secrets and settings were sealed again.")
    webhook_secrets: int = Field(description="Webhook endpoints whose signing secret was sealed again.")
    oauth_pending: int = Field(description="Pending OAuth authorisations whose verifier was sealed again.")
    lost_secrets: list[str] = Field(
        description="What no longer opened before the rotation: `<connection>.<secret>` (enter it again), "
        "`webhook_endpoints:<id>` (rotate its secret)."
    )
    retired_keys_deleted: int = Field(
        description="Earlier data keys deleted by this call. 0 while the stored workflow data is sealed again in "
        "the background: the re-encryption run deletes them once nothing sealed with them is left (see "
        "GET /api/v1/tenant/keys/rotation)."
    )
    reencryption_flow_run_id: str | None = Field(
        description="The Prefect flow run (`flowyard-reencrypt`) sealing the workspace's stored workflow data "
        "again with the new key, in bounded batches while runs go on; null when payload encryption is off."
    )
    remaining: dict[str, int] = Field(description=REMAINING + " As counted when the rotation was made.")
    remaining_total: int = Field(description="The sum of `remaining`.")


class ReencryptionRunRead(BaseModel):
    flow_run_id: str = Field(description="The `flowyard-reencrypt` flow run in Prefect.")
    state: RunState = Field(
        description="Where it stands: `completed` (everything sealed again, the retired keys deleted), `failed` "
        "(values were left that do not open, or it could not finish: the retired keys were kept; rotate again, "
        "or ask your operator to run `flowyard keys reencrypt`), else not ended yet."
    )
    started_at: datetime | None = Field(description="When it started; null while it waits for the worker.")
    ended_at: datetime | None = Field(description="When it ended; null while it runs.")


class KeyRotationStatusRead(BaseModel):
    key_id: str | None = Field(description="Id of the workspace's current data key (null: it has none yet).")
    retired_keys: int = Field(
        description="Earlier data keys still kept, because what they sealed is being sealed again (0 when the "
        "last rotation is finished)."
    )
    remaining: dict[str, int] = Field(description=REMAINING)
    remaining_total: int = Field(
        description="The sum of `remaining`: 0 when every value is sealed with the current key."
    )
    reencryption: ReencryptionRunRead | None = Field(
        description="The workspace's last re-encryption run (null: none yet, or the workflow engine did not answer)."
    )
    engine_available: bool = Field(description="False when the workflow engine could not be asked about the run.")


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


def start_reencryption_run(settings: Settings, caller: Caller, key_id: str) -> str:
    """The `flowyard-reencrypt` flow run of this rotation (one per new key); a 503 Problem if Prefect is unreachable."""
    try:
        with prefect_client(settings) as client:
            flow_run = start_reencryption(
                client,
                work_pool=settings.worker.work_pool,
                tenant_id=caller.tenant_id,
                tenant_slug=caller.tenant_slug,
                key_id=key_id,
            )
    except Exception as exc:
        log.warning("could not start the re-encryption of tenant %s", caller.tenant_id, exc_info=True)
        raise Problem(
            503,
            "engine-unavailable",
            "Workflow engine unavailable",
            f"The new data key is in force and the secrets are sealed with it, but sealing the stored workflow "
            f"data again could not be started: {type(exc).__name__}. The earlier keys are kept meanwhile.",
            hint="Rotate again in a minute; if it persists, contact your operator.",
            headers={"Retry-After": "30"},
        ) from exc
    return str(flow_run.id)


@router.post("/rotate", response_model=KeyRotationRead)
def rotate_key(
    request: Request,
    db: DB,
    caller: Annotated[Caller, Allowed(Permission.MANAGE_KEYS)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> KeyRotationRead:
    """Give the workspace a new data key, seal its secrets again with it while they stay usable, and start
    sealing its stored workflow data again in the background (progress: GET /api/v1/tenant/keys/rotation)."""
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
    db.commit()
    left = remaining(db, tenant_id)
    deleted, flow_run_id = 0, None
    if installed_keyring().encrypt:  # other processes may seal with the old key a while yet: the run deletes it
        db.commit()
        flow_run_id = start_reencryption_run(settings, caller, key_id)
    elif not any(remaining(db, tenant_id, sealed_only=True).values()):  # nothing is sealed: nothing needs it
        deleted = drop_retired_keys(db, tenant_id)
    db.commit()
    return KeyRotationRead(
        key_id=key_id,
        connections=connections,
        webhook_secrets=webhook_secrets,
        oauth_pending=oauth_pending,
        lost_secrets=lost,
        retired_keys_deleted=deleted,
        reencryption_flow_run_id=flow_run_id,
        remaining=left,
        remaining_total=sum(left.values()),
    )


def _last_run(settings: Settings, tenant_id: str) -> tuple[ReencryptionRunRead | None, bool]:
    try:
        with prefect_client(settings) as client:
            flow_run = latest_reencryption(client, tenant_id)
    except Exception:
        log.warning("could not read the last re-encryption run of tenant %s", tenant_id, exc_info=True)
        return None, False
    if flow_run is None:
        return None, True
    state = flow_run.state.type.value.lower() if flow_run.state else "scheduled"
    run = ReencryptionRunRead(
        flow_run_id=str(flow_run.id), state=state, started_at=flow_run.start_time, ended_at=flow_run.end_time
    )
    return run, True


@router.get("/rotation", response_model=KeyRotationStatusRead)
def rotation_status(
    db: DB,
    caller: Annotated[Caller, Allowed(Permission.MANAGE_KEYS)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> KeyRotationStatusRead:
    """How far the last rotation is: what is not sealed with the current key yet, and its re-encryption run."""
    tenant_id = caller.tenant_id
    left = remaining(db, tenant_id)
    key_id = current_key_id(db, tenant_id)
    retired = db.scalar(select(func.count()).where(RetiredTenantKey.tenant_id == tenant_id)) or 0
    db.commit()  # hold no transaction (nor SQLite's lock) while asking Prefect
    run, available = _last_run(settings, tenant_id)
    return KeyRotationStatusRead(
        key_id=key_id,
        retired_keys=retired,
        remaining=left,
        remaining_total=sum(left.values()),
        reencryption=run,
        engine_available=available,
    )
