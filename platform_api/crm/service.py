"""The CRM API. Reads query the tables; every change goes through crm.records.write, the one
write path, which also writes the change's outbox row in the same transaction."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel
from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm import records
from crm.records import CrmError, Op
from platform_api.crm.schemas import ContactUpsert
from platform_api.deps import Caller
from platform_api.pagination import paginate
from platform_api.problems import Problem, not_found
from platform_api.runs.schemas import run_status
from store import CrmActivity, CrmCompany, CrmContact, CrmDeal, CrmRecordRun, CrmTag, Execution, Role, Workflow

MAX_PAGE = 200


def _problem(exc: CrmError) -> Problem:
    slug = {404: "not-found", 409: "conflict"}.get(exc.status, "invalid-crm-record")
    return Problem(
        exc.status,
        slug,
        "CRM change refused",
        exc.message,
        hint=exc.hint,
        errors=[{"path": exc.field, "message": exc.message, "hint": exc.hint or ""}] if exc.field else None,
    )


def _owned(db: Session, caller: Caller, record_type: str, record_id: str) -> Any:
    record = records.get(db, caller.tenant_id, record_type, record_id)
    if record is None:
        raise not_found(record_type)
    return record


def _at_once() -> Problem:
    return Problem(
        409,
        "conflict",
        "CRM change refused",
        "Another change to the same record happened at once.",
        hint="Reload and try again.",
    )


def _commit(db: Session, record_type: str, record: Any) -> dict[str, Any]:
    try:
        data = records.snapshot(db, record_type, record)
        db.commit()
    except IntegrityError:
        db.rollback()
        raise _at_once() from None
    return data


def _write(
    db: Session, caller: Caller, record_type: str, op: Op, *, record: Any = None, values: dict[str, Any] | None = None
) -> dict[str, Any]:
    caller.require(Role.EDITOR, "change CRM records")
    try:
        record = records.write(
            db, tenant_id=caller.tenant_id, record_type=record_type, op=op, record=record, values=values
        )
    except CrmError as exc:
        db.rollback()
        raise _problem(exc) from None
    except IntegrityError:  # e.g. the same email written at once by another request (its unique blind index)
        db.rollback()
        raise _at_once() from None
    return _commit(db, record_type, record)


def create(db: Session, *, caller: Caller, record_type: str, data: BaseModel) -> dict[str, Any]:
    return _write(db, caller, record_type, "create", values=data.model_dump(exclude_none=True))


def update(db: Session, *, caller: Caller, record_type: str, record_id: str, data: BaseModel) -> dict[str, Any]:
    record = _owned(db, caller, record_type, record_id)
    return _write(db, caller, record_type, "update", record=record, values=data.model_dump(exclude_unset=True))


def delete(db: Session, *, caller: Caller, record_type: str, record_id: str) -> None:
    _write(db, caller, record_type, "delete", record=_owned(db, caller, record_type, record_id))


def read(db: Session, *, caller: Caller, record_type: str, record_id: str) -> dict[str, Any]:
    return records.snapshot(db, record_type, _owned(db, caller, record_type, record_id))


def upsert_contact(db: Session, *, caller: Caller, data: ContactUpsert) -> tuple[dict[str, Any], bool]:
    try:
        contact = records.find_contact(db, caller.tenant_id, email=records.contact_email(data.email))
    except CrmError as exc:
        raise _problem(exc) from None
    values = data.model_dump(exclude_unset=True)
    if contact is None:
        return _write(db, caller, "contact", "create", values=values), True
    return _write(db, caller, "contact", "update", record=contact, values=values), False


def tag(db: Session, *, caller: Caller, contact_id: str, name: str, add: bool) -> dict[str, Any]:
    contact = _owned(db, caller, "contact", contact_id)
    tags = set(records.snapshot(db, "contact", contact)["tags"])
    name = name.strip().lower()
    return _write(
        db,
        caller,
        "contact",
        "update",
        record=contact,
        values={"tags": sorted(tags | {name} if add else tags - {name})},
    )


def _search(db: Session, tenant_id: str, model: Any, q: str) -> ColumnElement[bool]:
    """`q` as a substring of the names, which are kept in clear for it (see store.crm), or for contacts an
    exact email or phone (sealed: through their blind indexes, so never a substring). Activities' bodies are
    sealed and not searched."""
    pattern = f"%{q.lower()}%"
    columns = {
        CrmContact: (CrmContact.first_name, CrmContact.last_name),
        CrmCompany: (CrmCompany.name, CrmCompany.domain),
        CrmDeal: (CrmDeal.title,),
    }.get(model, ())
    matches: list[ColumnElement[bool]] = [func.lower(column).like(pattern) for column in columns]
    if model is CrmContact and "@" in q:
        matches.append(records.contact_match(db, tenant_id, "email", q))
    if model is CrmContact and any(c.isdigit() for c in q):
        matches.append(records.contact_match(db, tenant_id, "phone", q))
    return or_(*matches) if matches else false()


def _filtered(db: Session, caller: Caller, model: Any, filters: dict[str, Any], q: str | None) -> Any:
    query = select(model).where(model.tenant_id == caller.tenant_id)
    for name, value in filters.items():
        if value is None:
            continue
        if name == "tag":
            query = query.where(
                model.id.in_(
                    select(CrmTag.contact_id).where(
                        CrmTag.tenant_id == caller.tenant_id, CrmTag.name == value.strip().lower()
                    )
                )
            )
        elif name == "email":  # sealed: exact match through its blind index
            query = query.where(records.contact_match(db, caller.tenant_id, "email", value))
        else:
            query = query.where(getattr(model, name) == value)
    if q and q.strip():
        query = query.where(_search(db, caller.tenant_id, model, q.strip()))
    return query


def list_records(
    db: Session,
    *,
    caller: Caller,
    record_type: str,
    filters: dict[str, Any],
    q: str | None,
    limit: int,
    offset: int,
    cursor: str | None = None,
    request: Request,
    response: Response,
) -> list[dict[str, Any]]:
    model: Any = records.RECORD_TYPES[record_type]  # the filters and columns below differ by record type
    query = _filtered(db, caller, model, filters, q)
    rows = paginate(
        db,
        query,
        order=((model.occurred_at if model is CrmActivity else model.created_at, True),),
        row_id=model.id,
        limit=min(limit, MAX_PAGE),
        cursor=cursor,
        request=request,
        response=response,
        offset=offset,
    )
    return [records.snapshot(db, record_type, row) for row in rows]


def filtered_contacts(db: Session, *, caller: Caller, filters: dict[str, Any], q: str | None, most: int) -> list[Any]:
    """The contacts of a list filter, oldest first, at most `most` (the CSV export)."""
    query = _filtered(db, caller, CrmContact, filters, q)
    return list(db.scalars(query.order_by(CrmContact.created_at, CrmContact.id).limit(most)))


def record_runs(
    db: Session,
    *,
    caller: Caller,
    record_type: str,
    record_id: str,
    limit: int,
    cursor: str | None,
    request: Request,
    response: Response,
) -> list[dict[str, Any]]:
    """The runs that touched a record (newest first): its steps that wrote it, the runs its changes started."""
    _owned(db, caller, record_type, record_id)
    query = (
        select(CrmRecordRun)
        .join(Execution, Execution.id == CrmRecordRun.execution_id)
        .where(
            CrmRecordRun.tenant_id == caller.tenant_id,
            CrmRecordRun.record_type == record_type,
            CrmRecordRun.record_id == record_id,
            Execution.tenant_id == caller.tenant_id,
        )
    )
    links = paginate(
        db,
        query,
        order=((CrmRecordRun.created_at, True),),
        row_id=CrmRecordRun.id,
        limit=min(limit, MAX_PAGE),
        cursor=cursor,
        request=request,
        response=response,
    )
    runs = {
        e.id: (e, name)
        for e, name in db.execute(
            select(Execution, Workflow.name)
            .join(Workflow, Workflow.id == Execution.workflow_id)
            .where(Execution.tenant_id == caller.tenant_id, Execution.id.in_({link.execution_id for link in links}))
        )
    }
    return [
        {
            "run_id": link.execution_id,
            "workflow_id": runs[link.execution_id][0].workflow_id,
            "workflow_name": runs[link.execution_id][1],
            "status": run_status(runs[link.execution_id][0].status),
            "mode": runs[link.execution_id][0].mode,
            "relation": link.relation,
            "action": link.action,
            "node_id": link.node_id,
            "at": link.created_at,
        }
        for link in links
        if link.execution_id in runs
    ]
