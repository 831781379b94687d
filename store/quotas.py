"""Per-tenant quotas: a tenant's own limits where they differ from the platform's defaults
(`core.settings.QuotaSettings`), and per-minute counts of its triggers.

The counts live in the database, not in a process, so that every API replica adds to the same count: one
atomic upsert per trigger (`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`) both counts and tells how
many came before, without a read-then-write race. Rows of past minutes are deleted as new minutes begin.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import BigInteger, Index, Integer, PrimaryKeyConstraint, String, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from store.base import Base, TenantOwnedMixin
from store.executions import Execution


class TriggerKind(StrEnum):
    """What a per-minute count counts."""

    WEBHOOK = "webhook"
    EVENT = "event"


class TenantQuota(TenantOwnedMixin, Base):
    """A tenant's own quotas; an empty column (or no row) means the platform's default. Operators write
    these rows; the API only reads them (the tenant role may not write them, migration 0008)."""

    __tablename__ = "tenant_quotas"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", name="pk_tenant_quotas"),)
    tenant_index = False  # the primary key
    max_queued: Mapped[int | None] = mapped_column(Integer)
    webhooks_per_minute: Mapped[int | None] = mapped_column(Integer)
    events_per_minute: Mapped[int | None] = mapped_column(Integer)


class TenantMinuteCount(TenantOwnedMixin, Base):
    """How many triggers of one kind a tenant sent in one minute (minutes since the epoch, UTC)."""

    __tablename__ = "tenant_minute_counts"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "kind", "minute", name="pk_tenant_minute_counts"),)
    tenant_index = False  # the primary key
    kind: Mapped[str] = mapped_column(String(16))
    minute: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer)


# A tenant's executions by status, oldest first: the dispatcher's per-tenant claim and the count of a
# tenant's queued executions read it. Declared here, with the quotas that need it (migration 0008).
Index("ix_executions_tenant_status_created", Execution.tenant_id, Execution.status, Execution.created_at)


def count_one(db: Session, *, tenant_id: str, kind: TriggerKind, minute: int) -> int:
    """Add one to the tenant's count of `kind` in `minute`; returns the count including this one.
    Not committed: commit soon, the row stays locked until then."""
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(TenantMinuteCount)
        .values(tenant_id=tenant_id, kind=str(kind), minute=minute, count=1)
        .on_conflict_do_update(
            index_elements=["tenant_id", "kind", "minute"], set_={"count": TenantMinuteCount.count + 1}
        )
        .returning(TenantMinuteCount.count)
    )
    count = int(db.execute(statement).scalar_one())
    if count == 1:  # the tenant's first of a new minute: forget the minutes before the last one
        db.execute(
            delete(TenantMinuteCount).where(
                TenantMinuteCount.tenant_id == tenant_id,
                TenantMinuteCount.kind == str(kind),
                TenantMinuteCount.minute < minute - 1,
            )
        )
    return count
