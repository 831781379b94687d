"""The internal CRM's records, per tenant. Every change goes through `write`: it applies the change
and, in the same transaction, adds the outbox row (`crm.<type>.<created|updated|deleted>` with the
record before and after) that data-change triggers are dispatched from. The caller commits.
A test run's writes pass `test_data=True`: a record it creates is marked as test data, and the outbox
row of any change it makes is too, so no data-change trigger fires for it.
A workflow step marks its session with `for_run` (execution, node, step type) before it writes: each record it
writes (and, for an activity, the records the activity is about) then gets a `CrmRecordRun` link to the run in
the same transaction, which the record page lists as "workflows that touched this record".

A contact's email and phone are sealed at rest (`store.sealed`), so SQL cannot compare them: each write also
sets their blind indexes (`email_index`, `phone_index`: HMAC-SHA256 of the normalised value under the
tenant's index key, `contact_index`), and every lookup by email or phone goes through them
(`contact_match`). Lookups are therefore exact-match (after normalisation), never substring."""

from __future__ import annotations

import logging
import string
import unicodedata
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, NamedTuple, NoReturn

from sqlalchemy import ColumnElement, and_, delete, false, or_, select
from sqlalchemy.orm import Session, load_only

from core import checks
from store import (
    DEAL_STAGES,
    CrmActivity,
    CrmCompany,
    CrmContact,
    CrmDeal,
    CrmRecordRun,
    CrmTag,
    DealStage,
    Execution,
    Outbox,
    utcnow,
)
from store.sealed import blind_index, installed_keyring

log = logging.getLogger(__name__)

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
IndexedField = Literal["email", "phone"]
INDEXED_FIELDS: tuple[IndexedField, ...] = ("email", "phone")
INDEX_COLUMNS = frozenset(f"{field}_index" for field in INDEXED_FIELDS)  # internal: never in a snapshot
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
        if hasattr(record, "updated_at") and set(changed) - INDEX_COLUMNS:  # an index filled in is no change
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
    run: RunRef | None = db.info.get(_RUN_KEY)
    if run is not None and db.get(Execution, run.execution_id) is not None:  # a step outside a run links nothing
        linked = [(record_type, record.id)]
        if record_type == "activity":
            linked += [(kind, getattr(record, f"{kind}_id")) for kind in ("contact", "company", "deal")]
        for kind, record_id in linked:
            if record_id:
                link_run(
                    db,
                    tenant_id,
                    kind,
                    record_id,
                    execution_id=run.execution_id,
                    node_id=run.node_id,
                    action=run.action,
                )
    return record


class RunRef(NamedTuple):
    execution_id: str
    node_id: str
    action: str  # the step's node type, e.g. crm.move_deal_stage


_RUN_KEY = "flowyard.crm_run"


def for_run(db: Session, *, execution_id: str, node_id: str, action: str) -> None:
    """Marks `db` as the session of a workflow step: every `write` in it links its records to that run."""
    db.info[_RUN_KEY] = RunRef(execution_id, node_id, action)


def link_run(
    db: Session,
    tenant_id: str,
    record_type: str,
    record_id: str,
    *,
    execution_id: str,
    node_id: str | None,
    action: str,
    relation: Literal["wrote", "triggered"] = "wrote",
) -> None:
    """Links a run to a record it touched (see `CrmRecordRun`); the caller commits."""
    db.add(
        CrmRecordRun(
            tenant_id=tenant_id,
            record_type=record_type,
            record_id=record_id,
            execution_id=execution_id,
            node_id=node_id[:64] if node_id else None,  # a step inside a loop is `<node>-<item>`
            action=action,
            relation=relation,
        )
    )


def _changed(before: dict | None, after: dict | None) -> bool:
    strip = lambda d: {k: v for k, v in (d or {}).items() if k != "updated_at"}  # noqa: E731
    return before is None or after is None or strip(before) != strip(after)


def snapshot(db: Session, record_type: str, record: Any) -> dict[str, Any]:
    """A record as JSON: what the outbox, the API and the nodes show (never the blind indexes)."""
    columns = record.__table__.columns.keys()
    data = {
        name: _json_value(getattr(record, name))
        for name in columns
        if name != "tenant_id" and name not in INDEX_COLUMNS
    }
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
    if record_type == "contact":
        for field in INDEXED_FIELDS:
            if field in values:  # the index follows its value: set, changed or cleared with it
                values[f"{field}_index"] = contact_index(db, tenant_id, field, values[field])
    if record_type == "contact" and values.get("email"):
        clashes = db.scalars(
            select(CrmContact.id).where(
                CrmContact.tenant_id == tenant_id, contact_match(db, tenant_id, "email", values["email"])
            )
        ).all()
        if any(record is None or clash != record.id for clash in clashes):
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
    """By email, by phone (exact match, through the blind indexes), or by `ref`: an id or an email address."""
    if ref:
        return find_contact(db, tenant_id, email=ref) if "@" in ref else get(db, tenant_id, "contact", ref)
    query = select(CrmContact).where(CrmContact.tenant_id == tenant_id)
    if email:
        return db.scalars(
            query.where(contact_match(db, tenant_id, "email", email)).order_by(CrmContact.created_at)
        ).first()
    if phone:
        try:
            phone = checks.phone_number(phone)
        except ValueError:
            return None
        return db.scalars(
            query.where(contact_match(db, tenant_id, "phone", phone)).order_by(CrmContact.created_at)
        ).first()
    return None


