"""Messages for the users of a tenant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from store.base import Base, IdMixin, JsonType, TenantOwnedMixin, TimestampMixin
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


class NotificationPreference(IdMixin, TenantOwnedMixin, Base):
    """A user's choices about the emails of one workspace. No row: every email is sent (the default)."""

    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id"),)
    tenant_index = False  # the unique constraint leads with it
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    email_muted: Mapped[list[str]] = mapped_column(JsonType, default=list)  # e.g. ["step_failed", "alerts"]


def emails_muted_by(db: Session, tenant_id: str, kind: str) -> set[str]:
    """The ids of the workspace's users who turned off emails of `kind` (`step_failed` or `alerts`)."""
    rows = db.execute(
        select(NotificationPreference.user_id, NotificationPreference.email_muted).where(
            NotificationPreference.tenant_id == tenant_id
        )
    )
    return {user_id for user_id, muted in rows if kind in (muted or [])}
