"""Importing a privacy export bundle (`platform_api.privacy.export`) as a new workspace of this installation:
`flowyard tenants import`.

The bundle is read twice. The first pass checks it and writes nothing: a zip within the size limit, a
manifest, one JSON Lines file per known kind, known fields only, and as many rows as the manifest counts. The
second pass writes every row in one transaction, sealed with the new workspace's own data key (the session
seals as the workspace, `store.sealed`): all of it, or nothing. Rows keep the bundle's ids (random UUIDs), so
graphs still name their connections and runs their workflows; a bundle whose rows are already here (exported
from this installation, its workspace not deleted) is refused. What belonged to the other installation is
dropped: Prefect deployment ids, batches, blind indexes (computed again under the new key), users of rows.
The audit history is kept and chained again under the new workspace (its rows' hashes cover the workspace id).

After the commit, `republish` makes the published workflows live again through the publish service."""

from __future__ import annotations

import json
import secrets
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import TypeDecorator, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from blocks.connections import block_name
from blocks.crypto import forget_tenant_keys
from catalog.index import PublishError
from catalog.index import publish as publish_template
from core.settings import Settings
from crm.records import contact_index
from platform_api.auth.service import password_hasher, slugify
from platform_api.auth.sessions import reset_link
from platform_api.deps import Caller
from platform_api.privacy.export import CONNECTION_FIELDS, KINDS
from platform_api.problems import Problem
from platform_api.workflows.service import publish_version
from store import (
    AuditEvent,
    Base,
    CatalogTemplate,
    CatalogTemplateVersion,
    Connection,
    CrmActivity,
    CrmCompany,
    CrmContact,
    CrmDeal,
    CrmTag,
    Execution,
    Membership,
    Role,
    StepResult,
    Tenant,
    User,
    Workflow,
    WorkflowVersion,
    utcnow,
)
from store.audit import record_event, row_hash
from store.sealed import Sealed, seal_as
from store.statuses import FINAL_EXECUTION_STATUSES, ConnectionStatus, ExecutionStatus
from store.vault import KeyVault

MAX_BUNDLE_BYTES = 4 * 1024**3  # uncompressed; a bigger bundle (or a zip bomb) is refused before reading it
FLUSH_EVERY = 500
NEEDS_SECRETS = {
    "message": "Imported from another installation without its secrets.",
    "hint": "Enter its secrets again (or press Reconnect), then Test.",
}
UNFINISHED = {
    "message": "This run was unfinished when its workspace was exported; the import cancelled it.",
    "hint": "Run it again here.",
    "retryable": False,
}
# kind -> (table, children key, children's table); connections carry only CONNECTION_FIELDS
SHAPES: dict[str, tuple[type[Base], str | None, type[Base] | None]] = {
    "workflows": (Workflow, "versions", WorkflowVersion),
    "runs": (Execution, "steps", StepResult),
    "crm_companies": (CrmCompany, None, None),
    "crm_contacts": (CrmContact, None, None),
    "crm_tags": (CrmTag, None, None),
    "crm_deals": (CrmDeal, None, None),
    "crm_activities": (CrmActivity, None, None),
    "templates": (CatalogTemplate, "versions", CatalogTemplateVersion),
    "connections": (Connection, None, None),
    "audit": (AuditEvent, None, None),
}


class ImportRefused(Exception):
    """The bundle cannot be imported; nothing was written."""

    def __init__(self, reason: str, hint: str) -> None:
        super().__init__(reason)
        self.reason, self.hint = reason, hint


def _fields(model: type[Base]) -> set[str]:
    return {column.key for column in model.__mapper__.column_attrs}


@dataclass
class Bundle:
    path: Path
    manifest: dict[str, Any]

    @property
    def counts(self) -> dict[str, int]:
        return dict(self.manifest["counts"])

    @property
    def published(self) -> int:
        return sum(1 for row in self.rows("workflows") if row.get("published_version"))

    def rows(self, kind: str) -> Iterator[dict[str, Any]]:
        try:
            with zipfile.ZipFile(self.path) as bundle, bundle.open(f"{kind}.jsonl") as lines:
                yield from (_parsed(kind, number, line) for number, line in enumerate(lines, 1))
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise ImportRefused(f"{kind}.jsonl is damaged: {exc}", _DAMAGED) from None


