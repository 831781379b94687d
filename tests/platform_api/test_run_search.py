"""Finding runs by a value in their input, on SQLite and PostgreSQL: runs as the API accepts them, indexed
by `engine.search_index` (as the dispatcher does), then found by a customer's email or phone written
differently; only keyed hashes are stored; another workspace finds nothing; cleared or erased inputs drop
out; the workspace chooses its search fields."""

from __future__ import annotations

import re

from sqlalchemy import select

from engine.search_index import index_new_runs
from store import RunSearchKey, Tenant
from store.db import get_session_factory
from tests.platform_api.test_auth import _problem
from tests.platform_rows import Clock, add_execution, add_workflow


def _index(api) -> None:
    settings = api.http.app.state.settings
    with get_session_factory(settings.platform_database_url)() as db:
        while index_new_runs(db, settings):
            pass


def _test_runs(api, inputs: list[dict]) -> list[str]:
    """Runs accepted with these inputs (written as the API writes them: the in-process API has no engine)."""
    settings = api.http.app.state.settings
    with get_session_factory(settings.platform_database_url).begin() as db:
        workflow = add_workflow(db, db.get_one(Tenant, api.signup_body["tenant"]["id"]))
        clock = Clock()
        return [add_execution(db, workflow, clock=clock, input=payload).id for payload in inputs]


def _found(api, **params) -> list[str]:
    response = api.get("/api/v1/runs", params=params)
    assert response.status_code == 200, response.text
    return [run["id"] for run in response.json()]


def test_runs_are_found_by_a_customers_email_or_phone(tenant, anonymous, platform_db_url):
    ada, bob, again = _test_runs(
        tenant,
        [
            {"email": "Ada@Example.com", "phone": "+49 30 1234-567"},
            {"Email": "bob@example.com", "name": "Ada@Example.com"},  # `name` is not a search field
            {"email": " ada@example.com"},
        ],
    )
    _index(tenant)
    assert _found(tenant, search="ADA@example.COM") == [again, ada]
    assert _found(tenant, search="bob@example.com") == [bob]  # the field's name in any case
    assert _found(tenant, search="+49301234567", search_field="phone") == [ada]
    assert _found(tenant, search="ada@example.com", search_field="phone") == []
    assert tenant.get("/api/v1/runs/counts", params={"search": "ada@example.com"}).json()["pending"] == 2
    stranger = anonymous.signup()
    _index(stranger)
    assert _found(stranger, search="ada@example.com") == []

    with get_session_factory(platform_db_url)() as db:
        stored = db.scalars(select(RunSearchKey.digest).where(RunSearchKey.execution_id == ada)).all()
    assert len(stored) == 2 and all(re.fullmatch("[0-9a-f]{64}", digest) for digest in stored)  # HMAC-SHA256, hex


def test_an_erased_persons_runs_are_no_longer_found(tenant):
    (run_id,) = _test_runs(tenant, [{"email": "gone@example.com"}])
    _index(tenant)
    assert _found(tenant, search="gone@example.com") == [run_id]
    erased = tenant.post("/api/v1/privacy/erase", json={"email": "gone@example.com"})
    assert erased.status_code in (200, 201), erased.text
    assert _found(tenant, search="gone@example.com") == []


def test_the_workspace_chooses_its_search_fields(tenant):
    assert tenant.get("/api/v1/tenant").json()["search_fields"] == ["email", "phone", "customer_id", "order_id"]
    changed = tenant.request("PATCH", "/api/v1/tenant", json={"search_fields": ["ticket", "email"]})
    assert changed.status_code == 200 and changed.json()["search_fields"] == ["ticket", "email"]
    (run_id,) = _test_runs(tenant, [{"ticket": "T-1001"}])
    _index(tenant)
    assert _found(tenant, search="t-1001") == [run_id]
    refused = tenant.get("/api/v1/runs", params={"search": "x", "search_field": "phone"})
    assert _problem(refused, 422, "unknown-search-field")["errors"][0]["path"] == "search_field"
    bad = tenant.request("PATCH", "/api/v1/tenant", json={"search_fields": ["no spaces allowed"]})
    assert bad.status_code == 422
