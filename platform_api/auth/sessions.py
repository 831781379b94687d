"""A signed-in person's own account: who am I, switching workspaces, logout, sessions, password change and
reset. These calls run on the platform's role (not scoped to one workspace) and filter by the user."""

from __future__ import annotations

import secrets
from datetime import timedelta

from fastapi import Request
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.settings import ApiSettings
from platform_api.audit.service import audit
from platform_api.auth import mail, schemas, throttle
from platform_api.auth.service import client_address, issue_login_token, password_hasher, password_matches
from platform_api.deps import Caller, hash_secret
from platform_api.problems import Problem, not_found
from store import LoginSession, Membership, PasswordReset, Tenant, User, utcnow

RESET_TTL = timedelta(hours=1)


def _tenant_read(tenant: Tenant) -> schemas.TenantRead:
    return schemas.TenantRead(id=tenant.id, slug=tenant.slug, name=tenant.name)


def require_login(caller: Caller) -> str:
    """The user id of a login token; an API key is not a person."""
    if caller.user_id is None or caller.session_id is None:
        raise Problem(
            403,
            "login-required",
            "Sign in as a person",
            "This call is about a signed-in person's own account; an API key cannot make it.",
            hint="Call it with a login token from POST /api/v1/auth/login.",
        )
    return caller.user_id


def me(db: Session, *, caller: Caller) -> schemas.MeRead:
    user = db.get_one(User, require_login(caller))
    rows = db.execute(
        select(Membership, Tenant)
        .join(Tenant, Tenant.id == Membership.tenant_id)
        .where(Membership.user_id == user.id)
        .order_by(Membership.created_at)
    ).all()
    return schemas.MeRead(
        user=schemas.MeUserRead(id=user.id, email=user.email, name=user.name),
        tenant=_tenant_read(db.get_one(Tenant, caller.tenant_id)),
        role=caller.role,
        permissions=sorted(caller.permissions),
        memberships=[schemas.MembershipRead(tenant=_tenant_read(t), role=m.role) for m, t in rows],
    )


def switch(
    db: Session, *, caller: Caller, data: schemas.SwitchCreate, ttl_hours: int, request: Request
) -> schemas.LoginRead:
    user_id = require_login(caller)
    row = db.execute(
        select(Membership, Tenant)
        .join(Tenant, Tenant.id == Membership.tenant_id)
        .where(Membership.user_id == user_id, Membership.tenant_id == data.tenant_id)
    ).first()
    if row is None:
        raise not_found("workspace")
    membership, tenant = row
    token = issue_login_token(db, tenant_id=tenant.id, user_id=user_id, ttl_hours=ttl_hours, request=request)
    db.commit()
    return schemas.LoginRead(token=token, tenant=_tenant_read(tenant), role=membership.role)


def logout(db: Session, *, caller: Caller, request: Request) -> None:
    require_login(caller)
    db.execute(update(LoginSession).where(LoginSession.id == caller.session_id).values(revoked_at=utcnow()))
    audit(db, caller, "auth.logout", f"user:{caller.user_id}", request=request)
    db.commit()


def list_sessions(db: Session, *, caller: Caller) -> list[schemas.SessionRead]:
    user_id = require_login(caller)
    rows = db.execute(
        select(LoginSession, Tenant)
        .join(Tenant, Tenant.id == LoginSession.tenant_id)
        .where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None), LoginSession.expires_at > utcnow())
        .order_by(LoginSession.created_at.desc())
    ).all()
    return [
        schemas.SessionRead(
            id=login.id,
            tenant=_tenant_read(tenant),
            created_at=login.created_at,
            expires_at=login.expires_at,
            client_address=login.client_address,
            current=login.id == caller.session_id,
        )
        for login, tenant in rows
    ]


def end_session(db: Session, *, caller: Caller, session_id: str) -> None:
    user_id = require_login(caller)
    login = db.scalar(select(LoginSession).where(LoginSession.id == session_id, LoginSession.user_id == user_id))
    if login is None:
        raise not_found("session")
    login.revoked_at = login.revoked_at or utcnow()
    db.commit()


