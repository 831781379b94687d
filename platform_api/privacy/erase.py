"""Erasing one person from a workspace, found by email address: CRM rows are deleted; the executions that
carried them keep their status and times but lose their input and their steps' inputs and outputs; outbox
snapshots, side-effect results and notifications that name them are pseudonymised; and the Prefect flow runs
that ran those executions are deleted, which deletes their log lines (Prefect has no way to edit a log line).

Rows that name the person are found by the address inside their JSON (as text, case-insensitive), so no row
is missed for the shape of its payload. CRM rows are sealed at rest: contacts are found through the blind index
of their email, the outbox snapshots of what is deleted by their record, and notes are opened and read."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from sqlalchemy import Select, delete, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from core.settings import Settings
from crm import records
from platform_api.audit.service import audit
from platform_api.deps import Caller
from platform_api.privacy import schemas
from platform_api.privacy.prefect import delete_flow_runs
from store import (
    Batch,
    CrmActivity,
    CrmContact,
    Execution,
    ExecutionStatus,
    Notification,
    Outbox,
    RunSearchKey,
    SideEffect,
    StepResult,
    utcnow,
)

ERASED = "[erased]"
ERASED_PAYLOAD = {"erased": True}


def _mentions(value: Any, email: str) -> bool:
    """The value holds the address somewhere. Payloads are sealed, so rows are opened and read here rather
    than searched in SQL: an erasure reads every payload row of the workspace once, in pages."""
    if value is None:
        return False
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return email in text.lower()


def _rows_mentioning(db: Session, query: Select[*tuple[Any, ...]], email: str) -> list[Any]:
    """The rows of `query` (id first, then payload columns) where a payload mentions the address."""
    rows = db.execute(query.execution_options(yield_per=500))
    return [row[0] for row in rows if any(_mentions(value, email) for value in row[1:])]


def scrub(value: Any, email: str) -> Any:
    """`value` with every string that holds the address replaced."""
    if isinstance(value, dict):
        return {key: scrub(item, email) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item, email) for item in value]
    if isinstance(value, str) and email in value.lower():
        return ERASED
    return value


def _person_executions(db: Session, tenant_id: str, email: str) -> list[str]:
    by_input = select(Execution.id, Execution.input, Execution.error).where(Execution.tenant_id == tenant_id)
    by_step = select(StepResult.execution_id, *_step_payloads()).where(StepResult.tenant_id == tenant_id)
    return sorted(set(_rows_mentioning(db, by_input, email)) | set(_rows_mentioning(db, by_step, email)))


def _step_payloads() -> tuple[InstrumentedAttribute[Any], ...]:
    return StepResult.input, StepResult.output, StepResult.error, StepResult.decision


def _flow_runs_of(db: Session, execution_ids: list[str]) -> list[str]:
    query = select(Batch.flow_run_id).join(Execution, Execution.batch_id == Batch.id)
    return [i for i in db.scalars(query.where(Execution.id.in_(execution_ids))) if i]


def _erase_crm(db: Session, tenant_id: str, email: str) -> dict[str, int]:
    contact_ids = list(  # the email is sealed: found through its blind index
        db.scalars(
            select(CrmContact.id).where(
                CrmContact.tenant_id == tenant_id, records.contact_match(db, tenant_id, "email", email)
            )
        )
    )
    notes = select(CrmActivity.id, CrmActivity.body).where(CrmActivity.tenant_id == tenant_id)
    activities = db.scalars(
        delete(CrmActivity)
        .where(
            CrmActivity.tenant_id == tenant_id,
            or_(CrmActivity.contact_id.in_(contact_ids), CrmActivity.id.in_(_rows_mentioning(db, notes, email))),
        )
        .returning(CrmActivity.id),
        execution_options={"synchronize_session": False},
    ).all()
    db.execute(
        delete(CrmContact).where(CrmContact.id.in_(contact_ids)), execution_options={"synchronize_session": False}
    )
    snapshots = db.scalars(
        select(Outbox).where(
            Outbox.tenant_id == tenant_id,
            or_(
                Outbox.record_id.in_([*contact_ids, *activities]),
                Outbox.id.in_(
                    _rows_mentioning(
                        db, select(Outbox.id, Outbox.before, Outbox.after).where(Outbox.tenant_id == tenant_id), email
                    )
                ),
            ),
        )
    ).all()
    for row in snapshots:
        row.before = row.after = ERASED_PAYLOAD
        row.dispatched_at = row.dispatched_at or utcnow()  # an erased person's change never starts a workflow
    return {"crm_contacts": len(contact_ids), "crm_activities": len(activities), "outbox_snapshots": len(snapshots)}


WAIT_TO_RUN_ON = (ExecutionStatus.QUEUED, ExecutionStatus.WAITING, ExecutionStatus.NEEDS_ATTENTION)


def _erase_executions(db: Session, execution_ids: list[str], email: str) -> dict[str, int]:
    executions = db.scalars(select(Execution).where(Execution.id.in_(execution_ids))).all()
    for execution in executions:
        if execution.status in WAIT_TO_RUN_ON:  # not to run on without its input
            execution.status, execution.ended_at, execution.resume_at = ExecutionStatus.CANCELLED, utcnow(), None
            execution.error = {"message": "Cancelled: the person it was for was erased.", "retryable": False}
        execution.input = ERASED_PAYLOAD
        execution.error = scrub(execution.error, email)
    db.execute(delete(RunSearchKey).where(RunSearchKey.execution_id.in_(execution_ids)))
    steps = db.scalars(select(StepResult).where(StepResult.execution_id.in_(execution_ids))).all()
    for step in steps:
        step.input = step.output = step.decision = None
        step.error = scrub(step.error, email)
    return {"executions": len(executions), "step_results": len(steps)}


def _scrub_rows(db: Session, tenant_id: str, email: str) -> dict[str, int]:
    mentioning = _rows_mentioning(
        db, select(SideEffect.id, SideEffect.result).where(SideEffect.tenant_id == tenant_id), email
    )
    effects = db.scalars(select(SideEffect).where(SideEffect.id.in_(mentioning))).all()
    for effect in effects:
        effect.result = scrub(effect.result, email)
    about = select(Notification.id, Notification.data, Notification.body).where(Notification.tenant_id == tenant_id)
    notes = db.scalars(select(Notification).where(Notification.id.in_(_rows_mentioning(db, about, email)))).all()
    for note in notes:
        note.data = scrub(note.data, email)
        note.body = ERASED if email in note.body.lower() else note.body
    return {"side_effects": len(effects), "notifications": len(notes)}


def erase_person(
    db: Session, *, caller: Caller, request: Request, data: schemas.ErasureCreate, settings: Settings
) -> schemas.ErasureRead:
    """Prefect first (it may be unreachable: then nothing is changed, and the request can be repeated), then
    every row in one transaction with its audit row, which records the counts but never the address."""
    email = data.email.strip().lower()
    execution_ids = _person_executions(db, caller.tenant_id, email)
    flow_runs = delete_flow_runs(settings, _flow_runs_of(db, execution_ids))
    touched = {
        **_erase_crm(db, caller.tenant_id, email),
        **_erase_executions(db, execution_ids, email),
        **_scrub_rows(db, caller.tenant_id, email),
        "prefect_flow_runs": flow_runs,
    }
    audit(db, caller, "privacy.erased", "privacy:erasure", request=request, detail={"touched": touched})
    db.commit()
    return schemas.ErasureRead(touched=touched)