# --- blind indexes of email and phone ---------------------------------------------------------


def normalise_email(value: str) -> str:
    """An email as its blind index sees it: NFKC, surrounding blanks stripped, lower-case."""
    return unicodedata.normalize("NFKC", value).strip().lower()


def normalise_phone(value: str) -> str:
    """A phone number as its blind index sees it: its '+' and digits only (after NFKC, so full-width digits
    count). The `phonenumbers` package is not installed, so numbers are not parsed: a national number
    (0151 23456789) and its international form (+49 151 23456789) index apart. Stored numbers are E.164
    already (`core.checks.phone_number`), and a channel prefix (whatsapp:) is dropped, so whatsapp:+4915123456789
    and +4915123456789 index alike."""
    return "".join(c for c in unicodedata.normalize("NFKC", value) if c == "+" or c in string.digits)


_NORMALISE: dict[IndexedField, Callable[[str], str]] = {"email": normalise_email, "phone": normalise_phone}


def contact_index(db: Session, tenant_id: str, field: IndexedField, value: str | None) -> str | None:
    """The blind index of a contact's email or phone (None for none): HMAC-SHA256 of the normalised value
    under the tenant's index key, as `crm_contacts.email_index` / `phone_index` hold it."""
    if value is None:
        return None
    return _blind_index(db, tenant_id, field, _NORMALISE[field](value))


_INDEX_KEYS = "flowyard.crm_index_keys"


def _blind_index(db: Session, tenant_id: str, field: IndexedField, normalised: str) -> str:
    """`store.sealed.tenant_blind_index`, with the tenant's index key read once per session: a CSV import
    computes several indexes per row, and reading the key costs a few queries each time. The index key never
    changes (rotating the data key leaves it as it is), so a session may keep it."""
    keys: dict[str, bytes] = db.info.setdefault(_INDEX_KEYS, {})
    if tenant_id not in keys:
        keys[tenant_id] = installed_keyring().index_key(db, tenant_id)
    return blind_index(keys[tenant_id], f"crm_contacts.{field}", normalised)


def _as_stored(field: IndexedField, value: str) -> str:
    """A looked-up value checked as a write checks it (00 49… becomes +49…), or as typed when it is not valid."""
    try:
        return str(_CHECKS[field](value))
    except ValueError:
        return value


def contact_match(db: Session, tenant_id: str, field: IndexedField, value: str) -> ColumnElement[bool]:
    """The tenant's contacts whose email (or phone) is `value`: an exact match of the normalised value,
    through the blind index. Contacts written before the indexes existed (value set, index NULL, until
    `backfill_contact_indexes` reaches them) are opened and compared here, so that they are found meanwhile."""
    normalised = _NORMALISE[field](_as_stored(field, value))
    if not normalised:
        return false()
    index = _blind_index(db, tenant_id, field, normalised)
    column, index_column = _columns(field)
    unindexed = db.execute(
        select(CrmContact.id, column).where(
            CrmContact.tenant_id == tenant_id, index_column.is_(None), column.is_not(None)
        )
    ).all()
    legacy = [row[0] for row in unindexed if _NORMALISE[field](row[1]) == normalised]
    return or_(index_column == index, CrmContact.id.in_(legacy)) if legacy else index_column == index


def _columns(field: IndexedField) -> tuple[Any, Any]:
    return (
        (CrmContact.email, CrmContact.email_index) if field == "email" else (CrmContact.phone, CrmContact.phone_index)
    )


def backfill_contact_indexes(db: Session, tenant_id: str, limit: int) -> int:
    """Fills `email_index` / `phone_index` of up to `limit` of the tenant's contacts whose email or phone is
    set but not indexed (rows written before migration 0019); returns how many it filled. The caller commits
    (the re-encryption job calls it in bounded batches until it returns 0).

    A contact whose normalised email another contact of the tenant already has (possible only for rows that
    differed before normalisation) keeps a NULL email index, is logged and is not counted: `contact_match`
    still finds it, and the unique index is never violated."""
    missing = or_(
        and_(CrmContact.email.is_not(None), CrmContact.email_index.is_(None)),
        and_(CrmContact.phone.is_not(None), CrmContact.phone_index.is_(None)),
    )
    contacts = db.scalars(
        select(CrmContact)
        .options(
            load_only(
                CrmContact.tenant_id,
                CrmContact.email,
                CrmContact.phone,
                CrmContact.email_index,
                CrmContact.phone_index,
            )
        )
        .where(CrmContact.tenant_id == tenant_id, missing)
        .order_by(CrmContact.created_at, CrmContact.id)
        .limit(limit)
    ).all()
    wanted = {
        c.id: contact_index(db, tenant_id, "email", c.email)
        for c in contacts
        if c.email is not None and c.email_index is None
    }
    taken = set(
        db.scalars(
            select(CrmContact.email_index).where(
                CrmContact.tenant_id == tenant_id, CrmContact.email_index.in_({i for i in wanted.values() if i})
            )
        )
    )
    filled = 0
    for contact in contacts:
        index = wanted.get(contact.id)
        if index is not None and index in taken:
            log.warning(
                "contact %s of tenant %s has the email of another contact: left unindexed", contact.id, tenant_id
            )
        elif index is not None:
            contact.email_index = index
            taken.add(index)
        if contact.phone is not None and contact.phone_index is None:
            contact.phone_index = contact_index(db, tenant_id, "phone", contact.phone)
        filled += contact.email_index is not None or contact.email is None
    db.flush()
    return filled
