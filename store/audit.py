"""The audit trail: one append-only row per security-relevant act, hash-chained per tenant.

Each row stores the hash of the tenant's previous row (`prev_hash`) and its own `hash`, a SHA-256 over a
canonical JSON of its fields including `prev_hash`: altering, inserting or deleting a row breaks the chain
at that row. Writers of one tenant are serialised so the chain stays one line: on PostgreSQL by a
transaction-scoped advisory lock per tenant, on SQLite by its single writer (store.db begins immediate).
Acts without a tenant (a failed login for an unknown email) form a chain of their own (tenant_id NULL).

`record_event` is the row-writing core, usable from any layer (the worker records a run's use of a
connection); the API calls it through `platform_api.audit.service.audit`.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from store.base import Base, IdMixin, new_id, utcnow

REDACTED = "[redacted]"
SENSITIVE_KEY_PARTS = ("password", "passwd", "secret", "token", "credential", "authorization", "cookie", "key")
EMAIL = re.compile(r"[\w.%+'-]+@[\w-]+(\.[\w-]+)+")
BEARER_SECRET = re.compile(r"fy_[a-z]_[A-Za-z0-9_\-]+")


class AuditEvent(IdMixin, Base):
    """One act: who (a user or an API key; neither for an anonymous act), what, on which target, from where."""

    __tablename__ = "audit_events"
    __table_args__ = (
        UniqueConstraint("tenant_id", "seq", name="uq_audit_events_tenant_seq"),
        UniqueConstraint("tenant_id", "dedupe_key", name="uq_audit_events_tenant_dedupe"),
        Index("ix_audit_events_tenant_created", "tenant_id", "created_at"),
    )
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    actor_user_id: Mapped[str | None] = mapped_column(String(36))
    actor_api_key_id: Mapped[str | None] = mapped_column(String(36))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200))
    client_address: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    detail: Mapped[dict[str, Any]]
    dedupe_key: Mapped[str | None] = mapped_column(String(200))  # an act recorded at most once (None: always)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


def redact(value: Any, key: str = "") -> Any:
    """`value` with secrets, passwords, tokens and email addresses taken out, as plain JSON values."""
    lowered = key.lower()
    if lowered and not lowered.endswith("_id") and any(part in lowered for part in SENSITIVE_KEY_PARTS):
        return REDACTED
    if isinstance(value, dict):
        return {str(k): redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [redact(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return BEARER_SECRET.sub(REDACTED, EMAIL.sub(REDACTED, str(value).replace("\x00", "")))


def _as_utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def row_hash(row: AuditEvent) -> str:
    """SHA-256 over the canonical JSON of the row's fields, `prev_hash` included."""
    fields = {
        "id": row.id,
        "tenant_id": row.tenant_id,
        "seq": row.seq,
        "actor_user_id": row.actor_user_id,
        "actor_api_key_id": row.actor_api_key_id,
        "action": row.action,
        "target": row.target,
        "client_address": row.client_address,
        "created_at": _as_utc_text(row.created_at),
        "detail": row.detail,
        "dedupe_key": row.dedupe_key,
        "prev_hash": row.prev_hash,
    }
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _lock_chain(db: Session, tenant_id: str | None) -> None:
    """Serialise the tenant's writers until the transaction ends (PostgreSQL; SQLite has one writer)."""
    if db.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"flowyard.audit:{tenant_id or ''}".encode()).digest()
    db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": int.from_bytes(digest[:8], "big", signed=True)})


def _same_tenant(tenant_id: str | None) -> Any:
    return AuditEvent.tenant_id.is_(None) if tenant_id is None else AuditEvent.tenant_id == tenant_id


def record_event(
    db: Session,
    *,
    tenant_id: str | None,
    action: str,
    target: str,
    actor_user_id: str | None = None,
    actor_api_key_id: str | None = None,
    client_address: str | None = None,
    detail: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
) -> AuditEvent | None:
    """Append one row to the tenant's chain in `db`'s transaction (the caller commits). With `dedupe_key`,
    nothing is added when the tenant already has a row with that key; returns the row added, if any."""
    _lock_chain(db, tenant_id)
    if dedupe_key is not None and db.scalar(
        select(AuditEvent.id).where(_same_tenant(tenant_id), AuditEvent.dedupe_key == dedupe_key)
    ):
        return None
    last = db.execute(
        select(AuditEvent.seq, AuditEvent.hash).where(_same_tenant(tenant_id)).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    row = AuditEvent(
        id=new_id(),
        tenant_id=tenant_id,
        seq=last.seq + 1 if last else 1,
        actor_user_id=actor_user_id,
        actor_api_key_id=actor_api_key_id,
        action=action,
        target=str(redact(target))[:200],
        client_address=client_address[:64] if client_address else None,
        created_at=utcnow(),
        detail=redact(detail or {}),
        dedupe_key=dedupe_key,
        prev_hash=last.hash if last else None,
    )
    row.hash = row_hash(row)
    db.add(row)
    db.flush()
    return row
