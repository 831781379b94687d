"""Privacy: a workspace's data exports (the bundle is kept in the row, so that any API replica serves it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, IdMixin, TenantOwnedMixin, TimestampMixin


class PrivacyExport(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    """One export of everything a workspace owns; `done` of `total` kinds written so far."""

    __tablename__ = "privacy_exports"
    requested_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16))  # running, completed, failed
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer)
    error: Mapped[dict[str, Any] | None]
    bundle: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)  # loaded only to download
    finished_at: Mapped[datetime | None]
