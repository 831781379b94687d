from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request, Response

from platform_api.alerts import schemas, service
from platform_api.deps import DB, CurrentCaller
from platform_api.pagination import Cursor, limit_query
from platform_api.permissions import Allowed, Permission

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])


@router.get("", response_model=list[schemas.AlertRead], dependencies=[Allowed(Permission.MONITOR)])
def list_alerts(
    request: Request,
    response: Response,
    db: DB,
    caller: CurrentCaller,
    status: Literal["open", "resolved"] | None = Query(None, description="Only open or only resolved alerts."),
    limit: int = limit_query(),
    cursor: Cursor = None,
) -> list[schemas.AlertRead]:
    """The workspace's alerts, newest first. Each is raised once when its rule fires and resolved once when
    the condition clears; owners and admins are told both ways (notifications, and email through the
    SendGrid connection marked for alerts)."""
    return service.list_alerts(
        db, caller=caller, status=status, limit=limit, cursor=cursor, request=request, response=response
    )


@router.get("/rules", response_model=schemas.AlertRules, dependencies=[Allowed(Permission.MONITOR)])
def read_rules(db: DB, caller: CurrentCaller) -> schemas.AlertRules:
    """The workspace's alert rules; every rule is on by default."""
    return service.read_rules(db, caller=caller)


@router.put("/rules", response_model=schemas.AlertRules, dependencies=[Allowed(Permission.MANAGE_SETTINGS)])
def write_rules(request: Request, rules: schemas.AlertRules, db: DB, caller: CurrentCaller) -> schemas.AlertRules:
    """Replace the alert rules (admins)."""
    return service.write_rules(db, caller=caller, rules=rules, request=request)
