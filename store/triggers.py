"""Trigger tables: webhook endpoints, subscriptions to data changes and named events, and the outbox of record changes that feeds them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, IdMixin, TenantOwnedMixin, TimestampMixin
from store.crm import FromTestRunMixin
from store.sealed import EncryptedJSON


class WebhookEndpoint(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    """`POST /hooks/<id>` of a published workflow. The secret is sealed with the tenant's data key."""

    __tablename__ = "webhook_endpoints"
    workflow_id: Mapped[str] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"), unique=True)
    sealed_secret: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    rotated_at: Mapped[datetime | None]


class TriggerSubscription(IdMixin, TenantOwnedMixin, Base):
    """A published workflow listening for CRM changes (`crm.deal.updated`) or named events (`event:order.paid`)."""

    __tablename__ = "trigger_subscriptions"
    __table_args__ = (Index("ix_trigger_subscriptions_lookup", "tenant_id", "topic"),)
    tenant_index = False  # found through a composite index or its parent row
    workflow_id: Mapped[str] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"), index=True)
    topic: Mapped[str] = mapped_column(String(120))
    config: Mapped[dict[str, Any]]


class Outbox(IdMixin, TenantOwnedMixin, TimestampMixin, FromTestRunMixin, Base):
    """Record changes, written in the same transaction as the change; a dispatcher delivers them
    (rows with `test_data` are marked delivered without starting anything)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_undispatched", "dispatched_at", "created_at"),)
    topic: Mapped[str] = mapped_column(String(80))  # e.g. crm.contact.created
    record_type: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[str] = mapped_column(String(36))
    before: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON("outbox.before"))
    after: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON("outbox.after"))
    dispatched_at: Mapped[datetime | None]
