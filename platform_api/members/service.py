"""A workspace's members and invitations. Nobody grants, changes or removes a role above their own, and a
workspace always keeps an owner. Removing a member ends their sessions in the workspace at once."""

from __future__ import annotations

import secrets
from datetime import timedelta

from fastapi import Request
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from platform_api.audit.service import audit
from platform_api.auth import mail
from platform_api.auth.service import issue_login_token, password_hasher
from platform_api.auth.sessions import require_login
from platform_api.deps import Caller, hash_secret
from platform_api.members import schemas
from platform_api.problems import Problem, not_found
from store import ApiKey, Invitation, LoginSession, Membership, Role, Tenant, User, utcnow

INVITATION_TTL = timedelta(days=7)


def _role_too_high(own: str, wanted: str, path: str = "role") -> Problem:
    return Problem(
        403,
        "role-too-high",
        "Role too high",
        f"A '{own}' cannot give or change the '{wanted}' role.",
        hint=f"Choose '{own}' or a lower role.",
        errors=[{"path": path, "message": "higher than your own role", "hint": f"use '{own}' or lower"}],
    )


def _check_role_within_own(caller: Caller, role: str) -> None:
    if not Role(caller.role).at_least(Role(role)):
        raise _role_too_high(caller.role, role)


def _already_member() -> Problem:
    return Problem(
        409,
        "already-member",
        "Already a member",
        "This person is a member of the workspace already.",
        hint="Change their role at PATCH /api/v1/members/{user_id}, or switch to the workspace.",
    )


def invite(
    db: Session, *, caller: Caller, data: schemas.InvitationCreate, public_url: str, request: Request
) -> tuple[schemas.InvitationCreated, mail.AccountEmail]:
    _check_role_within_own(caller, data.role)
    member = select(Membership.id).join(User, User.id == Membership.user_id)
    if db.scalar(member.where(Membership.tenant_id == caller.tenant_id, User.email == data.email.lower())):
        raise _already_member()
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        tenant_id=caller.tenant_id,
        email=data.email.lower(),
        role=data.role,
        invited_by=caller.user_id,
        secret_hash=hash_secret(token),
        expires_at=utcnow() + INVITATION_TTL,
    )
    db.add(invitation)
    db.flush()
    url = f"{public_url.rstrip('/')}/#/invite/{token}"
    audit(db, caller, "member.invited", f"invitation:{invitation.id}", request=request, detail={"role": data.role})
    tenant = db.get_one(Tenant, caller.tenant_id)
    email = mail.AccountEmail(
        tenant_id=caller.tenant_id,
        connection_id=mail.alert_connection(db, caller.tenant_id),
        to=invitation.email,
        subject=f"You are invited to {tenant.name} on Flowyard",
        text=f"You are invited to join the workspace '{tenant.name}' as {data.role}. Open this link within 7 days:",
        link=url,
        log_key=f"invitation-{invitation.id}",
    )
    db.commit()
    return schemas.InvitationCreated(id=invitation.id, url=url), email


def list_invitations(db: Session, *, caller: Caller) -> list[schemas.InvitationRead]:
    rows = db.scalars(
        select(Invitation)
        .where(Invitation.tenant_id == caller.tenant_id, Invitation.accepted_at.is_(None))
        .order_by(Invitation.created_at.desc())
    )
    return [schemas.InvitationRead.model_validate(row, from_attributes=True) for row in rows]


def withdraw_invitation(db: Session, *, caller: Caller, invitation_id: str) -> None:
    row = db.scalar(select(Invitation).where(Invitation.id == invitation_id, Invitation.tenant_id == caller.tenant_id))
    if row is None or row.accepted_at is not None:
        raise not_found("invitation")
    db.delete(row)
    db.commit()


def _invitation_invalid() -> Problem:
    return Problem(
        404,
        "invitation-invalid",
        "Invitation not valid",
        "This invitation link is not valid, was used already, or has expired.",
        hint="Ask the workspace's admin for a new invitation.",
    )


def accept(
    db: Session,
    *,
    token: str,
    data: schemas.InvitationAccept,
    signed_in: Caller | None,
    ttl_hours: int,
    request: Request,
) -> schemas.AcceptRead:
    """A new person gives a password (and name); someone with an account accepts signed in instead."""
    invitation = db.scalar(select(Invitation).where(Invitation.secret_hash == hash_secret(token)).with_for_update())
    if invitation is None or invitation.accepted_at is not None or invitation.expires_at <= utcnow():
        raise _invitation_invalid()
    user = _joining_user(db, invitation=invitation, data=data, signed_in=signed_in)
    if db.scalar(
        select(Membership.id).where(Membership.tenant_id == invitation.tenant_id, Membership.user_id == user.id)
    ):
        raise _already_member()
    invitation.accepted_at = utcnow()
    db.add(Membership(tenant_id=invitation.tenant_id, user_id=user.id, role=invitation.role))
    tenant = db.get_one(Tenant, invitation.tenant_id)
    joined = Caller(tenant.id, tenant.slug, invitation.role, user.id)
    audit(db, joined, "member.joined", f"member:{user.id}", request=request, detail={"role": invitation.role})
    token = issue_login_token(db, tenant_id=tenant.id, user_id=user.id, ttl_hours=ttl_hours, request=request)
    db.commit()
    return schemas.AcceptRead(token=token)


