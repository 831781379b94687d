"""Notification rows for the people of a workspace who look after it (its owners and admins)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store import Membership, Notification, Role, User

REVIEWER_ROLES = (Role.OWNER, Role.ADMIN)


def actor_name(db: Session, user_id: str | None) -> str:
    """How a notification names who did something: their email, or "an API key" for a key with no person."""
    email = db.scalar(select(User.email).where(User.id == user_id)) if user_id else None
    return email or "an API key"


def notify_owners_and_admins(
    db: Session, tenant_id: str, *, kind: str, title: str, body: str, data: dict[str, Any], skip: str | None = None
) -> None:
    """A notification for each owner and admin of the workspace, but `skip` (who caused it)."""
    reviewers = db.scalars(
        select(Membership.user_id).where(Membership.tenant_id == tenant_id, Membership.role.in_(REVIEWER_ROLES))
    )
    for user_id in reviewers:
        if user_id != skip:
            db.add(Notification(tenant_id=tenant_id, user_id=user_id, kind=kind, title=title, body=body, data=data))
