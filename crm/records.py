"""The internal CRM's records, per tenant. Every change goes through `write`: it applies the change
and, in the same transaction, adds the outbox row (`crm.<type>.<created|updated|deleted>` with the
record before and after) that data-change triggers are dispatched from. The caller commits.
A test run's writes pass `test_data=True`: a record it creates is marked as test data, and the outbox
row of any change it makes is too, so no data-change trigger fires for it."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, NoReturn

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core import checks
from store import DEAL_STAGES, CrmActivity, CrmCompany, CrmContact, CrmDeal, CrmTag, DealStage, Outbox, utcnow

CrmRecord = CrmContact | CrmCompany | CrmDeal | CrmActivity
RECORD_TYPES: dict[str, type[CrmRecord]] = {
    "contact": CrmContact,
    "company": CrmCompany,
    "deal": CrmDeal,
    "activity": CrmActivity,
}
FIELDS = {
    "contact": ("email", "first_name", "last_name", "phone", "company_id", "properties", "tags"),
    "company": ("name", "domain", "properties"),
    "deal": ("title", "stage", "amount", "currency", "contact_id", "company_id", "properties"),
    "activity": ("kind", "body", "contact_id", "company_id", "deal_id", "occurred_at"),
}
ACTIVITY_KINDS = ("note", "call", "email", "meeting", "sms", "task")
CLOSED_STAGES = (DealStage.WON, DealStage.LOST)
Op = Literal["create", "update", "delete"]
_TOPIC = {"create": "created", "update": "updated", "delete": "deleted"}


class CrmError(Exception):
    """A CRM change that cannot be made; `status` is the HTTP status the API answers with."""

    def __init__(self, status: int, message: str, *, field: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field, self.hint = status, message, field, hint


def write(
    db: Session,
    *,
    tenant_id: str,
    record_type: str,
    op: Op,
    record: Any = None,
    values: dict[str, Any] | None = None,
    test_data: bool = False,
) -> Any:
    """The one way a CRM record changes (see the module docstring). Returns the record."""
    values = _clean(db, tenant_id, record_type, values or {}, record)
    before = snapshot(db, record_type, record) if record is not None else None
    if op == "create":
        model = RECORD_TYPES[record_type]
        fields = {k: v for k, v in values.items() if k != "tags"}
        if hasattr(model, "properties"):
            fields["properties"] = fields.get("properties") or {}
        record = model(tenant_id=tenant_id, test_data=test_data, **fields)
        db.add(record)
    elif op == "update":
        changed = {
            k: v
            for k, v in values.items()
            if ((before or {}).get("tags") != v if k == "tags" else getattr(record, k) != v)
        }
        for name, value in changed.items():
            if name != "tags":
                setattr(record, name, value)
        if hasattr(record, "updated_at") and changed:
            record.updated_at = utcnow()
    else:
        db.delete(record)
    db.flush()
    if "tags" in values and op != "delete":
        _set_tags(db, tenant_id, record, values["tags"])
    after = None if op == "delete" else snapshot(db, record_type, record)
    if _changed(before, after):
        db.add(
            Outbox(
                tenant_id=tenant_id,
                topic=f"crm.{record_type}.{_TOPIC[op]}",
                record_type=record_type,
                record_id=record.id,
                before=before,
                after=after,
                test_data=test_data,
            )
        )
        db.flush()
    return record


def _changed(before: dict | None, after: dict | None) -> bool:
    strip = lambda d: {k: v for k, v in (d or {}).items() if k != "updated_at"}  # noqa: E731
    return before is None or after is None or strip(before) != strip(after)


def snapshot(db: Session, record_type: str, record: Any) -> dict[str, Any]:
    """A record as JSON: what the outbox, the API and the nodes show."""
    columns = record.__table__.columns.keys()
    data = {name: _json_value(getattr(record, name)) for name in columns if name != "tenant_id"}
    if record_type == "contact":
        data["tags"] = sorted(db.scalars(select(CrmTag.name).where(CrmTag.contact_id == record.id)))
    return data


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _set_tags(db: Session, tenant_id: str, contact: CrmContact, tags: list[str]) -> None:
    current = set(db.scalars(select(CrmTag.name).where(CrmTag.contact_id == contact.id)))
    wanted = set(tags)
    if current - wanted:
        db.execute(delete(CrmTag).where(CrmTag.contact_id == contact.id, CrmTag.name.in_(current - wanted)))
    db.add_all(CrmTag(tenant_id=tenant_id, contact_id=contact.id, name=name) for name in sorted(wanted - current))
    db.flush()


# --- checks -----------------------------------------------------------------------------------


def _clean(db: Session, tenant_id: str, record_type: str, values: dict[str, Any], record: Any) -> dict[str, Any]:
    unknown = set(values) - set(FIELDS[record_type])
    if unknown:
        raise CrmError(
            422,
            f"unknown field '{sorted(unknown)[0]}'",
            field=sorted(unknown)[0],
            hint=f"{record_type} fields are: {', '.join(FIELDS[record_type])}",
        )
    values = dict(values)
    for name, check in _CHECKS.items():
        if name in values and values[name] not in (None, ""):
            try:
                values[name] = check(values[name])
            except ValueError as exc:
                raise CrmError(422, str(exc), field=name, hint=_HINTS.get(name)) from None
        elif name in values and name in ("email", "phone", "domain", "amount"):
            values[name] = None
    if "properties" in values:
        if not isinstance(values["properties"] or {}, dict):
            raise CrmError(422, "properties must be an object of custom fields", field="properties")
        values["properties"] = values["properties"] or {}
    for name in ("contact_id", "company_id", "deal_id"):
        if values.get(name):
            _require(db, tenant_id, name.removesuffix("_id"), values[name], field=name)
    if record_type == "contact" and values.get("email"):
        clash = db.scalar(
            select(CrmContact.id).where(CrmContact.tenant_id == tenant_id, CrmContact.email == values["email"])
        )
        if clash and (record is None or clash != record.id):
            raise CrmError(
                409,
                f"a contact with email {values['email']} already exists",
                field="email",
                hint="Update that contact, or use upsert to create-or-update by email.",
            )
    if record_type == "deal" and "stage" in values:
        values["closed_at"] = utcnow() if values["stage"] in CLOSED_STAGES else None
    for name in ("name", "title", "body"):
        if name in values and not str(values[name] or "").strip():
            raise CrmError(422, f"{name} must not be empty", field=name)
    return values


def _stage(value: Any) -> str:
    stage = str(value).strip().lower()
    if stage not in DEAL_STAGES:
        raise ValueError(f"'{value}' is not a deal stage")
    return stage


def _amount(value: Any) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"'{value}' is not an amount") from None
    if not amount.is_finite() or abs(amount) >= Decimal("1e12"):
        raise ValueError(f"'{value}' is not a usable amount")
    return amount.quantize(Decimal("0.01"))


def _kind(value: Any) -> str:
    if value not in ACTIVITY_KINDS:
        raise ValueError(f"'{value}' is not an activity kind")
    return value


def _tags(value: Any) -> list[str]:
    tags = [value] if isinstance(value, str) else list(value)
    cleaned = sorted({str(t).strip().lower() for t in tags if str(t).strip()})
    if any(len(t) > 60 for t in cleaned):
        raise ValueError("a tag is longer than 60 characters")
    return cleaned


_CHECKS: dict[str, Callable[[Any], Any]] = {
    "email": lambda v: checks.email_address(str(v)).lower(),
    "phone": checks.phone_number,
    "stage": _stage,
    "amount": _amount,
    "currency": lambda v: str(v).upper()
    if len(str(v)) == 3 and str(v).isalpha()
    else _raise(f"'{v}' is not a currency code"),
    "kind": _kind,
    "tags": _tags,
    "domain": lambda v: str(v).strip().lower(),
}
_HINTS = {
    "email": "Use an address like jane@example.com.",
    "phone": "Use international format, e.g. +14155550123.",
    "stage": f"Use one of: {', '.join(DEAL_STAGES)}.",
    "amount": "Use a number such as 1250.50.",
    "currency": "Use a three-letter ISO code, e.g. USD or EUR.",
    "kind": f"Use one of: {', '.join(ACTIVITY_KINDS)}.",
}


def contact_email(value: str) -> str:
    """A contact's email as stored (checked, lower-case); CrmError names the field otherwise."""
    try:
        return str(_CHECKS["email"](value))
    except ValueError as exc:
        raise CrmError(422, str(exc), field="email", hint=_HINTS["email"]) from None