def _parsed(kind: str, number: int, line: bytes) -> dict[str, Any]:
    try:
        row = json.loads(line)
    except ValueError:
        raise ImportRefused(f"{kind}.jsonl line {number} is not JSON", _DAMAGED) from None
    return _checked_row(kind, number, row)


_DAMAGED = "Export the workspace again and import the new bundle as downloaded, unchanged."


def _checked_row(kind: str, number: int, row: Any) -> dict[str, Any]:
    model, children, child_model = SHAPES[kind]
    allowed = set(CONNECTION_FIELDS) if kind == "connections" else _fields(model)
    if not isinstance(row, dict) or not isinstance(row.get("id"), str):
        raise ImportRefused(f"{kind}.jsonl line {number} is not a row with an id", _DAMAGED)
    unknown = set(row) - allowed - {children}
    if children and child_model:
        if not isinstance(row.get(children), list) or not all(isinstance(c, dict) for c in row[children]):
            raise ImportRefused(f"{kind}.jsonl line {number} has no list of {children}", _DAMAGED)
        unknown |= {f"{children}.{k}" for child in row[children] for k in set(child) - _fields(child_model)}
    if unknown:
        raise ImportRefused(f"{kind}.jsonl line {number} has unknown fields: {', '.join(sorted(unknown))}", _DAMAGED)
    return row


def open_bundle(path: Path) -> Bundle:
    """The bundle at `path`, checked from end to end (nothing is written)."""
    if not path.is_file():
        raise ImportRefused(f"{path} does not exist", "Give the path of the downloaded .zip.")
    if not zipfile.is_zipfile(path):
        raise ImportRefused(f"{path} is not a zip file", "Give the .zip that the workspace's export downloaded.")
    with zipfile.ZipFile(path) as bundle:
        infos = bundle.infolist()
        size = sum(info.file_size for info in infos)
        if size > MAX_BUNDLE_BYTES:
            raise ImportRefused(
                f"the bundle holds {size} bytes unpacked, more than the {MAX_BUNDLE_BYTES} an import takes",
                "Export a smaller workspace (purge old runs first), or import on a larger installation.",
            )
        names = {info.filename for info in infos}
        if "manifest.json" not in names:
            raise ImportRefused("the bundle has no manifest.json", "Is it a Flowyard export? " + _DAMAGED)
        manifest = _manifest(bundle.read("manifest.json"))
    expected = {f"{kind}.jsonl" for kind in KINDS} | {"manifest.json"}
    if names != expected:
        odd = ", ".join(sorted(names ^ expected))
        raise ImportRefused(f"the bundle's files are not the kinds this installation knows: {odd}", _DAMAGED)
    checked = Bundle(path, manifest)
    for kind in KINDS:
        found = sum(1 for _ in checked.rows(kind))
        if found != checked.counts[kind]:
            raise ImportRefused(
                f"{kind}.jsonl has {found} rows but the manifest counts {checked.counts[kind]}", _DAMAGED
            )
    return checked


