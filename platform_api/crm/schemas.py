from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Stage = Literal["lead", "qualified", "proposal", "negotiation", "won", "lost"]
Kind = Literal["note", "call", "email", "meeting", "sms", "task"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


TEST_DATA = Field(
    False, description="True when a test run wrote this record (test runs never fire data-change triggers)."
)


class ContactCreate(_Request):
    email: str | None = Field(None, max_length=320, description="Unique in your CRM.")
    first_name: str = Field("", max_length=100)
    last_name: str = Field("", max_length=100)
    phone: str | None = Field(None, description="International format, e.g. +14155550123.")
    company_id: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict, description="Custom fields.")
    tags: list[str] = Field(default_factory=list)


class ContactUpdate(_Request):
    email: str | None = Field(None, max_length=320)
    first_name: str | None = Field(None, max_length=100)
    last_name: str | None = Field(None, max_length=100)
    phone: str | None = None
    company_id: str | None = None
    properties: dict[str, Any] | None = None
    tags: list[str] | None = Field(None, description="Replaces the contact's tags.")


class ContactUpsert(ContactUpdate):
    email: str = Field(max_length=320, description="The contact with this email is updated, or created.")


class ContactRead(BaseModel):
    id: str
    email: str | None
    first_name: str
    last_name: str
    phone: str | None
    company_id: str | None
    properties: dict[str, Any]
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    test_data: bool = TEST_DATA


class TagCreate(_Request):
    name: str = Field(min_length=1, max_length=60)


class CompanyCreate(_Request):
    name: str = Field(min_length=1, max_length=200)
    domain: str | None = Field(None, max_length=253)
    properties: dict[str, Any] = Field(default_factory=dict)


class CompanyUpdate(_Request):
    name: str | None = Field(None, min_length=1, max_length=200)
    domain: str | None = Field(None, max_length=253)
    properties: dict[str, Any] | None = None


class CompanyRead(BaseModel):
    id: str
    name: str
    domain: str | None
    properties: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    test_data: bool = TEST_DATA


class DealCreate(_Request):
    title: str = Field(min_length=1, max_length=200)
    stage: Stage = "lead"
    amount: float | None = None
    currency: str = Field("USD", min_length=3, max_length=3)
    contact_id: str | None = None
    company_id: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)


class DealUpdate(_Request):
    title: str | None = Field(None, min_length=1, max_length=200)
    stage: Stage | None = None
    amount: float | None = None
    currency: str | None = Field(None, min_length=3, max_length=3)
    contact_id: str | None = None
    company_id: str | None = None
    properties: dict[str, Any] | None = None


class DealRead(BaseModel):
    id: str
    title: str
    stage: Stage
    amount: float | None
    currency: str
    contact_id: str | None
    company_id: str | None
    properties: dict[str, Any]
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    test_data: bool = TEST_DATA


class ActivityCreate(_Request):
    kind: Kind = "note"
    body: str = Field(min_length=1, max_length=20_000)
    contact_id: str | None = None
    company_id: str | None = None
    deal_id: str | None = None
    occurred_at: datetime | None = None


class ActivityRead(BaseModel):
    id: str
    kind: Kind
    body: str
    contact_id: str | None
    company_id: str | None
    deal_id: str | None
    occurred_at: datetime
    created_at: datetime
    test_data: bool = TEST_DATA


class RecordRunRead(BaseModel):
    """A run that touched a record: one of its steps wrote it, or a change to it started the run."""

    run_id: str = Field(description="The run (open it at #/runs/<run_id>, or GET /api/v1/runs/<run_id>).")
    workflow_id: str
    workflow_name: str
    status: str = Field(description="The run's status, as GET /api/v1/runs/<run_id> gives it.")
    mode: str = Field(description="live or test.")
    relation: Literal["wrote", "triggered"] = Field(
        description="wrote: a step of the run changed the record; triggered: a change to the record started the run."
    )
    action: str = Field(description="The step's type (e.g. crm.move_deal_stage), or trigger.data_change.")
    node_id: str | None = Field(description="The step that wrote the record (none for a triggered run).")
    at: datetime = Field(description="When the step wrote the record, or when the change queued the run.")


ImportTarget = str  # a contact field (IMPORT_FIELDS), `properties.<name>` for a custom field, or null to skip


class ImportPreview(BaseModel):
    """What a CSV file holds, for the mapping step: its header, its first rows and a suggested mapping."""

    headers: list[str] = Field(description="The file's first row.")
    rows: list[list[str]] = Field(description="Its first data rows (at most 5), as the file has them.")
    total_rows: int = Field(description="How many data rows the file has.")
    delimiter: str = Field(description="The separator found: ',', ';' or a tab.")
    fields: list[str] = Field(description="The contact fields a column can be mapped to (or properties.<name>).")
    suggested: list[str | None] = Field(description="One target per column, guessed from the headers (null: skip).")
