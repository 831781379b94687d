"""Sign-up, login and API keys. Secrets are random, shown once, and stored only as hashes."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_api.auth import schemas
from platform_api.deps import API_KEY_PREFIX, SESSION_TOKEN_PREFIX, Caller, hash_secret
from platform_api.problems import Problem, not_found
from store import ROLES, ApiKey, LoginSession, Membership, Role, Tenant, User, utcnow

password_hasher = PasswordHasher()
# Verifying against this keeps a login for an unknown email as slow as a wrong password.
_DUMMY_HASH = password_hasher.hash("flowyard-timing-equaliser")


def slugify(text: str, max_length: int = 30) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:max_length].strip("-")
    return slug or "x"


def _unique_tenant_slug(db: Session, name: str) -> str:
    base = slugify(name)
    slug = base
    while db.scalar(select(Tenant.id).where(Tenant.slug == slug)):
        slug = f"{base}-{secrets.token_hex(2)}"
    return slug


def _issue_login_token(db: Session, *, tenant_id: str, user_id: str, ttl_hours: int) -> str:
    token = SESSION_TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.add(
        LoginSession(
            tenant_id=tenant_id,
            user_id=user_id,
            secret_hash=hash_secret(token),
            expires_at=utcnow() + timedelta(hours=ttl_hours),
        )
    )
    return token


def signup(db: Session, *, data: schemas.SignupCreate, ttl_hours: int) -> schemas.SignupRead:
    email = data.email.lower()
    if db.scalar(select(User.id).where(User.email == email)):
        raise Problem(
            409,
            "email-taken",
            "Email already registered",
            "An account with this email already exists.",
            hint="Log in at POST /api/v1/auth/login instead, or use another email.",
            errors=[{"path": "email", "message": "already registered", "hint": "log in instead"}],
        )
    tenant = Tenant(name=data.tenant_name.strip(), slug=_unique_tenant_slug(db, data.tenant_name))
    user = User(email=email, password_hash=password_hasher.hash(data.password))
    db.add_all([tenant, user])
    db.flush()
    db.add(Membership(tenant_id=tenant.id, user_id=user.id, role=Role.OWNER))
    token = _issue_login_token(db, tenant_id=tenant.id, user_id=user.id, ttl_hours=ttl_hours)
    db.commit()
    return schemas.SignupRead(
        tenant=schemas.TenantRead(id=tenant.id, slug=tenant.slug, name=tenant.name),
        user=schemas.UserRead(id=user.id, email=user.email),
        token=token,
    )


def _bad_credentials() -> Problem:
    return Problem(
        401,
        "invalid-credentials",
        "Wrong email or password",
        "The email and password do not match an account.",
        hint="Check both, or sign up at POST /api/v1/signup.",
    )


def login(db: Session, *, data: schemas.LoginCreate, ttl_hours: int) -> schemas.LoginRead:
    user = db.scalar(select(User).where(User.email == data.email.lower()))
    try:
        password_hasher.verify(user.password_hash if user else _DUMMY_HASH, data.password)
    except (VerifyMismatchError, InvalidHashError):
        raise _bad_credentials() from None
    if user is None:
        raise _bad_credentials()
    query = (
        select(Membership, Tenant).join(Tenant, Tenant.id == Membership.tenant_id).where(Membership.user_id == user.id)
    )
    if data.tenant_slug:
        query = query.where(Tenant.slug == data.tenant_slug)
    row = db.execute(query.order_by(Membership.created_at)).first()
    if row is None:
        raise _bad_credentials()
    membership, tenant = row
    token = _issue_login_token(db, tenant_id=tenant.id, user_id=user.id, ttl_hours=ttl_hours)
    db.commit()
    return schemas.LoginRead(
        token=token, tenant=schemas.TenantRead(id=tenant.id, slug=tenant.slug, name=tenant.name), role=membership.role
    )


def create_api_key(db: Session, *, caller: Caller, data: schemas.ApiKeyCreate) -> schemas.ApiKeyCreated:
    caller.require(Role.ADMIN, "create API keys")
    if ROLES.index(data.role) < ROLES.index(caller.role):
        raise Problem(
            403,
            "role-too-high",
            "Role too high",
            f"A '{caller.role}' cannot create a key with the '{data.role}' role.",
            hint=f"Choose '{caller.role}' or a lower role.",
            errors=[{"path": "role", "message": "higher than your own role", "hint": f"use '{caller.role}' or lower"}],
        )
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        tenant_id=caller.tenant_id,
        created_by=caller.user_id,
        name=data.name,
        role=data.role,
        prefix=key[: len(API_KEY_PREFIX) + 6],
        secret_hash=hash_secret(key),
        expires_at=utcnow() + timedelta(days=data.expires_in_days) if data.expires_in_days else None,
    )
    db.add(row)
    db.commit()
    return schemas.ApiKeyCreated(**_key_fields(row), key=key)


def _key_fields(row: ApiKey) -> dict:
    return {
        name: getattr(row, name)
        for name in ("id", "name", "role", "prefix", "created_at", "expires_at", "revoked_at", "last_used_at")
    }


def list_api_keys(db: Session, *, caller: Caller) -> list[schemas.ApiKeyRead]:
    caller.require(Role.ADMIN, "list API keys")
    rows = db.scalars(select(ApiKey).where(ApiKey.tenant_id == caller.tenant_id).order_by(ApiKey.created_at))
    return [schemas.ApiKeyRead(**_key_fields(row)) for row in rows]


def revoke_api_key(db: Session, *, caller: Caller, key_id: str) -> None:
    caller.require(Role.ADMIN, "revoke API keys")
    row = db.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.tenant_id == caller.tenant_id))
    if row is None:
        raise not_found("API key")
    row.revoked_at = row.revoked_at or utcnow()
    db.commit()
