"""The audit trail's service: recording an act (`audit`, called by every area's services), listing,
verifying and exporting a tenant's chain. Rows are only ever added: nothing here changes or deletes one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request, Response
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, sessionmaker

from platform_api.audit import schemas
from platform_api.deps import Caller
from platform_api.pagination import paginate
from store import AuditEvent, record_event
from store.audit import row_hash
from store.db import scope_to_tenant

BATCH = 500  # rows read at a time by verify and export


def audit(
    db: Session,
    caller: Caller | None,
    action: str,
    target: str,
    *,
    request: Request | None = None,
    detail: dict[str, Any] | None = None,
    tenant_id: str | None = None,
) -> None:
    """Add one audit row to `db` (the caller's transaction commits it with the act). `tenant_id` defaults to
    caller.tenant_id; actor = caller.user_id / caller.api_key_id (None for anonymous acts such as a failed login);
    client address from request.client; `detail` is redacted (no secrets, passwords, tokens, emails of erased people)."""
    by_key = caller is not None and caller.api_key_id is not None
    record_event(
        db,
        tenant_id=tenant_id or (caller.tenant_id if caller else None),
        action=action,
        target=target,
        actor_user_id=caller.user_id if caller and not by_key else None,
        actor_api_key_id=caller.api_key_id if caller else None,
        client_address=request.client.host if request is not None and request.client else None,
        detail=detail,
    )


@dataclass(frozen=True)
class AuditFilter:
    """`action` ending in `.*` matches every action of that kind (`workflow.*`)."""

    actor: str | None = None
    action: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def apply(self, query: Select[Any]) -> Select[Any]:
        if self.actor:
            query = query.where(or_(AuditEvent.actor_user_id == self.actor, AuditEvent.actor_api_key_id == self.actor))
        if self.action and self.action.endswith(".*"):
            query = query.where(AuditEvent.action.startswith(self.action[:-1], autoescape=True))
        elif self.action:
            query = query.where(AuditEvent.action == self.action)
        if self.target:
            query = query.where(AuditEvent.target == self.target)
        if self.since:
            query = query.where(AuditEvent.created_at >= self.since)
        if self.until:
            query = query.where(AuditEvent.created_at < self.until)
        return query


def list_events(
    db: Session,
    *,
    caller: Caller,
    where: AuditFilter,
    limit: int,
    cursor: str | None,
    request: Request,
    response: Response,
) -> list[AuditEvent]:
    """A page of the tenant's rows, newest first."""
    query = where.apply(select(AuditEvent).where(AuditEvent.tenant_id == caller.tenant_id))
    return paginate(
        db,
        query,
        order=((AuditEvent.seq, True),),
        row_id=AuditEvent.id,
        limit=limit,
        cursor=cursor,
        request=request,
        response=response,
    )


def _chain(db: Session, tenant_id: str) -> Iterator[AuditEvent]:
    """The tenant's rows in chain order, read in batches."""
    after = 0
    while True:
        rows = list(
            db.scalars(
                select(AuditEvent)
                .where(AuditEvent.tenant_id == tenant_id, AuditEvent.seq > after)
                .order_by(AuditEvent.seq)
                .limit(BATCH)
            )
        )
        yield from rows
        if len(rows) < BATCH:
            return
        after = rows[-1].seq
        db.expunge_all()


def verify(db: Session, *, caller: Caller) -> schemas.AuditVerification:
    """Recompute each row's hash and check it links to the row before: an altered row fails on its own hash,
    a removed one on the next row's `prev_hash` and `seq`."""
    checked, prev_hash, expected_seq = 0, None, 1
    for row in _chain(db, caller.tenant_id):
        if row.seq != expected_seq or row.prev_hash != prev_hash or row.hash != row_hash(row):
            return schemas.AuditVerification(ok=False, checked=checked, first_bad_id=row.id)
        checked, prev_hash, expected_seq = checked + 1, row.hash, row.seq + 1
    return schemas.AuditVerification(ok=True, checked=checked, first_bad_id=None)


def export_lines(sessions: sessionmaker[Session], *, caller: Caller, switch_role: bool) -> Iterator[bytes]:
    """The tenant's chain as JSON Lines, one row a line, oldest first; read with a session of its own, since
    the response outlives the request's."""
    with sessions() as db:
        scope_to_tenant(db, tenant_id=caller.tenant_id, switch_role=switch_role)
        for row in _chain(db, caller.tenant_id):
            line = schemas.AuditEventRead.model_validate(row).model_dump(mode="json")
            yield (json.dumps(line, ensure_ascii=False) + "\n").encode()
