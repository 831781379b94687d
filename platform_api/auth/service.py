"""Sign-up, login and API keys. Secrets are random, shown once, and stored only as hashes.

Passwords are hashed with Argon2id at OWASP's second recommended setting for a small server: 19 MiB of
memory, 2 passes, 1 lane. One lane keeps a login on one core, so a 2-core server still answers other
requests while it verifies one (about 50 ms here); hashes made with other parameters are upgraded at login."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from fastapi import BackgroundTasks, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.settings import ApiSettings, Settings
from engine.kube.reconcile import TenantRef
from platform_api.audit.service import audit
from platform_api.auth import schemas, throttle
from platform_api.deps import API_KEY_PREFIX, SESSION_TOKEN_PREFIX, Caller, hash_secret
from platform_api.kube import provision_workspace
from platform_api.problems import Problem, not_found
from store import ROLES, ApiKey, LoginSession, Membership, Role, Tenant, User, new_id, utcnow

password_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
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


def client_address(request: Request | None) -> str | None:
    return request.client.host if request is not None and request.client else None


def issue_login_token(
    db: Session, *, tenant_id: str, user_id: str, ttl_hours: int, request: Request | None = None
) -> str:
    token = SESSION_TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.add(
        LoginSession(
            tenant_id=tenant_id,
            user_id=user_id,
            secret_hash=hash_secret(token),
            client_address=client_address(request),
            expires_at=utcnow() + timedelta(hours=ttl_hours),
        )
    )
    return token


def password_matches(user: User | None, password: str) -> bool:
    """Checks against a dummy hash when there is no user, so that both take the same time."""
    try:
        return password_hasher.verify(user.password_hash if user else _DUMMY_HASH, password) and user is not None
    except (VerifyMismatchError, InvalidHashError):
        return False


def _tenant_read(tenant: Tenant) -> schemas.TenantRead:
    return schemas.TenantRead(id=tenant.id, slug=tenant.slug, name=tenant.name)


def signup(
    db: Session, *, data: schemas.SignupCreate, settings: Settings, request: Request, background: BackgroundTasks
) -> schemas.SignupRead:
    """A new workspace owned by a new user, or by the existing user of that email when the password is theirs.
    Someone else's email answers the same 201 with a token that opens nothing: the answer does not say
    whether the email has an account. The workspace is on the default tier; its Kubernetes namespace and pool
    are reconciled after the answer is sent (a decoy's would take longer: it must not)."""
    email = data.email.lower()
    user = db.scalar(select(User).where(User.email == email))
    if user is not None and not password_matches(user, data.password):
        return _decoy_signup(db, data, email)
    if user is None:
        user = User(email=email, password_hash=password_hasher.hash(data.password))
        db.add(user)
    tier = settings.kubernetes.default_tier
    tenant = Tenant(name=data.tenant_name.strip(), slug=_unique_tenant_slug(db, data.tenant_name), tier=tier)
    db.add(tenant)
    db.flush()
    db.add(Membership(tenant_id=tenant.id, user_id=user.id, role=Role.OWNER))
    ttl_hours = settings.api.session_ttl_hours
    token = issue_login_token(db, tenant_id=tenant.id, user_id=user.id, ttl_hours=ttl_hours, request=request)
    db.commit()
    background.add_task(provision_workspace, settings, TenantRef(tenant.id, tenant.slug, tier))
    return schemas.SignupRead(
        tenant=_tenant_read(tenant), user=schemas.UserRead(id=user.id, email=user.email), token=token
    )


def _decoy_signup(db: Session, data: schemas.SignupCreate, email: str) -> schemas.SignupRead:
    """What a sign-up answers, with nothing created: the slug is the one a new workspace would get."""
    slug = _unique_tenant_slug(db, data.tenant_name)
    return schemas.SignupRead(
        tenant=schemas.TenantRead(id=new_id(), slug=slug, name=data.tenant_name.strip()),
        user=schemas.UserRead(id=new_id(), email=email),
        token=SESSION_TOKEN_PREFIX + secrets.token_urlsafe(32),
    )


def _bad_credentials() -> Problem:
    return Problem(
        401,
        "invalid-credentials",
        "Wrong email or password",
        "The email and password do not match an account.",
        hint="Check both, or sign up at POST /api/v1/signup.",
    )


def login(db: Session, *, data: schemas.LoginCreate, settings: ApiSettings, request: Request) -> schemas.LoginRead:
    email, address = data.email.lower(), client_address(request)
    throttle.check(db, email=email, address=address, settings=settings)
    user = db.scalar(select(User).where(User.email == email))
    row = _membership_to_enter(db, user, data.tenant_slug) if password_matches(user, data.password) else None
    if user is None or row is None:
        throttle.record_failure(db, email=email, address=address, settings=settings)
        entered = _membership_to_enter(db, user, data.tenant_slug)
        target = f"user:{user.id}" if user else "user:unknown"  # nobody signed in: no actor
        audit(db, None, "auth.login_failed", target, request=request, tenant_id=entered[1].id if entered else None)
        db.commit()
        raise _bad_credentials()
    membership, tenant = row
    throttle.clear_account(db, email=email)
    if password_hasher.check_needs_rehash(user.password_hash):
        user.password_hash = password_hasher.hash(data.password)
    token = issue_login_token(
        db, tenant_id=tenant.id, user_id=user.id, ttl_hours=settings.session_ttl_hours, request=request
    )
    audit(
        db, Caller(tenant.id, tenant.slug, membership.role, user.id), "auth.login", f"user:{user.id}", request=request
    )
    db.commit()
    return schemas.LoginRead(token=token, tenant=_tenant_read(tenant), role=membership.role)


def _membership_to_enter(db: Session, user: User | None, tenant_slug: str | None) -> tuple[Membership, Tenant] | None:
    if user is None:
        return None
    query = (
        select(Membership, Tenant).join(Tenant, Tenant.id == Membership.tenant_id).where(Membership.user_id == user.id)
    )
    if tenant_slug:
        query = query.where(Tenant.slug == tenant_slug)
    row = db.execute(query.order_by(Membership.created_at)).first()
    return (row[0], row[1]) if row else None


def create_api_key(
    db: Session, *, caller: Caller, data: schemas.ApiKeyCreate, request: Request
) -> schemas.ApiKeyCreated:
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
        scopes=sorted(set(data.scopes)),
        prefix=key[: len(API_KEY_PREFIX) + 6],
        secret_hash=hash_secret(key),
        expires_at=utcnow() + timedelta(days=data.expires_in_days) if data.expires_in_days else None,
    )
    db.add(row)
    db.flush()
    detail = {"name": data.name, "role": data.role, "scopes": row.scopes}
    audit(db, caller, "api_key.created", f"api_key:{row.id}", request=request, detail=detail)
    db.commit()
    return schemas.ApiKeyCreated(**_key_fields(row), key=key)


def _key_fields(row: ApiKey) -> dict:
    return {
        name: getattr(row, name)
        for name in ("id", "name", "role", "scopes", "prefix", "created_at", "expires_at", "revoked_at", "last_used_at")
    }


def list_api_keys(db: Session, *, caller: Caller) -> list[schemas.ApiKeyRead]:
    rows = db.scalars(select(ApiKey).where(ApiKey.tenant_id == caller.tenant_id).order_by(ApiKey.created_at))
    return [schemas.ApiKeyRead(**_key_fields(row)) for row in rows]


def revoke_api_key(db: Session, *, caller: Caller, key_id: str, request: Request) -> None:
    row = db.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.tenant_id == caller.tenant_id))
    if row is None:
        raise not_found("API key")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit(db, caller, "api_key.revoked", f"api_key:{row.id}", request=request, detail={"name": row.name})
    db.commit()
