"""The idempotency ledger of side effects."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, IdMixin, TenantOwnedMixin, TimestampMixin, utcnow
from store.sealed import EncryptedJSON


class SideEffect(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    """The idempotency ledger: one row per (tenant, execution + node) action that sends something."""

    __tablename__ = "side_effects"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)
    tenant_index = False  # found through a composite index or its parent row
    key: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(16))  # a SideEffectStatus
    result: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON("side_effects.result"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
