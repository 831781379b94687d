"""The audit trail through the public API, on SQLite and PostgreSQL: acts leave rows naming who, what, which
target and from where; the log filters and pages; the hash chain verifies, and names the first row altered or
following a removed one; the API's database role cannot change or delete rows; only admins read it, and only
their own workspace's rows. On `flowyard up`: connections, publishing, runs, approvals and a run's use of a
connection's secrets (once per run and connection)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import ProgrammingError

from store import AuditEvent, record_event
from store.db import get_session_factory, scope_to_tenant
from tests.conftest import InProcessApi
from tests.platform_api.test_auth import _problem
from tests.support import Api, edge, graph, node, steps_by_node


def _with_role(tenant, role: str) -> tuple[InProcessApi, str]:
    created = tenant.post("/api/v1/api-keys", json={"name": role, "role": role})
    assert created.status_code == 201, created.text
    return InProcessApi(tenant.http, created.json()["key"]), created.json()["id"]


def _events(api, **params: Any) -> list[dict[str, Any]]:
    """Every page of the audit log, newest first."""
    events, cursor = [], None
    while True:
        page = api.get("/api/v1/audit", params={**params, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        events += page.json()
        cursor = page.headers.get("X-Next-Cursor")
        if not cursor:
            return events


def _workflow(api, name: str, minimal_graph: dict) -> str:
    created = api.post("/api/v1/workflows", json={"name": name, "graph": minimal_graph})
    assert created.status_code == 201, created.text
    return created.json()["id"]


def _tenant_id(api) -> str:
    return api.signup_body["tenant"]["id"]


def _verify(api) -> dict[str, Any]:
    verified = api.get("/api/v1/audit/verify")
    assert verified.status_code == 200, verified.text
    return verified.json()


def test_acts_leave_rows_with_actor_action_target_and_address(tenant, minimal_graph):
    workflow_id = _workflow(tenant, "Welcome", minimal_graph)
    renamed = tenant.put(f"/api/v1/workflows/{workflow_id}", json={"name": "Welcome v2", "graph": minimal_graph})
    assert renamed.status_code == 200, renamed.text
    assert tenant.request("PATCH", "/api/v1/tenant", json={"time_zone": "Europe/Berlin"}).status_code == 200
    editor, key_id = _with_role(tenant, "editor")
    by_key = _workflow(editor, "Digest", minimal_graph)

    acts = [e for e in _events(tenant) if e["action"].startswith(("workflow.", "settings."))]
    assert [(e["action"], e["target"]) for e in acts] == [
        ("workflow.created", f"workflow:{by_key}"),
        ("settings.changed", f"tenant:{_tenant_id(tenant)}"),
        ("workflow.updated", f"workflow:{workflow_id}"),
        ("workflow.created", f"workflow:{workflow_id}"),
    ]
    assert acts[0]["actor_api_key_id"] == key_id and acts[0]["actor_user_id"] is None
    user_id = tenant.signup_body["user"]["id"]
    assert all(e["actor_user_id"] == user_id and e["actor_api_key_id"] is None for e in acts[1:])
    assert {e["client_address"] for e in acts} == {"testclient"}  # the address the test client connects from
    assert acts[1]["detail"] == {"changed": {"time_zone": "Europe/Berlin"}}
    assert acts[2]["detail"] == {"version": 2, "changed": ["graph", "name"]}
    assert [e["seq"] for e in acts] == sorted((e["seq"] for e in acts), reverse=True)


def test_details_keep_no_email_addresses_or_secrets(tenant, minimal_graph):
    workflow_id = _workflow(tenant, "Offer for rosa@example.com", minimal_graph)
    (created,) = _events(tenant, target=f"workflow:{workflow_id}")
    assert "rosa@example.com" not in json.dumps(created)
    assert created["detail"] == {"name": "Offer for [redacted]"}

    with get_session_factory(tenant.http.app.state.settings.platform_database_url).begin() as db:
        record_event(
            db,
            tenant_id=_tenant_id(tenant),
            action="connection.updated",
            target="connection:x",
            detail={"password": "hunter2", "nested": {"api_key": "SG.abc"}, "token_id": "t1", "note": "fy_s_abc123"},
        )
        record_event(db, tenant_id=_tenant_id(tenant), action="privacy.erased", target="contact:rosa@example.com")
    (row,) = _events(tenant, target="connection:x")
    assert [e["target"] for e in _events(tenant, action="privacy.erased")] == ["contact:[redacted]"]
    assert row["detail"] == {
        "password": "[redacted]",
        "nested": {"api_key": "[redacted]"},
        "token_id": "t1",
        "note": "[redacted]",
    }


def test_the_log_filters_by_actor_action_target_and_time_and_pages(tenant, minimal_graph):
    ids = [_workflow(tenant, f"Flow {n}", minimal_graph) for n in range(5)]
    editor, key_id = _with_role(tenant, "editor")
    edited = editor.put(f"/api/v1/workflows/{ids[0]}", json={"graph": minimal_graph})
    assert edited.status_code == 200, edited.text

    created = _events(tenant, action="workflow.created", limit=2)
    assert [e["target"] for e in created] == [f"workflow:{i}" for i in reversed(ids)]
    first_page = tenant.get("/api/v1/audit", params={"action": "workflow.created", "limit": 2})
    assert len(first_page.json()) == 2 and first_page.headers["X-Next-Cursor"]

    assert [e["action"] for e in _events(tenant, action="workflow.*")] == ["workflow.updated"] + [
        "workflow.created"
    ] * 5
    assert [e["action"] for e in _events(tenant, actor=key_id)] == ["workflow.updated"]
    assert [e["action"] for e in _events(tenant, target=f"workflow:{ids[0]}")] == [
        "workflow.updated",
        "workflow.created",
    ]
    middle = created[2]["created_at"]  # the third of five, newest first
    assert {e["target"] for e in _events(tenant, action="workflow.created", **{"from": middle})} == {
        f"workflow:{i}" for i in ids[2:]
    }
    assert {e["target"] for e in _events(tenant, action="workflow.created", to=middle)} == {
        f"workflow:{i}" for i in ids[:2]
    }

    _problem(tenant.get("/api/v1/audit", params={"cursor": "not-a-cursor"}), 422, "/invalid-cursor")
    body = _problem(tenant.get("/api/v1/audit", params={"from": "yesterday"}), 422, "/validation-error")
    assert body["errors"][0]["path"] == "from"


def test_the_chain_verifies_and_then_names_the_first_row_altered_in_the_database(tenant, minimal_graph):
    for n in range(4):
        _workflow(tenant, f"Flow {n}", minimal_graph)
    rows = list(reversed(_events(tenant)))
    assert _verify(tenant) == {"ok": True, "checked": len(rows), "first_bad_id": None}

    altered = rows[1]
    with get_session_factory(tenant.http.app.state.settings.platform_database_url).begin() as db:  # platform role
        db.execute(update(AuditEvent).where(AuditEvent.id == altered["id"]).values(detail={"name": "Innocent"}))
    assert _verify(tenant) == {"ok": False, "checked": 1, "first_bad_id": altered["id"]}


def test_a_removed_row_breaks_the_chain_at_the_next_one(tenant, minimal_graph):
    for n in range(3):
        _workflow(tenant, f"Flow {n}", minimal_graph)
    rows = list(reversed(_events(tenant)))
    with get_session_factory(tenant.http.app.state.settings.platform_database_url).begin() as db:
        db.execute(delete(AuditEvent).where(AuditEvent.id == rows[1]["id"]))
    assert _verify(tenant) == {"ok": False, "checked": 1, "first_bad_id": rows[2]["id"]}


def test_no_route_changes_or_deletes_an_audit_row(tenant, minimal_graph):
    _workflow(tenant, "Flow", minimal_graph)
    (row,) = _events(tenant, action="workflow.created")
    for path in ("/api/v1/audit", f"/api/v1/audit/{row['id']}"):
        for method in ("PUT", "PATCH", "DELETE", "POST"):
            assert tenant.request(method, path, json={}).status_code in (404, 405)
    paths = tenant.http.app.openapi()["paths"]
    audit_methods = {method for path, item in paths.items() if path.startswith("/api/v1/audit") for method in item}
    assert audit_methods == {"get"}


def test_the_api_database_role_can_add_rows_but_not_change_or_delete_them(tenant, minimal_graph):
    url = tenant.http.app.state.settings.platform_database_url
    if not url.startswith("postgresql"):
        pytest.skip("database roles are PostgreSQL's")
    _workflow(tenant, "Flow", minimal_graph)
    with get_session_factory(url)() as db:
        scope_to_tenant(db, tenant_id=_tenant_id(tenant))  # as an authenticated request's session runs
        record_event(db, tenant_id=_tenant_id(tenant), action="settings.changed", target="tenant:x")
        db.commit()
        for statement in (update(AuditEvent).values(action="nothing.happened"), delete(AuditEvent)):
            with pytest.raises(ProgrammingError, match="permission denied"):
                db.execute(statement)
            db.rollback()
        with pytest.raises(ProgrammingError, match="permission denied"):
            db.execute(text("TRUNCATE audit_events"))
        db.rollback()
    assert _verify(tenant)["ok"] is True
    assert [e["target"] for e in _events(tenant, action="settings.changed")] == ["tenant:x"]


@pytest.mark.parametrize("role", ["viewer", "operator", "editor"])
def test_only_admins_and_owners_read_the_log(tenant, role):
    below, _ = _with_role(tenant, role)
    for path in ("/api/v1/audit", "/api/v1/audit/verify", "/api/v1/audit/export"):
        _problem(below.get(path), 403, "/forbidden")
    admin, _ = _with_role(tenant, "admin")
    assert [admin.get(path).status_code for path in ("/api/v1/audit", "/api/v1/audit/verify")] == [200, 200]


def test_another_workspace_never_sees_the_rows(tenant, anonymous, minimal_graph):
    workflow_id = _workflow(tenant, "Secret plans", minimal_graph)
    other = anonymous.signup()
    _workflow(other, "Their own", minimal_graph)
    seen = _events(other) + [json.loads(line) for line in other.get("/api/v1/audit/export").text.splitlines()]
    assert seen and all(e["target"] != f"workflow:{workflow_id}" for e in seen)
    assert _events(other, target=f"workflow:{workflow_id}") == []
    assert _verify(other) == {"ok": True, "checked": len(_events(other)), "first_bad_id": None}


def test_the_export_is_the_whole_chain_as_json_lines(tenant, minimal_graph):
    for n in range(3):
        _workflow(tenant, f"Flow {n}", minimal_graph)
    listed = list(reversed(_events(tenant)))
    exported = tenant.get("/api/v1/audit/export")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/jsonl")
    lines = [json.loads(line) for line in exported.text.splitlines()]
    assert lines[:-1] == listed  # oldest first, and exporting the log is an act of its own, the last row
    assert lines[-1]["action"] == "audit.exported"
    assert [line["prev_hash"] for line in lines[1:]] == [line["hash"] for line in lines[:-1]]


def test_acts_at_once_in_one_workspace_still_form_one_chain(tenant):
    sessions = get_session_factory(tenant.http.app.state.settings.platform_database_url)

    def act(worker: int) -> None:
        for n in range(10):
            with sessions.begin() as db:
                record_event(
                    db, tenant_id=_tenant_id(tenant), action="workflow.updated", target=f"workflow:{worker}-{n}"
                )

    threads = [threading.Thread(target=act, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    events = _events(tenant)
    assert len(_events(tenant, action="workflow.updated")) == 40
    assert sorted(e["seq"] for e in events) == list(range(1, len(events) + 1))
    assert _verify(tenant) == {"ok": True, "checked": len(events), "first_bad_id": None}


# --- on `flowyard up`: connections, publishing, runs, approvals and secrets used by runs ---------------------


def _mail(node_id: str, connection_id: str) -> dict[str, Any]:
    config = {"connection": connection_id, "to": "ada@example.com", "subject": node_id, "text": "Hello"}
    return node(node_id, "email.sendgrid", config)


def _approve_when_waiting(api: Api, run_id: str) -> None:
    for _ in range(400):
        answer = api.post(f"/api/v1/runs/{run_id}/approvals/ask", json={"decision": "approve"})
        if answer.status_code == 200:
            return
        assert answer.status_code == 404, answer.text  # the run has not reached the approval yet
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} never waited for its approval")


def test_connections_publishing_runs_approvals_and_secret_use_are_recorded(stack, fake_services):
    owner = Api(stack.api_url).signup()
    created = owner.post(
        "/api/v1/connections",
        json={
            "type": "sendgrid",
            "name": "Marketing",
            "config": {"from_email": "hello@alice-bakery.com"},
            "secrets": {"api_key": fake_services.sendgrid.add_key()},
        },
    )
    assert created.status_code == 201, created.text
    connection_id = created.json()["id"]
    path = f"/api/v1/connections/{connection_id}"
    assert owner.request("PATCH", path, json={"config": {"from_email": "news@alice-bakery.com"}}).status_code == 200
    assert owner.post(f"{path}/test").status_code == 200

    flow = graph(
        [
            node("start", "trigger.manual"),
            _mail("before", connection_id),
            node("ask", "logic.approval", {"message": "Send the second one?"}),
            _mail("after", connection_id),
        ],
        [edge("start", "before"), edge("before", "ask"), edge("ask", "after", "approved")],
    )
    workflow = owner.post("/api/v1/workflows", json={"name": "Two emails", "graph": flow})
    assert workflow.status_code == 201, workflow.text
    workflow_id = workflow.json()["id"]
    assert owner.post(f"/api/v1/workflows/{workflow_id}/publish").status_code == 200
    run_ids = [
        owner.post(f"/api/v1/workflows/{workflow_id}/runs", json={"input": {}}).json()["run_id"] for _ in range(2)
    ]
    for run_id in run_ids:
        _approve_when_waiting(owner, run_id)
    for run_id in run_ids:
        run = owner.wait_for_run(run_id)
        assert run["status"] == "completed", run
        assert set(steps_by_node(run)) == {"start", "before", "ask", "after"}
    spare = owner.post(
        "/api/v1/connections",
        json={
            "type": "sendgrid",
            "name": "Spare",
            "config": {"from_email": "spare@alice-bakery.com"},
            "secrets": {"api_key": fake_services.sendgrid.add_key()},
        },
    )
    assert spare.status_code == 201, spare.text
    assert owner.delete(f"/api/v1/connections/{spare.json()['id']}").status_code == 204

    x_app = fake_services.x.add_app()
    x = owner.post(
        "/api/v1/connections",
        json={
            "type": "x",
            "name": "Brand",
            "config": {"client_id": x_app.client_id},
            "secrets": {"client_secret": x_app.client_secret},
        },
    )
    assert x.status_code == 201, x.text
    start = owner.post(f"/api/v1/connections/{x.json()['id']}/oauth/start")
    assert start.status_code == 200, start.text
    consent = httpx.get(start.json()["authorize_url"] + f"&login_hint=brand_{uuid.uuid4().hex[:6]}")
    assert consent.status_code == 302
    assert "is connected" in httpx.get(consent.headers["location"], timeout=60).text  # back from the network

    events = list(reversed(_events(owner)))
    (connected,) = [
        e for e in events if e["target"] == f"connection:{x.json()['id']}" and e["action"] == "connection.updated"
    ]
    assert connected["detail"]["changed"] == ["oauth_account"] and connected["actor_user_id"] is None
    by_owner = [(e["action"], e["target"]) for e in events if e["actor_user_id"] == owner.signup_body["user"]["id"]]
    connection, flow_target = f"connection:{connection_id}", f"workflow:{workflow_id}"
    for act in [
        ("connection.created", connection),
        ("connection.updated", connection),
        ("connection.tested", connection),
        ("workflow.created", flow_target),
        ("workflow.published", flow_target),
        *(("run.started", f"run:{run_id}") for run_id in run_ids),
        ("connection.deleted", f"connection:{spare.json()['id']}"),
    ]:
        assert act in by_owner, act
    decided = [e for e in events if e["action"] == "approval.decided"]
    assert sorted(e["detail"]["run_id"] for e in decided) == sorted(run_ids)
    assert {e["client_address"] for e in events if e["actor_user_id"]} == {"127.0.0.1"}

    used = [e for e in events if e["action"] == "connection.secret_used"]  # two steps per run, one row per run
    assert sorted(e["detail"]["run_id"] for e in used) == sorted(run_ids)
    assert all(e["target"] == connection and e["actor_user_id"] is None for e in used)
    assert _verify(owner) == {"ok": True, "checked": len(events), "first_bad_id": None}
