"""Tables of the integrations hub: tenant data keys, connections, the internal CRM, the outbox,
notifications and the side-effect ledger. Every tenant-owned row carries `tenant_id`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base, new_id, utcnow

DEAL_STAGES = ("lead", "qualified", "proposal", "negotiation", "won", "lost")


class TenantKey(Base):
    """A tenant's AES-256 data key, wrapped (AES-256-GCM) by the master key; never stored in clear."""

    __tablename__ = "tenant_keys"
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    wrapped_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Connection(Base):
    """A tenant's credentials for one service. The secrets live (encrypted) in the Prefect block
    `block_name`; this row keeps what may be shown: non-secret settings and which secrets are set."""

    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("tenant_id", "type", "name"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(60))
    block_name: Mapped[str] = mapped_column(String(200), unique=True)
    config: Mapped[dict[str, Any]]
    secrets_set: Mapped[dict[str, Any]]  # {"api_key": true}
    status: Mapped[str] = mapped_column(String(16), default="untested")  # untested, ok, failed, needs_auth
    last_error: Mapped[dict[str, Any] | None]
    use_for_alerts: Mapped[bool] = mapped_column(Boolean, default=False)
    token_expires_at: Mapped[datetime | None]
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_tested_at: Mapped[datetime | None]


class OAuthState(Base):
    """A pending OAuth authorisation: `state` (hashed) maps the callback to the connection;
    the PKCE verifier is sealed with the tenant's data key."""

    __tablename__ = "oauth_states"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    sealed_verifier: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class SideEffect(Base):
    """The idempotency ledger: one row per (tenant, execution + node) action that sends something."""

    __tablename__ = "side_effects"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(16))  # sending, done, uncertain
    result: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Notification(Base):
    """A message for a user of a tenant (e.g. a step that failed after its last retry)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_tenant_user_created", "tenant_id", "user_id", "created_at"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]


class Outbox(Base):
    """Record changes, written in the same transaction as the change; a dispatcher delivers them."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_undispatched", "dispatched_at", "created_at"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    topic: Mapped[str] = mapped_column(String(80))  # e.g. crm.contact.created
    record_type: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[str] = mapped_column(String(36))
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    dispatched_at: Mapped[datetime | None]


class CrmCompany(Base):
    __tablename__ = "crm_companies"
    __table_args__ = (Index("ix_crm_companies_tenant_name", "tenant_id", "name"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str | None] = mapped_column(String(253))
    properties: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CrmContact(Base):
    __tablename__ = "crm_contacts"
    __table_args__ = (UniqueConstraint("tenant_id", "email"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    email: Mapped[str | None] = mapped_column(String(320))  # lower-cased; unique per tenant
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str | None] = mapped_column(String(32))
    company_id: Mapped[str | None] = mapped_column(ForeignKey("crm_companies.id", ondelete="SET NULL"))
    properties: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CrmTag(Base):
    __tablename__ = "crm_tags"
    __table_args__ = (UniqueConstraint("contact_id", "name"), Index("ix_crm_tags_tenant_name", "tenant_id", "name"))
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    contact_id: Mapped[str] = mapped_column(ForeignKey("crm_contacts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(60))


class CrmDeal(Base):
    __tablename__ = "crm_deals"
    __table_args__ = (Index("ix_crm_deals_tenant_stage", "tenant_id", "stage"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(32), default="lead")
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    contact_id: Mapped[str | None] = mapped_column(ForeignKey("crm_contacts.id", ondelete="SET NULL"))
    company_id: Mapped[str | None] = mapped_column(ForeignKey("crm_companies.id", ondelete="SET NULL"))
    properties: Mapped[dict[str, Any]]
    closed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CrmActivity(Base):
    """A note or an activity (call, email, meeting, sms, task) about a contact, company or deal."""

    __tablename__ = "crm_activities"
    __table_args__ = (Index("ix_crm_activities_contact", "tenant_id", "contact_id", "occurred_at"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16), default="note")
    body: Mapped[str] = mapped_column(Text)
    contact_id: Mapped[str | None] = mapped_column(ForeignKey("crm_contacts.id", ondelete="CASCADE"))
    company_id: Mapped[str | None] = mapped_column(ForeignKey("crm_companies.id", ondelete="CASCADE"))
    deal_id: Mapped[str | None] = mapped_column(ForeignKey("crm_deals.id", ondelete="CASCADE"))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