def _end_sessions(db: Session, *, user_id: str, keep: str | None = None) -> None:
    query = update(LoginSession).where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
    if keep:
        query = query.where(LoginSession.id != keep)
    db.execute(query.values(revoked_at=utcnow()))


def change_password(
    db: Session, *, caller: Caller, data: schemas.PasswordChange, settings: ApiSettings, request: Request
) -> None:
    """Checks the current password (failures count towards the login throttle) and ends the other sessions."""
    user = db.get_one(User, require_login(caller))
    address = client_address(request)
    throttle.check(db, email=user.email, address=address, settings=settings)
    if not password_matches(user, data.current):
        throttle.record_failure(db, email=user.email, address=address, settings=settings)
        db.commit()
        raise Problem(
            403,
            "wrong-password",
            "Wrong password",
            "The current password is not right.",
            hint="Type your current password, or reset it at POST /api/v1/auth/password-reset.",
            errors=[{"path": "current", "message": "not your current password", "hint": "check it"}],
        )
    user.password_hash = password_hasher.hash(data.new)
    _end_sessions(db, user_id=user.id, keep=caller.session_id)
    audit(db, caller, "auth.password_changed", f"user:{user.id}", request=request)
    db.commit()


def reset_link(db: Session, *, user: User, public_url: str) -> str:
    """A one-time link (valid for an hour) that sets a new password; added to `db`, committed by the caller."""
    token = secrets.token_urlsafe(32)
    db.add(PasswordReset(user_id=user.id, secret_hash=hash_secret(token), expires_at=utcnow() + RESET_TTL))
    return f"{public_url.rstrip('/')}/#/reset-password/{token}"


def request_reset(db: Session, *, email: str, public_url: str) -> mail.AccountEmail | None:
    """The email to send, or None for an unknown address (the caller answers 202 either way)."""
    user = db.scalar(select(User).where(User.email == email.lower()))
    if user is None:
        return None
    link = reset_link(db, user=user, public_url=public_url)
    tenant_ids = db.scalars(select(Membership.tenant_id).where(Membership.user_id == user.id)).all()
    connection = next(
        ((tenant_id, found) for tenant_id in tenant_ids if (found := mail.alert_connection(db, tenant_id))),
        (None, None),
    )
    db.commit()
    return mail.AccountEmail(
        tenant_id=connection[0],
        connection_id=connection[1],
        to=user.email,
        subject="Reset your Flowyard password",
        text="Someone asked to reset your Flowyard password. If it was you, open this link within an hour:",
        link=link,
        log_key=f"password-reset-{user.id}-{secrets.token_hex(4)}",
    )


def confirm_reset(db: Session, *, data: schemas.PasswordResetConfirm, request: Request) -> None:
    """Sets the password, ends every session of the user and clears the account's login throttle."""
    reset = db.scalar(
        select(PasswordReset).where(PasswordReset.secret_hash == hash_secret(data.token)).with_for_update()
    )
    if reset is None or reset.used_at is not None or reset.expires_at <= utcnow():
        raise Problem(
            400,
            "invalid-reset-token",
            "Reset link not valid",
            "This password reset link is not valid, was used already, or has expired.",
            hint="Ask for a new link at POST /api/v1/auth/password-reset.",
            errors=[{"path": "token", "message": "not valid or expired", "hint": "ask for a new link"}],
        )
    user = db.get_one(User, reset.user_id)
    user.password_hash = password_hasher.hash(data.password)
    db.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=utcnow())
    )
    _end_sessions(db, user_id=user.id)
    throttle.clear_account(db, email=user.email)
    for membership in db.scalars(select(Membership).where(Membership.user_id == user.id)):
        tenant = db.get_one(Tenant, membership.tenant_id)
        actor = Caller(tenant.id, tenant.slug, membership.role, user.id)
        audit(db, actor, "auth.password_reset", f"user:{user.id}", request=request)
    db.commit()
