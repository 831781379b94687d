"""Writing the blind indexes of run inputs (`store.search`): for each run not indexed yet, a keyed hash of
each of its workspace's search fields (top-level input fields, or those of a webhook delivery's body, matched
without regard to case) that holds
a text or a number. Values are normalised first (NFKC, trimmed, lower case; phone numbers without spaces,
dashes, dots or brackets), and `search_digests` normalises a query the same way. The dispatcher indexes
new runs every pass; a run is searchable within about a second of being accepted."""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Any

from sqlalchemy import Text, false, select, type_coerce, update
from sqlalchemy.orm import Session

from blocks.crypto import DecryptionError, blind_index, index_key
from core.settings import Settings
from store import DEFAULT_SEARCH_FIELDS, Execution, RunSearchKey, Tenant

log = logging.getLogger(__name__)
MAX_VALUE = 500  # longer values are not indexed
PHONE_NOISE = re.compile(r"[\s\-.()]")


def normalise(field: str, value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = unicodedata.normalize("NFKC", str(value)).strip().lower()
    if "phone" in field:
        text = PHONE_NOISE.sub("", text)
    return text if 0 < len(text) <= MAX_VALUE else None


def search_fields(tenant: Tenant) -> list[str]:
    return list(tenant.search_fields) if tenant.search_fields is not None else list(DEFAULT_SEARCH_FIELDS)


def _keys(key: bytes, tenant_id: str, execution_id: str, fields: list[str], data: dict[str, Any]) -> list[RunSearchKey]:
    body = data.get("body")
    body = body if isinstance(body, dict) else {}  # a webhook delivery's fields
    by_name = {str(name).lower(): value for name, value in (*body.items(), *data.items())}
    keys = []
    for field in fields:
        value = normalise(field, by_name.get(field.lower()))
        if value is not None:
            digest = blind_index(key, field, value)
            keys.append(RunSearchKey(tenant_id=tenant_id, field=field, digest=digest, execution_id=execution_id))
    return keys


def _index_key(db: Session, tenant_id: str, settings: Settings) -> bytes | None:
    """The workspace's index key; None (its runs left unsearchable, the others indexed) when the configured
    master keys do not open it."""
    try:
        return index_key(db, tenant_id, settings)
    except DecryptionError as exc:
        log.warning("workspace %s: its runs are not indexed: %s", tenant_id, exc)
        return None


def _opened_input(db: Session, run_id: str, sealed: str | None) -> dict[str, Any]:
    """The run's input; a value that does not open (damaged) is left unindexed rather than stopping every
    workspace's indexing."""
    try:
        data = Execution.input.type.process_result_value(sealed, db.get_bind().dialect)
    except DecryptionError:
        log.warning("run %s: its input does not open with its workspace's keys; not indexed", run_id)
        return {}
    return data if isinstance(data, dict) else {}


def index_new_runs(db: Session, settings: Settings, *, limit: int = 1000) -> int:
    """Index up to `limit` runs not indexed yet, and commit; returns how many."""
    runs = db.execute(
        select(Execution.id, Execution.tenant_id, type_coerce(Execution.input, Text).label("sealed_input"))
        .where(Execution.search_indexed == false())
        .order_by(Execution.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not runs:
        return 0
    tenants = {t.id: t for t in db.scalars(select(Tenant).where(Tenant.id.in_({run.tenant_id for run in runs})))}
    keys = {tenant_id: _index_key(db, tenant_id, settings) for tenant_id in tenants}
    for run in runs:
        if (key := keys[run.tenant_id]) is not None:
            data = _opened_input(db, run.id, run.sealed_input)
            db.add_all(_keys(key, run.tenant_id, run.id, search_fields(tenants[run.tenant_id]), data))
    db.execute(
        update(Execution).where(Execution.id.in_([run.id for run in runs])).values(search_indexed=True),
        execution_options={"synchronize_session": False},
    )
    db.commit()
    return len(runs)


def search_digests(
    db: Session, tenant: Tenant, settings: Settings, value: str, field: str | None
) -> list[tuple[str, str]]:
    """(field, digest) pairs a run whose input holds `value` (in `field`, or in any search field) has."""
    key = index_key(db, tenant.id, settings)
    fields = [field] if field else search_fields(tenant)
    pairs = []
    for name in fields:
        normalised = normalise(name, value)
        if normalised is not None:
            pairs.append((name, blind_index(key, name, normalised)))
    return pairs
