"""Row-level security under the services' tenant filters (PostgreSQL; SQLite has none).

A hostile or buggy query in an API request's session, one that forgets `where tenant_id = ...`, must still
see and touch only the caller's rows: the session the API builds for an authenticated request runs as the
`flowyard_tenant` role with the caller's tenant set (migration 0007, store.db.scope_to_tenant)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session
from starlette.requests import Request

from platform_api.deps import get_caller, get_db
from store import CatalogTemplate, Tenant, Workflow
from store.db import get_session_factory, normalise_url, scope_to_tenant
from tests.platform_rows import MINIMAL_GRAPH, add_tenant, add_workflow


@pytest.fixture
def pg_url(platform_db_url: str) -> str:
    if not platform_db_url.startswith("postgresql"):
        pytest.skip("row-level security is PostgreSQL's")
    return platform_db_url


@pytest.fixture
def two_tenants(pg_url: str) -> tuple[Tenant, Tenant]:
    """Two tenants with two workflows each, written by the platform's own (owner) session."""
    with get_session_factory(pg_url)() as db:
        tenants = add_tenant(db), add_tenant(db)
        for tenant in tenants:
            add_workflow(db, tenant)
            add_workflow(db, tenant)
        db.commit()
    return tenants


@pytest.fixture
def scoped(pg_url: str, two_tenants: tuple[Tenant, Tenant]) -> Iterator[Session]:
    """A session scoped to the first tenant, the way the API scopes a request's session."""
    with get_session_factory(pg_url)() as db:
        scope_to_tenant(db, tenant_id=two_tenants[0].id)
        yield db


def _tenants_seen(db: Session) -> set[str]:
    return set(db.scalars(select(Workflow.tenant_id)))


def test_an_unfiltered_query_sees_only_the_scoped_tenants_rows(scoped, two_tenants):
    mine, _theirs = two_tenants
    assert _tenants_seen(scoped) == {mine.id}
    assert len(scoped.scalars(select(Workflow)).all()) == 2
    scoped.commit()  # the next transaction is scoped again (settings end with their transaction)
    assert _tenants_seen(scoped) == {mine.id}
    scoped.rollback()
    assert scoped.execute(text("SELECT current_user")).scalar() == "flowyard_tenant"


def test_another_tenants_rows_cannot_be_written(scoped, two_tenants, pg_url):
    _mine, theirs = two_tenants
    with get_session_factory(pg_url)() as owner:
        their_workflow = owner.scalars(select(Workflow).where(Workflow.tenant_id == theirs.id)).first()
    assert their_workflow is not None

    changed = scoped.execute(update(Workflow).where(Workflow.id == their_workflow.id).values(description="pwned"))
    assert changed.rowcount == 0
    scoped.rollback()

    scoped.add(Workflow(tenant_id=theirs.id, name="planted", slug="planted", latest_version=1))
    with pytest.raises(ProgrammingError, match="row-level security"):
        scoped.flush()
    scoped.rollback()

    with get_session_factory(pg_url)() as owner:
        assert owner.get_one(Workflow, their_workflow.id).description != "pwned"


def test_the_tenant_role_without_a_tenant_sees_nothing(pg_url, two_tenants):
    with get_session_factory(pg_url)() as db:
        db.execute(text("SET LOCAL ROLE flowyard_tenant"))
        assert db.scalar(select(func.count()).select_from(Workflow)) == 0


def test_a_scope_does_not_leak_to_the_next_user_of_the_connection(pg_url, two_tenants):
    """One pooled connection: a scoped transaction, then a plain session on the same connection."""
    engine = create_engine(normalise_url(pg_url), pool_size=1, max_overflow=0)
    try:
        with Session(engine) as db:
            pid = db.scalar(text("SELECT pg_backend_pid()"))
            scope_to_tenant(db, tenant_id=two_tenants[0].id)  # applies to the open transaction at once
            assert _tenants_seen(db) == {two_tenants[0].id}
            db.commit()
        with Session(engine) as db:
            assert db.scalar(text("SELECT pg_backend_pid()")) == pid
            assert db.scalar(text("SELECT current_user")) != "flowyard_tenant"
            assert not db.scalar(text("SELECT current_setting('flowyard.tenant_id', true)"))
            assert {tenant.id for tenant in two_tenants} <= _tenants_seen(db)
    finally:
        engine.dispose()


def test_public_templates_stay_readable_but_not_writable(pg_url, two_tenants):
    mine, theirs = two_tenants
    slugs = {owner: f"rls-{uuid.uuid4().hex[:8]}" for owner in ("public", mine.id, theirs.id)}
    with get_session_factory(pg_url)() as owner_db:
        for owner, slug in slugs.items():
            owner_db.add(_template(slug, tenant_id=None if owner == "public" else owner))
        owner_db.commit()
    with get_session_factory(pg_url)() as db:
        scope_to_tenant(db, tenant_id=mine.id)
        seen = set(db.scalars(select(CatalogTemplate.slug).where(CatalogTemplate.slug.in_(slugs.values()))))
        assert seen == {slugs["public"], slugs[mine.id]}
        changed = db.execute(
            update(CatalogTemplate).where(CatalogTemplate.slug == slugs["public"]).values(title="defaced")
        )
        assert changed.rowcount == 0
        db.rollback()
        db.add(_template(f"rls-{uuid.uuid4().hex[:8]}", tenant_id=None))
        with pytest.raises(ProgrammingError, match="row-level security"):
            db.flush()


def _template(slug: str, *, tenant_id: str | None) -> CatalogTemplate:
    return CatalogTemplate(
        slug=slug,
        tenant_id=tenant_id,
        title=slug,
        description="",
        category="operations",
        tags=[],
        integrations=[],
        latest_version=1,
        search_text=slug,
    )


def test_an_api_request_session_is_scoped_to_the_caller(pg_url, api_app):
    """The API's own dependencies: the caller's lookup crosses tenants (it finds the token's tenant), then
    the request's session sees only the caller's workflows even with no filter."""
    apis = [_signup(api_app) for _ in range(2)]
    for token in apis:
        response = api_app.post(
            "/api/v1/workflows",
            json={"name": f"rls {uuid.uuid4().hex[:6]}", "graph": MINIMAL_GRAPH},
            headers=_bearer(token),
        )
        assert response.status_code == 201, response.text
    settings = api_app.app.state.settings
    sessions = get_db(settings)
    db = next(sessions)
    try:
        caller = get_caller(_request(api_app.app, apis[0]), db, settings)
        assert _tenants_seen(db) == {caller.tenant_id}
        db.commit()
        assert _tenants_seen(db) == {caller.tenant_id}
    finally:
        sessions.close()


def _signup(api_app) -> str:
    response = api_app.post(
        "/api/v1/signup",
        json={
            "tenant_name": f"RLS {uuid.uuid4().hex[:8]}",
            "email": f"{uuid.uuid4().hex[:10]}@example.com",
            "password": "correct horse battery",
        },
    )
    assert response.status_code == 201, response.text
    return response.json()["token"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _request(app, token: str) -> Request:
    return Request({"type": "http", "app": app, "headers": [(b"authorization", f"Bearer {token}".encode())]})
