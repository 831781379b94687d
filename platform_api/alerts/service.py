"""A workspace's alerts (raised and resolved by `engine.watch`) and its alert rules."""

from __future__ import annotations

from fastapi import Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_api.alerts import schemas
from platform_api.audit.service import audit
from platform_api.deps import Caller
from platform_api.pagination import paginate
from store import Alert, Tenant


def list_alerts(
    db: Session,
    *,
    caller: Caller,
    status: str | None,
    limit: int,
    cursor: str | None,
    request: Request,
    response: Response,
) -> list[schemas.AlertRead]:
    query = select(Alert).where(Alert.tenant_id == caller.tenant_id)
    if status:
        query = query.where(Alert.status == status)
    rows = paginate(
        db, query, order=((Alert.created_at, True),), row_id=Alert.id, limit=limit, cursor=cursor,
        request=request, response=response,
    )  # fmt: skip
    return [schemas.AlertRead.model_validate(row, from_attributes=True) for row in rows]


def read_rules(db: Session, *, caller: Caller) -> schemas.AlertRules:
    return schemas.AlertRules.model_validate(db.get_one(Tenant, caller.tenant_id).alert_rules or {})


def write_rules(
    db: Session, *, caller: Caller, rules: schemas.AlertRules, request: Request | None = None
) -> schemas.AlertRules:
    """Replace the rules; an open alert of a rule turned off resolves at the next check."""
    tenant = db.get_one(Tenant, caller.tenant_id)
    tenant.alert_rules = rules.model_dump()
    audit(db, caller, "alerts.rules_changed", f"tenant:{tenant.id}", request=request)
    db.commit()
    return rules
