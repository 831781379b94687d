"""The internal CRM: companies, contacts, tags, deals and activities."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Numeric, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, IdMixin, TenantOwnedMixin, TimestampMixin, utcnow
from store.sealed import EncryptedJSON, EncryptedText
from store.statuses import DealStage


class FromTestRunMixin:
    """`test_data` marks a row a test run wrote: the CRM API shows it flagged (or filters it out) and
    the outbox never turns it into a data-change execution, so a test run cannot start a live workflow."""

    test_data: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


# Names stay in clear, a deliberate choice (issue 22): contacts' first and last names, company names and
# domains, and deal titles are what the CRM's text search (`?q=`) matches as substrings, which neither
# ciphertext nor a blind index (exact match only) allows. A copy of the database shows them, but not the
# contact's email, phone, custom properties or notes: those are sealed (docs/operations.md, "Find contacts").


class CrmCompany(IdMixin, TenantOwnedMixin, TimestampMixin, FromTestRunMixin, Base):
    __tablename__ = "crm_companies"
    __table_args__ = (Index("ix_crm_companies_tenant_name", "tenant_id", "name"),)
    tenant_index = False  # found through a composite index or its parent row
    name: Mapped[str] = mapped_column(String(200))  # in clear: substring search (see the note above)
    domain: Mapped[str | None] = mapped_column(String(253))  # in clear: substring search
    properties: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON("crm_companies.properties"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CrmContact(IdMixin, TenantOwnedMixin, TimestampMixin, FromTestRunMixin, Base):
    __tablename__ = "crm_contacts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "email"),  # from before sealing; never met by ciphertext, but kept: SQLite
        Index("uq_crm_contacts_tenant_email_index", "tenant_id", "email_index", unique=True),  # cannot drop it
        Index("ix_crm_contacts_tenant_phone_index", "tenant_id", "phone_index"),
    )
    email: Mapped[str | None] = mapped_column(EncryptedText("crm_contacts.email"))  # lower-cased
    email_index: Mapped[str | None] = mapped_column(String(64))  # blind index of `email`: unique per tenant
    first_name: Mapped[str] = mapped_column(String(100), default="")  # in clear: substring search (note above)
    last_name: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str | None] = mapped_column(EncryptedText("crm_contacts.phone"))
    phone_index: Mapped[str | None] = mapped_column(String(64))  # blind index of `phone` (digits and +)
    company_id: Mapped[str | None] = mapped_column(ForeignKey("crm_companies.id", ondelete="SET NULL"))
    properties: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON("crm_contacts.properties"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CrmTag(IdMixin, TenantOwnedMixin, Base):
    __tablename__ = "crm_tags"
    __table_args__ = (UniqueConstraint("contact_id", "name"), Index("ix_crm_tags_tenant_name", "tenant_id", "name"))
    tenant_index = False  # found through a composite index or its parent row
    contact_id: Mapped[str] = mapped_column(ForeignKey("crm_contacts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(60))


class CrmDeal(IdMixin, TenantOwnedMixin, TimestampMixin, FromTestRunMixin, Base):
    __tablename__ = "crm_deals"
    __table_args__ = (Index("ix_crm_deals_tenant_stage", "tenant_id", "stage"),)
    tenant_index = False  # found through a composite index or its parent row
    title: Mapped[str] = mapped_column(String(200))  # in clear: substring search (note above CrmCompany)
    stage: Mapped[str] = mapped_column(String(32), default=DealStage.LEAD)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    contact_id: Mapped[str | None] = mapped_column(ForeignKey("crm_contacts.id", ondelete="SET NULL"))
    company_id: Mapped[str | None] = mapped_column(ForeignKey("crm_companies.id", ondelete="SET NULL"))
    properties: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON("crm_deals.properties"))
    closed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CrmActivity(IdMixin, TenantOwnedMixin, TimestampMixin, FromTestRunMixin, Base):
    """A note or an activity (call, email, meeting, sms, task) about a contact, company or deal."""

    __tablename__ = "crm_activities"
    __table_args__ = (Index("ix_crm_activities_contact", "tenant_id", "contact_id", "occurred_at"),)
    tenant_index = False  # found through a composite index or its parent row
    kind: Mapped[str] = mapped_column(String(16), default="note")
    body: Mapped[str] = mapped_column(EncryptedText("crm_activities.body"))
    contact_id: Mapped[str | None] = mapped_column(ForeignKey("crm_contacts.id", ondelete="CASCADE"))
    company_id: Mapped[str | None] = mapped_column(ForeignKey("crm_companies.id", ondelete="CASCADE"))
    deal_id: Mapped[str | None] = mapped_column(ForeignKey("crm_deals.id", ondelete="CASCADE"))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)


class CrmRecordRun(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    """A run that touched a CRM record, for the record page's "workflows that touched this record": a step of
    the run wrote the record (`relation` "wrote", `action` the step's type, e.g. crm.move_deal_stage), or a change
    to the record started the run through a data-change trigger ("triggered", `action` trigger.data_change).
    Written in the same transaction as the change (crm.records.write) or the queued execution (engine.outbox).
    No foreign key to the record: a link outlives the record's deletion, and goes with its execution."""

    __tablename__ = "crm_record_runs"
    __table_args__ = (Index("ix_crm_record_runs_record", "tenant_id", "record_id", "created_at"),)
    tenant_index = False  # found through a composite index or its parent row
    record_type: Mapped[str] = mapped_column(String(16))
    record_id: Mapped[str] = mapped_column(String(36))
    execution_id: Mapped[str] = mapped_column(ForeignKey("executions.id", ondelete="CASCADE"), index=True)
    node_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(60))
    relation: Mapped[str] = mapped_column(String(16))  # wrote | triggered
