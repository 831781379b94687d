"""Request dependencies: settings, a database session, and the authenticated caller.

Once the caller is known, the request's session is scoped to the caller's tenant: on PostgreSQL each of its
later transactions runs as the `flowyard_tenant` role under row-level security (store.db.scope_to_tenant),
so a query that forgets its tenant filter still sees nothing of other tenants. The lookup of the caller
itself, and routes without a caller (signup, login, webhook ingress, approval links, health), run as the
platform's own role."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.settings import Settings
from platform_api.permissions import Permission, not_permitted, permissions_of
from platform_api.problems import Problem, forbidden
from platform_api.shedding import bearer_credential, tenants_by_credential
from store import ApiKey, LoginSession, Membership, Role, Tenant, utcnow
from store.db import get_session_factory, scope_to_tenant

SESSION_TOKEN_PREFIX = "fy_s_"
API_KEY_PREFIX = "fy_k_"


def hash_secret(secret: str) -> str:
    """Tokens are 256-bit random strings, so a plain SHA-256 is a safe, fast lookup key."""
    return hashlib.sha256(secret.encode()).hexdigest()


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def wake_dispatcher(request: Request) -> None:
    """New work was queued: let the dispatcher look now rather than at its next poll."""
    dispatcher = getattr(request.app.state, "dispatcher", None)
    if dispatcher:
        dispatcher.wake()


def wake_dispatcher_after_writes(request: Request) -> Iterator[None]:
    """A router dependency: after a write that may have queued work (a CRM change's outbox row), wake the
    dispatcher. PostgreSQL's NOTIFY would wake it anyway; on SQLite this saves waiting for the next poll."""
    yield
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        wake_dispatcher(request)


def get_db(settings: Annotated[Settings, Depends(get_settings)]) -> Iterator[Session]:
    with get_session_factory(settings.platform_database_url)() as session:
        yield session


DB = Annotated[Session, Depends(get_db)]


@dataclass(frozen=True)
class Caller:
    tenant_id: str
    tenant_slug: str
    role: str
    user_id: str | None
    api_key_id: str | None = None
    scopes: tuple[str, ...] | None = None  # an API key's (read, run, deploy, admin); None for a login
    session_id: str | None = None  # the login session of a login token

    @property
    def permissions(self) -> frozenset[Permission]:
        return permissions_of(self.role, self.scopes)

    def require(self, needed: Role, action: str) -> None:
        """The caller needs every permission of role `needed` (the table in platform_api.permissions)."""
        missing = permissions_of(needed) - self.permissions
        if not missing:
            return
        if Role(self.role).at_least(needed):
            raise not_permitted(min(missing), role=self.role, scopes=self.scopes)
        raise forbidden(action, self.role, needed)


def _unauthorized(detail: str) -> Problem:
    return Problem(
        401,
        "unauthorized",
        "Not signed in",
        detail,
        hint="Send 'Authorization: Bearer <token>' with a login token or an API key.",
        headers={"WWW-Authenticate": "Bearer"},
    )


def _caller_from_session(db: Session, token: str) -> Caller | None:
    row = db.execute(
        select(LoginSession, Membership, Tenant)
        .join(
            Membership, (Membership.user_id == LoginSession.user_id) & (Membership.tenant_id == LoginSession.tenant_id)
        )
        .join(Tenant, Tenant.id == LoginSession.tenant_id)
        .where(LoginSession.secret_hash == hash_secret(token))
    ).first()
    if row is None:
        return None
    login, membership, tenant = row
    if login.revoked_at or login.expires_at <= utcnow():
        raise _unauthorized("Your login token has expired or was revoked. Log in again.")
    return Caller(tenant.id, tenant.slug, membership.role, login.user_id, session_id=login.id)


def _caller_from_api_key(db: Session, token: str) -> Caller | None:
    row = db.execute(
        select(ApiKey, Tenant)
        .join(Tenant, Tenant.id == ApiKey.tenant_id)
        .where(ApiKey.secret_hash == hash_secret(token))
    ).first()
    if row is None:
        return None
    key, tenant = row
    if key.revoked_at or (key.expires_at and key.expires_at <= utcnow()):
        raise _unauthorized("This API key has expired or was revoked. Create a new one.")
    key.last_used_at = utcnow()
    db.commit()
    return Caller(tenant.id, tenant.slug, key.role, key.created_by, api_key_id=key.id, scopes=tuple(key.scopes))


def authenticate(request: Request, db: Session) -> Caller:
    """The caller of a bearer token, without scoping `db` to its tenant (for a user's own cross-workspace
    calls: /me, switching workspaces, accepting an invitation with a login)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("This call needs authentication.")
    token = token.strip()
    caller = None
    if token.startswith(SESSION_TOKEN_PREFIX):
        caller = _caller_from_session(db, token)
    elif token.startswith(API_KEY_PREFIX):
        caller = _caller_from_api_key(db, token)
    if caller is None:
        raise _unauthorized("The token is not valid.")
    return caller


def get_caller(request: Request, db: DB, settings: Annotated[Settings, Depends(get_settings)]) -> Caller:
    caller = authenticate(request, db)
    tenants_by_credential.learn(bearer_credential(request.headers["authorization"]), caller.tenant_id)
    db.commit()  # end the lookup's transaction: on SQLite it holds the write lock (a live stream would keep it)
    scope_to_tenant(db, tenant_id=caller.tenant_id, switch_role=settings.api.tenant_role)
    return caller


CurrentCaller = Annotated[Caller, Depends(get_caller)]
