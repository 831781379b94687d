"""The signed-in user's notifications (failed steps, alerts, changed triggers, publish requests, template updates),
marking them read, and the user's email preferences for the workspace."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import CursorResult, Select, func, or_, select, update

from platform_api.deps import DB, CurrentCaller
from platform_api.problems import Problem, not_found
from store import Notification, NotificationPreference, utcnow

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])

EMAIL_KINDS = ("step_failed", "alerts")


class NotificationItem(BaseModel):
    id: str
    kind: str = Field(description="step_failed, alert_raised, alert_resolved, trigger_changed, publish_requested, ...")
    title: str
    body: str
    data: dict[str, Any] | None
    created_at: datetime
    read_at: datetime | None
    run_id: str | None = Field(None, description="The run it is about, if any.")
    workflow_id: str | None = Field(None, description="The workflow it is about, if any.")
    template_slug: str | None = Field(None, description="The template it is about, if any.")
    request_id: str | None = Field(None, description="The publish request it is about, if any.")


class UnreadCount(BaseModel):
    unread: int


class MarkedRead(BaseModel):
    marked: int = Field(description="How many notifications were unread and are read now.")


class EmailPreferences(BaseModel):
    model_config = ConfigDict(extra="forbid")
    step_failed: bool = Field(True, description="Email me when a step fails after its last retry (owners, admins).")
    alerts: bool = Field(True, description="Email me when an alert rule of the workspace fires or clears.")


class NotificationPreferences(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: EmailPreferences = Field(description="Which emails you get from this workspace; the list shows all kinds.")


def _read(note: Notification) -> NotificationItem:
    data = note.data or {}

    def text(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) else None

    return NotificationItem(
        id=note.id,
        kind=note.kind,
        title=note.title,
        body=note.body,
        data=note.data,
        created_at=note.created_at,
        read_at=note.read_at,
        run_id=text("execution_id"),
        workflow_id=text("workflow_id"),
        template_slug=text("template_slug"),
        request_id=text("request_id"),
    )


def _mine(caller: CurrentCaller) -> Select[Notification]:
    return select(Notification).where(
        Notification.tenant_id == caller.tenant_id,
        or_(Notification.user_id == caller.user_id, Notification.user_id.is_(None)),
    )


@router.get("", response_model=list[NotificationItem])
def list_notifications(db: DB, caller: CurrentCaller, unread: bool = False) -> list[NotificationItem]:
    """The newest 200 (or the unread ones), newest first."""
    query = _mine(caller)
    if unread:
        query = query.where(Notification.read_at.is_(None))
    return [_read(n) for n in db.scalars(query.order_by(Notification.created_at.desc()).limit(200))]


@router.get("/unread-count", response_model=UnreadCount)
def unread_count(db: DB, caller: CurrentCaller) -> UnreadCount:
    """How many are unread: the number on the bell."""
    mine = _mine(caller).where(Notification.read_at.is_(None)).subquery()
    return UnreadCount(unread=db.scalar(select(func.count()).select_from(mine)) or 0)


@router.post("/read", response_model=MarkedRead)
def mark_all_read(db: DB, caller: CurrentCaller) -> MarkedRead:
    """Marks every unread notification of the caller read."""
    marked = cast(
        CursorResult[Any],
        db.execute(
            update(Notification)
            .where(
                Notification.tenant_id == caller.tenant_id,
                or_(Notification.user_id == caller.user_id, Notification.user_id.is_(None)),
                Notification.read_at.is_(None),
            )
            .values(read_at=utcnow())
            .execution_options(synchronize_session=False)
        ),
    )
    db.commit()
    return MarkedRead(marked=marked.rowcount or 0)


def _person(caller: CurrentCaller) -> str:
    if caller.user_id is None or caller.api_key_id is not None:  # a key may carry its creator's id
        raise Problem(
            403,
            "login-required",
            "Sign in as a person",
            "Email preferences belong to a signed-in person; an API key has none.",
            hint="Call it with a login token from POST /api/v1/auth/login.",
        )
    return caller.user_id


def _preferences(row: NotificationPreference | None) -> NotificationPreferences:
    muted = set(row.email_muted or []) if row else set()
    return NotificationPreferences(email=EmailPreferences(**{kind: kind not in muted for kind in EMAIL_KINDS}))


def _preference_row(db: DB, caller: CurrentCaller, user_id: str) -> NotificationPreference | None:
    return db.scalar(
        select(NotificationPreference).where(
            NotificationPreference.tenant_id == caller.tenant_id, NotificationPreference.user_id == user_id
        )
    )


@router.get("/preferences", response_model=NotificationPreferences)
def read_preferences(db: DB, caller: CurrentCaller) -> NotificationPreferences:
    """The signed-in person's email choices for this workspace (every email on until changed)."""
    return _preferences(_preference_row(db, caller, _person(caller)))


@router.put("/preferences", response_model=NotificationPreferences)
def write_preferences(data: NotificationPreferences, db: DB, caller: CurrentCaller) -> NotificationPreferences:
    """Turns emails of a kind on or off for the signed-in person; notifications in the app are always kept."""
    user_id = _person(caller)
    row = _preference_row(db, caller, user_id)
    if row is None:
        row = NotificationPreference(tenant_id=caller.tenant_id, user_id=user_id, email_muted=[])
        db.add(row)
    row.email_muted = [kind for kind in EMAIL_KINDS if not getattr(data.email, kind)]
    db.commit()
    return _preferences(row)


@router.post("/{notification_id}/read", response_model=NotificationItem)
def mark_read(notification_id: str, db: DB, caller: CurrentCaller) -> NotificationItem:
    notification = db.scalar(_mine(caller).where(Notification.id == notification_id))
    if notification is None:
        raise not_found("notification")
    notification.read_at = notification.read_at or utcnow()
    db.commit()
    return _read(notification)
