"""The audit log: read, verify and export a workspace's chain (admin or above). No route changes a row."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from core.settings import Settings
from platform_api.audit import schemas, service
from platform_api.deps import DB, Caller, get_settings
from platform_api.pagination import Cursor, limit_query
from platform_api.permissions import Allowed, Permission
from store.db import get_session_factory

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


AuditReader = Annotated[Caller, Allowed(Permission.SEE_AUDIT)]


def audit_filter(
    actor: Annotated[str | None, Query(max_length=36, description="A user id or an API key id.")] = None,
    action: Annotated[
        str | None, Query(max_length=64, description="An action, or every action of a kind: `workflow.*`.")
    ] = None,
    target: Annotated[str | None, Query(max_length=200, description="A target, e.g. `workflow:<id>`.")] = None,
    since: Annotated[datetime | None, Query(alias="from", description="Acts at or after this time.")] = None,
    until: Annotated[datetime | None, Query(alias="to", description="Acts before this time.")] = None,
) -> service.AuditFilter:
    return service.AuditFilter(actor=actor, action=action, target=target, since=since, until=until)


@router.get("", response_model=list[schemas.AuditEventRead])
def list_audit_events(
    request: Request,
    response: Response,
    db: DB,
    caller: AuditReader,
    where: Annotated[service.AuditFilter, Depends(audit_filter)],
    limit: int = limit_query(),
    cursor: Cursor = None,
) -> list[schemas.AuditEventRead]:
    """A page of the workspace's audit events, newest first; the next page's cursor is in the X-Next-Cursor
    (and Link) header."""
    rows = service.list_events(
        db, caller=caller, where=where, limit=limit, cursor=cursor, request=request, response=response
    )
    return [schemas.AuditEventRead.model_validate(row) for row in rows]


@router.get("/verify", response_model=schemas.AuditVerification)
def verify_audit_chain(db: DB, caller: AuditReader) -> schemas.AuditVerification:
    """Check the workspace's hash chain from its first row: `ok` false names the first altered row."""
    return service.verify(db, caller=caller)


@router.get("/export", response_class=StreamingResponse)
def export_audit_events(
    request: Request, db: DB, caller: AuditReader, settings: Annotated[Settings, Depends(get_settings)]
) -> StreamingResponse:
    """The workspace's whole audit trail as JSON Lines, oldest first."""
    service.audit(db, caller, "audit.exported", f"tenant:{caller.tenant_id}", request=request)
    db.commit()
    lines = service.export_lines(
        get_session_factory(settings.platform_database_url), caller=caller, switch_role=settings.api.tenant_role
    )
    return StreamingResponse(
        lines,
        media_type="application/jsonl",
        headers={"Content-Disposition": 'attachment; filename="audit.jsonl"'},
    )