def _manifest(raw: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(raw)
        tenant, counts = manifest["tenant"], manifest["counts"]
        ok = isinstance(tenant["slug"], str) and isinstance(tenant["name"], str) and set(counts) == set(KINDS)
        ok = ok and all(isinstance(n, int) and n >= 0 for n in counts.values())
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise ImportRefused("manifest.json is not a Flowyard export manifest", _DAMAGED)
    return dict(manifest)


# --- writing ------------------------------------------------------------------------------------


def _typed(model: type[Base], row: dict[str, Any]) -> dict[str, Any]:
    """The row's values as the columns take them (the bundle holds datetimes and amounts as text)."""
    columns = model.__mapper__.columns
    values = {}
    for key, value in row.items():
        kind = _python_type(columns[key].type)
        if isinstance(value, str) and kind is datetime:
            value = datetime.fromisoformat(value)
        elif isinstance(value, str) and kind is Decimal:
            value = Decimal(value)
        values[key] = value
    return values


def _python_type(column_type: Any) -> type | None:
    if isinstance(column_type, TypeDecorator) and not isinstance(column_type, Sealed):
        column_type = column_type.impl_instance
    try:
        return column_type.python_type  # type: ignore[no-any-return]
    except NotImplementedError:
        return None


@dataclass
class Imported:
    tenant: Tenant
    owner: User
    sign_in_link: str | None  # for an owner new to this installation
    counts: dict[str, int] = field(default_factory=dict)
    published: list[tuple[str, int]] = field(default_factory=list)  # workflow id, version to publish again
    connections: list[str] = field(default_factory=list)  # names of connections that need their secrets
    cancelled_runs: int = 0
    audit_tip: AuditEvent | None = None  # the last history row written


Writer = Callable[[Session, Imported, dict[str, Any]], None]


def _workflow(db: Session, done: Imported, row: dict[str, Any]) -> None:
    versions = row.pop("versions")
    if row.get("published_version") and not row.get("deleted_at"):
        done.published.append((row["id"], row["published_version"]))
    tenant_id = done.tenant.id
    db.add(
        Workflow(**_typed(Workflow, row) | {"tenant_id": tenant_id, "deployment_id": None, "published_version": None})
    )
    db.flush()
    for version in versions:
        db.add(WorkflowVersion(**_typed(WorkflowVersion, version) | {"tenant_id": tenant_id, "created_by": None}))


def _run(db: Session, done: Imported, row: dict[str, Any]) -> None:
    steps = row.pop("steps")
    values = _typed(Execution, row) | {"tenant_id": done.tenant.id, "batch_id": None, "dedupe_key": None}
    values |= {"rolled_up": False, "search_indexed": False}  # the dispatcher's passes count and index it here
    if values.get("status") not in FINAL_EXECUTION_STATUSES:
        values |= {"status": ExecutionStatus.CANCELLED, "error": UNFINISHED, "ended_at": utcnow(), "resume_at": None}
        done.cancelled_runs += 1
    db.add(Execution(**values))
    db.flush()
    for step in steps:
        db.add(StepResult(**_typed(StepResult, step) | {"tenant_id": done.tenant.id}))


def _plain(model: type[Base]) -> Writer:
    def write(db: Session, done: Imported, row: dict[str, Any]) -> None:
        db.add(model(**_typed(model, row) | {"tenant_id": done.tenant.id}))

    return write


def _contact(db: Session, done: Imported, row: dict[str, Any]) -> None:
    values = _typed(CrmContact, row) | {"tenant_id": done.tenant.id}
    for name in ("email", "phone"):  # blind indexes under this workspace's index key
        values[f"{name}_index"] = contact_index(db, done.tenant.id, name, values.get(name))  # type: ignore[arg-type]
    db.add(CrmContact(**values))


def _template(db: Session, done: Imported, row: dict[str, Any]) -> None:
    """Through the catalog's publish, which keeps its tags and search index; the template gets a new id."""
    for version in sorted(row["versions"], key=lambda v: v["version"]):
        try:
            publish_template(db, version["definition"], tenant_id=done.tenant.id)
        except (PublishError, KeyError, TypeError) as exc:
            raise ImportRefused(f"template {row.get('slug')!r} does not import: {exc}", _DAMAGED) from None


def _connection(db: Session, done: Imported, row: dict[str, Any]) -> None:
    values = _typed(Connection, row) | {"tenant_id": done.tenant.id, "last_error": NEEDS_SECRETS}
    values |= {"block_name": block_name(done.tenant.slug, row["type"], row["name"]), "status": ConnectionStatus.FAILED}
    values["secrets_set"] = {name: False for name in row.get("secrets_set") or {}}
    db.add(Connection(**values))
    done.connections.append(row["name"])


def _audit(db: Session, done: Imported, row: dict[str, Any]) -> None:
    """Kept as history, chained again: the hashes cover the workspace's id, which is new."""
    event = AuditEvent(**_typed(AuditEvent, row) | {"tenant_id": done.tenant.id})
    event.seq = done.audit_tip.seq + 1 if done.audit_tip else 1
    event.prev_hash = done.audit_tip.hash if done.audit_tip else None
    event.detail = event.detail or {}
    event.hash = row_hash(event)
    db.add(event)
    done.audit_tip = event


WRITERS: dict[str, Writer] = {
    "workflows": _workflow,
    "runs": _run,
    "crm_companies": _plain(CrmCompany),
    "crm_contacts": _contact,
    "crm_tags": _plain(CrmTag),
    "crm_deals": _plain(CrmDeal),
    "crm_activities": _plain(CrmActivity),
    "templates": _template,
    "connections": _connection,
    "audit": _audit,
}


def check_slug(db: Session, slug: str) -> None:
    if slugify(slug, 40) != slug:
        raise ImportRefused(f"{slug!r} is not a workspace slug", "Use lower-case letters, digits and dashes.")
    if db.scalar(select(Tenant.id).where(Tenant.slug == slug)):
        raise ImportRefused(f"a workspace of this installation has the slug {slug!r}", "Choose another with --slug.")


def _owner(db: Session, email: str, public_url: str) -> tuple[User, str | None]:
    """The user of `email`, or a new one without a usable password and a link to choose it."""
    email = email.strip().lower()
    user = db.scalar(select(User).where(User.email == email))
    if user is not None:
        return user, None
    user = User(email=email, password_hash=password_hasher.hash(secrets.token_urlsafe(32)))
    db.add(user)
    db.flush()
    return user, reset_link(db, user=user, public_url=public_url)


def import_bundle(
    db: Session,
    bundle: Bundle,
    *,
    slug: str,
    name: str,
    owner_email: str,
    settings: Settings,
    on_row: Callable[[str], None] = lambda kind: None,
) -> Imported:
    """Write the bundle as a new workspace in `db`'s transaction and commit; `ImportRefused` (nothing written)
    when a row does not fit."""
    check_slug(db, slug)
    tenant = Tenant(slug=slug, name=name, tier=settings.kubernetes.default_tier)
    db.add(tenant)
    db.flush()
    seal_as(db, tenant.id)  # every payload is sealed with the new workspace's data key
    try:
        owner, link = _owner(db, owner_email, settings.api_public_url)
        db.add(Membership(tenant_id=tenant.id, user_id=owner.id, role=Role.OWNER))
        done = Imported(tenant, owner, link)
        for kind in KINDS:
            _write_kind(db, bundle, kind, done, on_row)
        detail = {"from": bundle.manifest["tenant"], "counts": done.counts}
        record_event(db, tenant_id=tenant.id, action="tenant.imported", target=f"tenant:{tenant.id}", detail=detail)
        db.commit()
    except BaseException:
        db.rollback()
        KeyVault(settings.keys_vault_url).destroy(tenant.id)  # its vault secret was made outside the transaction
        forget_tenant_keys(tenant.id)
        raise
    return done


def _write_kind(db: Session, bundle: Bundle, kind: str, done: Imported, on_row: Callable[[str], None]) -> None:
    done.counts[kind] = 0
    try:
        for row in bundle.rows(kind):
            WRITERS[kind](db, done, row)
            done.counts[kind] += 1
            on_row(kind)
            if done.counts[kind] % FLUSH_EVERY == 0:
                db.flush()
        db.flush()
    except IntegrityError as exc:
        raise ImportRefused(
            f"{kind} row {done.counts[kind] + 1} collides with a row of this installation or breaks a reference "
            f"({type(exc.orig).__name__})",
            "A bundle imports once per installation: was it exported from here, its workspace not deleted?",
        ) from None
    except (SQLAlchemyError, ValueError, TypeError) as exc:
        raise ImportRefused(
            f"{kind} row {done.counts[kind] + 1} does not fit: {type(exc).__name__}", _DAMAGED
        ) from None


def republish(db: Session, done: Imported, settings: Settings) -> dict[str, str]:
    """Publish again, here, what was published there; returns the workflows that failed and why."""
    tenant = done.tenant
    caller = Caller(tenant_id=tenant.id, tenant_slug=tenant.slug, role=Role.OWNER, user_id=done.owner.id)
    failed = {}
    for workflow_id, version in done.published:
        workflow = db.get_one(Workflow, workflow_id)
        try:
            publish_version(db, caller=caller, workflow=workflow, version=version, settings=settings)
        except Problem as exc:
            db.rollback()
            failed[workflow.name] = exc.detail
    return failed
