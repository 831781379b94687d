"""The signed-in user's notifications: failed steps, changed triggers, template upgrades."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import or_, select

from platform_api.deps import DB, CurrentCaller
from platform_api.problems import not_found
from store import Notification, utcnow

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])


class NotificationRead(BaseModel):
    id: str
    kind: str
    title: str
    body: str
    data: dict[str, Any] | None
    created_at: datetime
    read_at: datetime | None


def _mine(caller: CurrentCaller):
    return select(Notification).where(
        Notification.tenant_id == caller.tenant_id,
        or_(Notification.user_id == caller.user_id, Notification.user_id.is_(None)),
    )


@router.get("", response_model=list[NotificationRead])
def list_notifications(db: DB, caller: CurrentCaller, unread: bool = False) -> list[Notification]:
    query = _mine(caller)
    if unread:
        query = query.where(Notification.read_at.is_(None))
    return list(db.scalars(query.order_by(Notification.created_at.desc()).limit(200)))


@router.post("/{notification_id}/read", response_model=NotificationRead)
def mark_read(notification_id: str, db: DB, caller: CurrentCaller) -> Notification:
    notification = db.scalar(_mine(caller).where(Notification.id == notification_id))
    if notification is None:
        raise not_found("notification")
    notification.read_at = notification.read_at or utcnow()
    db.commit()
    return notification
