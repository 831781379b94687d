"""Planted data (issue 22, Done when): a signed webhook delivery carries unique markers (an email, a phone number,
free text) through a CRM write and an approval. Afterwards no marker is in clear in a dump of the platform
database, in Prefect's database or in any log file under FLOWYARD_HOME, on SQLite and on PostgreSQL, while the
owner still gets them from the API and finds the run by the email."""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from typing import Any

import httpx

from platform_api.triggers.signatures import sign
from tests.engine.support import platform_db_url
from tests.integration.test_prefect_copy import _files, _leaks, _markers, _prefect_rows, postgres_rows
from tests.support import Api, edge, graph, node, steps_by_node


def _platform_dump(stack) -> list[tuple[str, str]]:
    """Every row of every table of the platform database, as text (SQLite: its SQL dump)."""
    url = platform_db_url(stack)
    if url.startswith("sqlite"):
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db:
            return [("dump", line) for line in db.iterdump()]
    return postgres_rows(url.replace("postgresql+psycopg://", "postgresql://"))


def _planted_flow() -> dict[str, Any]:
    return graph(
        [
            node("hook", "trigger.webhook"),
            node(
                "contact",
                "crm.upsert_contact",
                {
                    "email": "{{ trigger.body.email }}",
                    "phone": "{{ trigger.body.phone }}",
                    "properties": {"note": "{{ trigger.body.note }}"},
                },
            ),
            node("ask", "logic.approval", {"message": "Call {{ trigger.body.email }} about {{ trigger.body.note }}?"}),
            node("done", "util.log", {"message": "Called {{ trigger.body.phone }}: {{ steps.ask.output.comment }}"}),
        ],
        [edge("hook", "contact"), edge("contact", "ask"), edge("ask", "done", "approved")],
    )


def _deliver(url: str, secret: str, payload: dict[str, str]) -> str:
    body, delivery_id = json.dumps(payload).encode(), f"delivery-{payload['note']}"  # kept as a keyed hash only
    headers = {"content-type": "application/json", "X-Delivery-Id": delivery_id}
    headers["X-Flowyard-Signature"] = sign(secret, body, delivery_id=delivery_id)
    accepted = httpx.post(url, content=body, headers=headers, timeout=30)
    assert accepted.status_code == 202, accepted.text
    return str(accepted.json()["run_id"])


def _approve_when_waiting(api: Api, run_id: str, comment: str) -> None:
    deadline = time.monotonic() + 120
    while api.get(f"/api/v1/runs/{run_id}").json()["status"] != "waiting":
        assert time.monotonic() < deadline, "the run never reached its approval"
        time.sleep(0.5)
    answer = api.post(f"/api/v1/runs/{run_id}/approvals/ask", json={"decision": "approve", "comment": comment})
    assert answer.status_code == 200, answer.text


def _found_by_email(api: Api, email: str) -> list[str]:
    deadline = time.monotonic() + 30  # the dispatcher indexes new runs every second
    while not (found := [run["id"] for run in api.get("/api/v1/runs", params={"search": email}).json()]):
        assert time.monotonic() < deadline, "the run was never found by its email"
        time.sleep(0.5)
    return found


def test_planted_markers_are_nowhere_in_clear(stack):
    marks = _markers()
    api = Api(stack.api_url).signup()
    workflow = api.post("/api/v1/workflows", json={"name": "Planted", "graph": _planted_flow()}).json()
    published = api.post(f"/api/v1/workflows/{workflow['id']}/publish")
    assert published.status_code == 200, published.text
    url = api.get(f"/api/v1/workflows/{workflow['id']}/webhook").json()["url"]

    run_id = _deliver(url, published.json()["webhook_secret"], marks)
    _approve_when_waiting(api, run_id, f"ok {marks['note']}")
    run = api.wait_for_run(run_id)

    assert run["status"] == "completed", run
    steps = steps_by_node(run)
    assert steps["hook"]["output"]["body"] == marks  # the owner reads everything back
    assert steps["done"]["output"]["message"] == f"Called {marks['phone']}: ok {marks['note']}"
    [contact] = api.get("/api/v1/crm/contacts", params={"email": marks["email"]}).json()
    assert (contact["phone"], contact["properties"]["note"]) == (marks["phone"], marks["note"])
    assert _found_by_email(api, marks["email"]) == [run_id]

    assert _leaks(_platform_dump(stack), marks) == []
    assert _leaks(_prefect_rows(stack), marks) == []
    assert _leaks(_files(stack.home, "*.log"), marks) == []
