"""Exporting everything a workspace owns as one zip of JSON Lines, one file per kind, built in a background
thread that records its progress (kinds written of all kinds) in the export's row."""

from __future__ import annotations

import io
import json
import logging
import threading
import zipfile
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import Request
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from core.settings import Settings
from platform_api.audit.service import audit
from platform_api.deps import Caller
from platform_api.privacy import schemas
from platform_api.problems import Problem, not_found
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
    PrivacyExport,
    StepResult,
    Tenant,
    Workflow,
    WorkflowVersion,
    utcnow,
)
from store.db import get_session_factory, scope_to_tenant

log = logging.getLogger(__name__)
BATCH = 500
CONNECTION_FIELDS = ("id", "type", "name", "config", "secrets_set", "status", "use_for_alerts", "created_at")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _row(row: Base, only: tuple[str, ...] | None = None) -> dict[str, Any]:
    keys = only or tuple(column.key for column in row.__mapper__.column_attrs)
    return {key: _plain(getattr(row, key)) for key in keys}


def _children(db: Session, model: type[Base], parent: str, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for child in db.scalars(select(model).where(getattr(model, parent).in_(ids))):
        grouped.setdefault(getattr(child, parent), []).append(_row(child))
    return grouped


def _with_children(
    db: Session, query: Select[Any], model: type[Base], parent: str, key: str
) -> Iterator[dict[str, Any]]:
    """Rows of `query` (ordered by id) a batch at a time, each with its children (`model` rows whose `parent`
    is its id)."""
    offset = 0
    while rows := db.scalars(query.offset(offset).limit(BATCH)).all():
        children = _children(db, model, parent, [row.id for row in rows])
        for row in rows:
            yield {**_row(row), key: children.get(row.id, [])}
        offset += BATCH


def _plain_rows(db: Session, query: Select[Any], only: tuple[str, ...] | None = None) -> Iterator[dict[str, Any]]:
    for row in db.scalars(query.execution_options(yield_per=BATCH)):
        yield _row(row, only)


def _kinds(tenant_id: str) -> dict[str, Callable[[Session], Iterator[dict[str, Any]]]]:
    """Each kind of the bundle: its file name and how to read its rows."""

    def owned(model: Any) -> Select[Any]:
        return select(model).where(model.tenant_id == tenant_id).order_by(model.id)

    return {
        "workflows": lambda db: _with_children(db, owned(Workflow), WorkflowVersion, "workflow_id", "versions"),
        "runs": lambda db: _with_children(db, owned(Execution), StepResult, "execution_id", "steps"),
        "crm_companies": lambda db: _plain_rows(db, owned(CrmCompany)),
        "crm_contacts": lambda db: _plain_rows(db, owned(CrmContact)),
        "crm_tags": lambda db: _plain_rows(db, owned(CrmTag)),
        "crm_deals": lambda db: _plain_rows(db, owned(CrmDeal)),
        "crm_activities": lambda db: _plain_rows(db, owned(CrmActivity)),
        "templates": lambda db: _with_children(
            db, owned(CatalogTemplate), CatalogTemplateVersion, "template_id", "versions"
        ),
        "connections": lambda db: _plain_rows(db, owned(Connection), CONNECTION_FIELDS),  # never a secret
        "audit": lambda db: _plain_rows(
            db, select(AuditEvent).where(AuditEvent.tenant_id == tenant_id).order_by(AuditEvent.seq)
        ),
    }


KINDS = tuple(_kinds(""))  # the bundle's files, in the order they are written (and imported)
KIND_COUNT = len(KINDS)


def start_export(db: Session, *, caller: Caller, request: Request, settings: Settings) -> schemas.ExportRead:
    job = PrivacyExport(tenant_id=caller.tenant_id, requested_by=caller.user_id, status="running", total=KIND_COUNT)
    db.add(job)
    db.flush()
    audit(db, caller, "privacy.exported", f"export:{job.id}", request=request)
    db.commit()
    thread = threading.Thread(
        target=build_bundle, args=(settings, caller.tenant_id, job.id), name=f"export-{job.id}", daemon=True
    )
    thread.start()
    return read_export(db, caller=caller, export_id=job.id)


def build_bundle(settings: Settings, tenant_id: str, export_id: str) -> None:
    """Write the bundle kind by kind, committing the progress after each; a failure marks the export failed."""
    with get_session_factory(settings.platform_database_url)() as db:
        scope_to_tenant(db, tenant_id=tenant_id, switch_role=settings.api.tenant_role)
        job = db.get_one(PrivacyExport, export_id)
        try:
            job.bundle = _zip(db, job, tenant_id)
            job.status = "completed"
        except Exception:
            log.exception("export %s of tenant %s failed", export_id, tenant_id)
            db.rollback()
            job = db.get_one(PrivacyExport, export_id)
            job.status, job.error = "failed", {"detail": "The export failed; start a new one."}
        job.finished_at = utcnow()
        db.commit()


def _zip(db: Session, job: PrivacyExport, tenant_id: str) -> bytes:
    buffer = io.BytesIO()
    counts: dict[str, int] = {}
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for kind, rows in _kinds(tenant_id).items():
            with bundle.open(f"{kind}.jsonl", "w") as out:
                counts[kind] = 0
                for row in rows(db):
                    out.write(json.dumps(row, ensure_ascii=False, default=str).encode() + b"\n")
                    counts[kind] += 1
            job.done += 1
            db.commit()
        tenant = db.get_one(Tenant, tenant_id)
        manifest = {"tenant": {"id": tenant.id, "slug": tenant.slug, "name": tenant.name}, "counts": counts}
        bundle.writestr("manifest.json", json.dumps({**manifest, "exported_at": utcnow().isoformat()}, indent=2))
    return buffer.getvalue()


def _owned_export(db: Session, caller: Caller, export_id: str) -> PrivacyExport:
    job = db.scalar(
        select(PrivacyExport).where(PrivacyExport.id == export_id, PrivacyExport.tenant_id == caller.tenant_id)
    )
    if job is None:
        raise not_found("export")
    return job


def _read(job: PrivacyExport) -> schemas.ExportRead:
    url = f"/api/v1/privacy/exports/{job.id}/download" if job.status == "completed" else None
    return schemas.ExportRead(
        id=job.id,
        status=job.status,
        done=job.done,
        total=job.total,
        created_at=job.created_at,
        finished_at=job.finished_at,
        download_url=url,
    )


def read_export(db: Session, *, caller: Caller, export_id: str) -> schemas.ExportRead:
    return _read(_owned_export(db, caller, export_id))


def list_exports(db: Session, *, caller: Caller) -> list[schemas.ExportRead]:
    query = select(PrivacyExport).where(PrivacyExport.tenant_id == caller.tenant_id)
    return [_read(job) for job in db.scalars(query.order_by(PrivacyExport.created_at.desc()).limit(20))]


def export_bundle(db: Session, *, caller: Caller, export_id: str) -> tuple[str, bytes]:
    """The bundle's file name and bytes."""
    job = _owned_export(db, caller, export_id)
    if job.status != "completed" or job.bundle is None:
        raise Problem(
            409,
            "export-not-ready",
            "Export not ready",
            f"This export is {job.status}; its bundle can be downloaded once it is completed.",
            hint="Poll GET /api/v1/privacy/exports/{id} until its status is completed.",
        )
    return f"flowyard-export-{caller.tenant_slug}-{job.created_at:%Y%m%d-%H%M%S}.zip", job.bundle
