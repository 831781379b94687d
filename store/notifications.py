"""Messages for the users of a tenant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, IdMixin, TenantOwnedMixin, TimestampMixin
from store.sealed import EncryptedJSON, EncryptedText


class Notification(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    """A message for a user of a tenant (e.g. a step that failed after its last retry)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_tenant_user_created", "tenant_id", "user_id", "created_at"),)
    tenant_index = False  # found through a composite index or its parent row
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(EncryptedText("notifications.body"))
    data: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON("notifications.data"))
    read_at: Mapped[datetime | None]