def _joining_user(
    db: Session, *, invitation: Invitation, data: schemas.InvitationAccept, signed_in: Caller | None
) -> User:
    if signed_in is not None:
        user = db.get_one(User, require_login(signed_in))
        if user.email != invitation.email:
            raise Problem(
                403,
                "invitation-for-someone-else",
                "Invitation for another email",
                "This invitation was sent to another email than your account's.",
                hint="Sign in with the invited account, or ask for an invitation to your email.",
            )
        return user
    if db.scalar(select(User.id).where(User.email == invitation.email)):
        raise Problem(
            409,
            "login-required",
            "Sign in to accept",
            "The invited email has an account: accept the invitation signed in.",
            hint="Log in at POST /api/v1/auth/login and send this call with 'Authorization: Bearer <token>'.",
        )
    if not data.password:
        raise Problem(
            422,
            "validation-error",
            "Invalid request",
            "password: a new account needs a password",
            hint="Add a password of at least 10 characters.",
            errors=[{"path": "password", "message": "required for a new account", "hint": "at least 10 characters"}],
        )
    user = User(email=invitation.email, name=data.name, password_hash=password_hasher.hash(data.password))
    db.add(user)
    db.flush()
    return user


def list_members(db: Session, *, caller: Caller) -> list[schemas.MemberRead]:
    rows = db.execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.tenant_id == caller.tenant_id)
        .order_by(Membership.created_at)
    ).all()
    return [_member_read(membership, user) for membership, user in rows]


def _member_read(membership: Membership, user: User) -> schemas.MemberRead:
    return schemas.MemberRead(
        user_id=user.id, email=user.email, name=user.name, role=membership.role, joined_at=membership.created_at
    )


def _membership(db: Session, *, caller: Caller, user_id: str) -> Membership:
    membership = db.scalar(
        select(Membership).where(Membership.tenant_id == caller.tenant_id, Membership.user_id == user_id)
    )
    if membership is None:
        raise not_found("member")
    _check_role_within_own(caller, membership.role)
    return membership


def _keep_an_owner(db: Session, *, caller: Caller, membership: Membership) -> None:
    """409 when `membership` is the workspace's last owner. The owners' rows are locked, so two concurrent
    demotions cannot each leave the other as the last one."""
    if membership.role != Role.OWNER:
        return
    owners = select(Membership.id).where(Membership.tenant_id == caller.tenant_id, Membership.role == Role.OWNER)
    locked = db.scalars(owners.with_for_update()).all()
    if len(locked) <= 1:
        raise Problem(
            409,
            "last-owner",
            "The last owner stays",
            "This is the workspace's only owner: it cannot be removed or given another role.",
            hint="Make another member an owner first.",
        )


def change_role(
    db: Session, *, caller: Caller, user_id: str, data: schemas.MemberUpdate, request: Request
) -> schemas.MemberRead:
    membership = _membership(db, caller=caller, user_id=user_id)
    _check_role_within_own(caller, data.role)
    if data.role != membership.role:
        _keep_an_owner(db, caller=caller, membership=membership)
        detail = {"from": membership.role, "to": data.role}
        membership.role = data.role
        audit(db, caller, "member.role_changed", f"member:{user_id}", request=request, detail=detail)
    db.commit()
    return _member_read(membership, db.get_one(User, user_id))


def remove(db: Session, *, caller: Caller, user_id: str, request: Request) -> None:
    membership = _membership(db, caller=caller, user_id=user_id)
    _keep_an_owner(db, caller=caller, membership=membership)
    db.delete(membership)
    db.execute(
        update(LoginSession)
        .where(
            LoginSession.tenant_id == caller.tenant_id,
            LoginSession.user_id == user_id,
            LoginSession.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
    keys = db.execute(  # the API keys they made here: a script of theirs must not outlive their access
        update(ApiKey)
        .where(ApiKey.tenant_id == caller.tenant_id, ApiKey.created_by == user_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    detail = {"role": membership.role, "api_keys_revoked": getattr(keys, "rowcount", 0)}
    audit(db, caller, "member.removed", f"member:{user_id}", request=request, detail=detail)
    db.commit()
