"""Alerts raised by `engine.watch`: one open row per workspace, rule and subject until it clears."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, IdMixin, TenantOwnedMixin, TimestampMixin
from store.statuses import AlertStatus


class Alert(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index(  # at most one open alert per rule and subject: raised once, resolved once
            "uq_alerts_open",
            "tenant_id",
            "rule",
            "subject",
            unique=True,
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
        Index("ix_alerts_tenant_created", "tenant_id", "created_at"),
    )
    tenant_index = False  # found through its indexes
    rule: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(160))  # what it is about: a workflow, a step, the workspace
    workflow_id: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16), default=AlertStatus.OPEN)
    title: Mapped[str] = mapped_column(String(300))
    detail: Mapped[str] = mapped_column(Text)
    value: Mapped[dict[str, Any] | None]  # what was measured, and the threshold
    resolved_at: Mapped[datetime | None]