def _raise(message: str) -> NoReturn:
    raise ValueError(message)


def _require(db: Session, tenant_id: str, record_type: str, record_id: str, *, field: str) -> None:
    if get(db, tenant_id, record_type, record_id) is None:
        raise CrmError(
            422,
            f"no {record_type} with id {record_id} in your CRM",
            field=field,
            hint=f"List your {record_type} records to find the right id.",
        )


# --- reads ------------------------------------------------------------------------------------


def get(db: Session, tenant_id: str, record_type: str, record_id: str) -> Any:
    model = RECORD_TYPES[record_type]
    return db.scalar(select(model).where(model.id == record_id, model.tenant_id == tenant_id))


def find_contact(
    db: Session, tenant_id: str, *, email: str | None = None, phone: str | None = None, ref: str | None = None
) -> CrmContact | None:
    """By email, by phone, or by `ref`: an id or an email address."""
    if ref:
        return find_contact(db, tenant_id, email=ref) if "@" in ref else get(db, tenant_id, "contact", ref)
    query = select(CrmContact).where(CrmContact.tenant_id == tenant_id)
    if email:
        return db.scalar(query.where(CrmContact.email == email.strip().lower()))
    if phone:
        try:
            phone = checks.phone_number(phone)
        except ValueError:
            return None
        return db.scalars(query.where(CrmContact.phone == phone).order_by(CrmContact.created_at)).first()
    return None
