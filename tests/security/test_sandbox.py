"""A test run is sandboxed: it never starts or changes a live workflow. Its CRM writes are marked as
test data and fire no data-change trigger; its SQL is rolled back."""

from __future__ import annotations

import time
import uuid

import pytest

from blocks.execute import run_action
from blocks.sql import QUERY, QueryInput, SqlConnection
from core.settings import get_settings
from tests.integrations.conftest import acme, integration_env  # noqa: F401  (fixtures)
from tests.support import Api, edge, graph, node, steps_by_node


def _runs(api: Api, workflow_id: str) -> list[dict]:
    return api.get("/api/v1/runs", params={"workflow_id": workflow_id, "limit": 50}).json()


def _wait_for_runs(api: Api, workflow_id: str, count: int, timeout: float = 120) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = _runs(api, workflow_id)
        if len(runs) >= count and all(r["status"] in ("completed", "failed", "cancelled") for r in runs):
            return runs
        time.sleep(0.5)
    raise AssertionError(f"expected {count} ended runs, got {_runs(api, workflow_id)}")


def test_a_test_run_writing_to_the_crm_does_not_fire_a_live_data_change_workflow(stack):
    api = Api(stack.api_url).signup()
    listener = api.post(
        "/api/v1/workflows",
        json={
            "name": "On new contact",
            "graph": graph(
                [
                    node("changed", "trigger.data_change", {"record_type": "contact", "event": "created"}),
                    node("log", "util.log", {"message": "new {{ trigger.record.email }}"}),
                ],
                [edge("changed", "log")],
            ),
        },
    ).json()
    assert api.post(f"/api/v1/workflows/{listener['id']}/publish").status_code == 200

    test_address = f"test-{uuid.uuid4().hex[:8]}@example.com"
    writer = api.post(
        "/api/v1/workflows",
        json={
            "name": "Writes a contact",
            "graph": graph(
                [
                    node("start", "trigger.manual"),
                    node("create", "crm.create_contact", {"email": test_address, "first_name": "Test"}),
                ],
                [edge("start", "create")],
            ),
        },
    ).json()
    accepted = api.post(f"/api/v1/workflows/{writer['id']}/runs", json={"mode": "test", "input": {}})
    assert accepted.status_code == 202, accepted.text
    run = api.wait_for_run(accepted.json()["run_id"])
    assert run["status"] == "completed", run
    assert steps_by_node(run)["create"]["output"]["contact"]["email"] == test_address

    (written,) = api.get("/api/v1/crm/contacts", params={"email": test_address}).json()
    assert written["test_data"] is True  # shown, with its flag
    assert api.get("/api/v1/crm/contacts", params={"email": test_address, "test_data": False}).json() == []

    live_address = f"live-{uuid.uuid4().hex[:8]}@example.com"  # the subscription works for a real change
    assert api.post("/api/v1/crm/contacts", json={"email": live_address}).status_code == 201
    (live_run,) = _wait_for_runs(api, listener["id"], 1)
    time.sleep(3)  # the dispatcher has read the whole outbox by now
    runs = _runs(api, listener["id"])
    assert [r["id"] for r in runs] == [live_run["id"]]
    detail = api.get(f"/api/v1/runs/{live_run['id']}").json()
    assert steps_by_node(detail)["log"]["output"]["message"] == f"new {live_address}"


@pytest.fixture
def shop_database(acme, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("FLOWYARD_INTEGRATIONS__SQL_ALLOW_SQLITE", "true")
    get_settings.cache_clear()
    return acme.connection(SqlConnection, "Shop", secrets={"url": f"sqlite:///{tmp_path / 'shop.db'}"})


async def test_sql_in_a_test_run_is_rolled_back(acme, shop_database):  # noqa: F811
    async def sql(query: str, mode: str, **parameters):
        return await run_action(
            QUERY, acme.ctx(mode=mode), shop_database.connection_id, QueryInput(query=query, parameters=parameters)
        )

    await sql("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT)", "live")
    await sql("INSERT INTO customers (email) VALUES (:email)", "live", email="kept@example.com")

    inserted = await sql("INSERT INTO customers (email) VALUES (:email)", "test", email="test@example.com")
    assert inserted["row_count"] == 1 and inserted["rolled_back"] is True
    seen = await sql("SELECT email FROM customers ORDER BY id", "test")  # a test run reads what is there
    assert [r["email"] for r in seen["rows"]] == ["kept@example.com"]
    await sql("DELETE FROM customers", "test")
    await sql("DROP TABLE customers", "test")

    after = await sql("SELECT email FROM customers ORDER BY id", "live")
    assert [r["email"] for r in after["rows"]] == ["kept@example.com"] and after["rolled_back"] is False
