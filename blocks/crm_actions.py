"""The CRM as workflow steps (`crm.<action>`). A step that writes records its result in the
idempotency ledger in the same transaction as the change and its outbox row: a retry of the same
execution and node returns that result and changes nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from blocks.base import Action, ActionContext, ActionInput
from blocks.runtime import platform_sessions
from core.errors import Permanent
from crm import records
from crm.records import CrmError
from store import DEAL_STAGES, SideEffect, SideEffectStatus

ContactRef = Field(description="The contact: its id, or its exact email address.")
# Spelled out for the config's JSON Schema (an enum of words, as the UI expects); the same as DealStage.
Stage = Literal["lead", "qualified", "proposal", "negotiation", "won", "lost"]
assert set(Stage.__args__) == set(DEAL_STAGES)  # type: ignore[attr-defined]


def _run(
    ctx: ActionContext, action: str, change: Callable[[Session], dict[str, Any]], *, writes: bool
) -> dict[str, Any]:
    with platform_sessions().begin() as db:
        records.for_run(db, execution_id=ctx.execution_id, node_id=ctx.node_id, action=action)
        if writes:
            prior = db.scalar(
                select(SideEffect).where(SideEffect.tenant_id == ctx.tenant_id, SideEffect.key == ctx.idempotency_key)
            )
            if prior is not None and prior.status == SideEffectStatus.DONE:
                return prior.result or {}
        try:
            result = change(db)
        except CrmError as exc:
            raise Permanent(
                f"CRM: {exc.message}", hint=exc.hint, details={"field": exc.field} if exc.field else None
            ) from None
        if writes:
            db.add(
                SideEffect(
                    tenant_id=ctx.tenant_id,
                    key=ctx.idempotency_key,
                    action=action,
                    status=SideEffectStatus.DONE,
                    result=result,
                )
            )
        return result


def _step(node_type: str, *, writes: bool):
    def decorate(change: Callable[[Session, Any, ActionContext], dict[str, Any]]):
        async def run(_block: None, data: Any, ctx: ActionContext) -> dict[str, Any]:
            return await asyncio.to_thread(_run, ctx, node_type, lambda db: change(db, data, ctx), writes=writes)

        return run

    return decorate


def _contact(db: Session, ctx: ActionContext, ref: str):
    contact = records.find_contact(db, ctx.tenant_id, ref=ref.strip())
    if contact is None:
        raise Permanent(
            f"CRM: no contact '{ref}' in your CRM.",
            hint="Check the id or email, or create the contact first (e.g. an Upsert contact step).",
        )
    return contact


def _fields(data: BaseModel, *names: str) -> dict[str, Any]:
    return {n: getattr(data, n) for n in names if n in data.model_fields_set}


# --- shapes -------------------------------------------------------------------------------------


class ContactOut(BaseModel):
    id: str = Field(description="Contact id.")
    email: str | None = Field(description="Email address (lower-case).")
    first_name: str = Field(description="First name.")
    last_name: str = Field(description="Last name.")
    phone: str | None = Field(description="Phone number in international format.")
    company_id: str | None = Field(description="The contact's company.")
    properties: dict[str, Any] = Field(description="Custom fields.")
    tags: list[str] = Field(description="Tags, sorted.")


class DealOut(BaseModel):
    id: str = Field(description="Deal id.")
    title: str = Field(description="What is being sold.")
    stage: str = Field(description=f"One of {', '.join(DEAL_STAGES)}.")
    amount: float | None = Field(description="Value of the deal.")
    currency: str = Field(description="ISO currency code.")
    contact_id: str | None = Field(description="The deal's contact.")


class ContactWritten(BaseModel):
    contact: ContactOut = Field(description="The contact after the step.")
    created: bool = Field(description="True when the step created the contact.")


SAMPLE_CONTACT: dict[str, Any] = {
    "id": "2f1c0c1e-8f5e-4a43-9d0a-5b8b1f0e7a11",
    "email": "jane@example.com",
    "first_name": "Jane",
    "last_name": "Doe",
    "phone": "+14155550123",
    "company_id": None,
    "properties": {},
    "tags": ["vip"],
}
SAMPLE_DEAL = {
    "id": "8d6b2c7e-1a9f-4c3e-b1d2-7e4f5a6b8c9d",
    "title": "Website redesign",
    "stage": "proposal",
    "amount": 4800.0,
    "currency": "USD",
    "contact_id": SAMPLE_CONTACT["id"],
}


def _contact_out(db: Session, contact) -> dict[str, Any]:
    return ContactOut.model_validate(records.snapshot(db, "contact", contact)).model_dump()


def _deal_out(db: Session, deal) -> dict[str, Any]:
    return DealOut.model_validate(records.snapshot(db, "deal", deal)).model_dump()


class ContactFields(ActionInput):
    first_name: str | None = Field(default=None, max_length=100, description="First name.")
    last_name: str | None = Field(default=None, max_length=100, description="Last name.")
    phone: str | None = Field(default=None, description="Phone number, e.g. +14155550123.")
    company_id: str | None = Field(default=None, description="Id of the contact's company.")
    properties: dict[str, Any] | None = Field(default=None, description="Custom fields to set.")
    tags: list[str] | None = Field(default=None, description="Tags the contact should have (replaces its tags).")

    def values(self) -> dict[str, Any]:
        names = ("first_name", "last_name", "phone", "company_id", "properties", "tags")
        return {n: v for n, v in _fields(self, *names).items() if v is not None}


# --- find -----------------------------------------------------------------------------------------


class FindContactInput(ActionInput):
    email: str | None = Field(
        default=None, description="Find by email address: exact match (case-insensitive), not part of one."
    )
    phone: str | None = Field(
        default=None, description="Find by phone number: exact match of its + and digits, not part of one."
    )
    id: str | None = Field(default=None, description="Find by contact id.")


class FindContactOutput(BaseModel):
    found: bool = Field(description="Whether a contact matched.")
    contact: ContactOut | None = Field(description="The contact, when found.")


@_step("crm.find_contact", writes=False)
def find_contact(db: Session, data: FindContactInput, ctx: ActionContext) -> dict[str, Any]:
    if not (data.email or data.phone or data.id):
        raise Permanent(
            "CRM: give an email, a phone number or an id to find a contact.",
            hint="Map one of them from the trigger or an earlier step.",
        )
    contact = (
        records.get(db, ctx.tenant_id, "contact", data.id)
        if data.id
        else records.find_contact(db, ctx.tenant_id, email=data.email, phone=data.phone)
    )
    return {"found": contact is not None, "contact": _contact_out(db, contact) if contact else None}


# --- contacts -------------------------------------------------------------------------------------


class CreateContactInput(ContactFields):
    email: str | None = Field(default=None, description="Email address (unique in your CRM).")


@_step("crm.create_contact", writes=True)
def create_contact(db: Session, data: CreateContactInput, ctx: ActionContext) -> dict[str, Any]:
    values = data.values() | ({"email": data.email} if data.email else {})
    contact = records.write(
        db, test_data=ctx.test_mode, tenant_id=ctx.tenant_id, record_type="contact", op="create", values=values
    )
    return {"contact": _contact_out(db, contact), "created": True}


class UpdateContactInput(ContactFields):
    contact: str = ContactRef
    email: str | None = Field(default=None, description="New email address.")


@_step("crm.update_contact", writes=True)
def update_contact(db: Session, data: UpdateContactInput, ctx: ActionContext) -> dict[str, Any]:
    contact = _contact(db, ctx, data.contact)
    values = data.values() | ({"email": data.email} if data.email else {})
    records.write(
        db,
        test_data=ctx.test_mode,
        tenant_id=ctx.tenant_id,
        record_type="contact",
        op="update",
        record=contact,
        values=values,
    )
    return {"contact": _contact_out(db, contact), "created": False}


class UpsertContactInput(ContactFields):
    email: str = Field(description="Email address: the contact with it is updated, or created.")


@_step("crm.upsert_contact", writes=True)
def upsert_contact(db: Session, data: UpsertContactInput, ctx: ActionContext) -> dict[str, Any]:
    values = data.values() | {"email": data.email}
    contact = records.find_contact(db, ctx.tenant_id, email=records.contact_email(data.email))
    op: records.Op = "update" if contact else "create"
    contact = records.write(
        db,
        test_data=ctx.test_mode,
        tenant_id=ctx.tenant_id,
        record_type="contact",
        op=op,
        record=contact,
        values=values,
    )
    return {"contact": _contact_out(db, contact), "created": op == "create"}


class TagInput(ActionInput):
    contact: str = ContactRef
    tag: str = Field(max_length=60, description="The tag, e.g. vip (stored in lower case).")


def _retag(db: Session, data: TagInput, ctx: ActionContext, add: bool) -> dict[str, Any]:
    contact = _contact(db, ctx, data.contact)
    tags = set(records.snapshot(db, "contact", contact)["tags"])
    tag = data.tag.strip().lower()
    tags = tags | {tag} if add else tags - {tag}
    records.write(
        db,
        test_data=ctx.test_mode,
        tenant_id=ctx.tenant_id,
        record_type="contact",
        op="update",
        record=contact,
        values={"tags": sorted(tags)},
    )
    return {"contact": _contact_out(db, contact), "created": False}


@_step("crm.add_tag", writes=True)
def add_tag(db: Session, data: TagInput, ctx: ActionContext) -> dict[str, Any]:
    return _retag(db, data, ctx, add=True)


@_step("crm.remove_tag", writes=True)
def remove_tag(db: Session, data: TagInput, ctx: ActionContext) -> dict[str, Any]:
    return _retag(db, data, ctx, add=False)


# --- deals and activities -------------------------------------------------------------------------


class CreateDealInput(ActionInput):
    title: str = Field(max_length=200, description="What is being sold.")
    amount: float | None = Field(default=None, description="Value of the deal.")
    currency: str = Field(default="USD", description="ISO currency code.")
    stage: Stage = Field(default="lead", description="Stage of the deal.")
    contact: str | None = Field(default=None, description="The deal's contact: id or email.")


@_step("crm.create_deal", writes=True)
def create_deal(db: Session, data: CreateDealInput, ctx: ActionContext) -> dict[str, Any]:
    values = {"title": data.title, "amount": data.amount, "currency": data.currency, "stage": data.stage}
    if data.contact:
        values["contact_id"] = _contact(db, ctx, data.contact).id
    deal = records.write(
        db, test_data=ctx.test_mode, tenant_id=ctx.tenant_id, record_type="deal", op="create", values=values
    )
    return {"deal": _deal_out(db, deal), "previous_stage": None}


class MoveDealInput(ActionInput):
    deal_id: str = Field(description="Id of the deal.")
    stage: Stage = Field(description="The stage to move it to.")


class DealWritten(BaseModel):
    deal: DealOut = Field(description="The deal after the step.")
    previous_stage: str | None = Field(description="Its stage before (none for a new deal).")


@_step("crm.move_deal_stage", writes=True)
def move_deal_stage(db: Session, data: MoveDealInput, ctx: ActionContext) -> dict[str, Any]:
    deal = records.get(db, ctx.tenant_id, "deal", data.deal_id)
    if deal is None:
        raise Permanent(
            f"CRM: no deal with id {data.deal_id} in your CRM.", hint="Check the deal id mapped into this step."
        )
    previous = deal.stage
    records.write(
        db,
        test_data=ctx.test_mode,
        tenant_id=ctx.tenant_id,
        record_type="deal",
        op="update",
        record=deal,
        values={"stage": data.stage},
    )
    return {"deal": _deal_out(db, deal), "previous_stage": previous}


class LogActivityInput(ActionInput):
    contact: str = ContactRef
    kind: Literal["note", "call", "email", "meeting", "sms", "task"] = Field(
        default="note", description="What happened."
    )
    body: str = Field(max_length=20_000, description="What to record.")
    deal_id: str | None = Field(default=None, description="A deal it belongs to.")


class ActivityOut(BaseModel):
    id: str = Field(description="Activity id.")
    kind: str = Field(description="note, call, email, meeting, sms or task.")
    body: str = Field(description="The text.")
    contact_id: str | None = Field(description="The contact.")
    deal_id: str | None = Field(description="The deal, if any.")


@_step("crm.log_activity", writes=True)
def log_activity(db: Session, data: LogActivityInput, ctx: ActionContext) -> dict[str, Any]:
    values = {
        "kind": data.kind,
        "body": data.body,
        "contact_id": _contact(db, ctx, data.contact).id,
        "deal_id": data.deal_id,
    }
    activity = records.write(
        db, test_data=ctx.test_mode, tenant_id=ctx.tenant_id, record_type="activity", op="create", values=values
    )
    return ActivityOut.model_validate(records.snapshot(db, "activity", activity)).model_dump()


def _action(node_type: str, label: str, description: str, input_model, output_model, sample, run) -> Action:
    return Action(
        node_type=node_type,
        label=label,
        description=description,
        integration="crm",
        input_model=input_model,
        output_model=output_model,
        sample_output=sample,
        run=run,
        needs_connection=False,
        side_effect=False,
        effect=None if node_type == "crm.find_contact" else "CRM write",
    )


WRITTEN = {"contact": SAMPLE_CONTACT, "created": False}
ACTIONS = (
    _action(
        "crm.find_contact",
        "Find contact",
        "Looks a contact up by exact email, phone or id; outputs found: false when none matches.",
        FindContactInput,
        FindContactOutput,
        {"found": True, "contact": SAMPLE_CONTACT},
        find_contact,
    ),
    _action(
        "crm.create_contact",
        "Create contact",
        "Adds a contact to your CRM.",
        CreateContactInput,
        ContactWritten,
        {"contact": SAMPLE_CONTACT, "created": True},
        create_contact,
    ),
    _action(
        "crm.update_contact",
        "Update contact",
        "Changes fields of a contact found by id or email.",
        UpdateContactInput,
        ContactWritten,
        WRITTEN,
        update_contact,
    ),
    _action(
        "crm.upsert_contact",
        "Create or update contact",
        "Updates the contact with this email, or creates it.",
        UpsertContactInput,
        ContactWritten,
        WRITTEN,
        upsert_contact,
    ),
    _action("crm.add_tag", "Add tag", "Tags a contact.", TagInput, ContactWritten, WRITTEN, add_tag),
    _action(
        "crm.remove_tag", "Remove tag", "Removes a tag from a contact.", TagInput, ContactWritten, WRITTEN, remove_tag
    ),
    _action(
        "crm.create_deal",
        "Create deal",
        "Opens a deal, optionally for a contact.",
        CreateDealInput,
        DealWritten,
        {"deal": SAMPLE_DEAL, "previous_stage": None},
        create_deal,
    ),
    _action(
        "crm.move_deal_stage",
        "Move deal stage",
        "Moves a deal to another stage (won and lost close it).",
        MoveDealInput,
        DealWritten,
        {"deal": {**SAMPLE_DEAL, "stage": "won"}, "previous_stage": "proposal"},
        move_deal_stage,
    ),
    _action(
        "crm.log_activity",
        "Log activity",
        "Records a note, call, email, meeting, SMS or task on a contact.",
        LogActivityInput,
        ActivityOut,
        {
            "id": "0b4e9a1c-2d3f-4e5a-8b6c-7d8e9f0a1b2c",
            "kind": "note",
            "body": "Called about the proposal",
            "contact_id": SAMPLE_CONTACT["id"],
            "deal_id": None,
        },
        log_activity,
    ),
)
