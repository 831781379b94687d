"""The approvals inbox and the notification centre (issue 16 items 2 and 3), through the public API on SQLite and
PostgreSQL: pending approvals with their run's context, only those the caller may answer; notifications with links,
an unread count, marked read one by one or all at once; per-person email preferences that the alert emails follow.
Runs, approvals and notifications are written straight into the database (the in-process API has no engine)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from store import Approval, Notification, Workflow, emails_muted_by, utcnow
from tests.conftest import InProcessApi
from tests.platform_api.test_auth import _problem
from tests.platform_rows import RunRows
from tests.support import member

GRAPH = {
    "nodes": [
        {"id": "start", "type": "trigger.manual", "label": "New order", "config": {}, "position": {"x": 0, "y": 0}},
        {
            "id": "ask",
            "type": "logic.approval",
            "label": "Manager approves the discount",
            "config": {"message": "Give a discount?"},
            "position": {"x": 200, "y": 0},
        },
    ],
    "edges": [{"id": "e1", "source": "start", "target": "ask"}],
}


def _workflow(api: InProcessApi, platform_db_url: str, name: str = "Discounts") -> tuple[str, RunRows]:
    created = api.post("/api/v1/workflows", json={"name": f"{name} {uuid.uuid4().hex[:4]}", "graph": GRAPH})
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]
    rows = RunRows(platform_db_url, api.signup_body["tenant"]["id"])
    with rows.sessions.begin() as db:  # published enough for rows: the runs read version 1
        row = db.get_one(Workflow, workflow_id)
        row.published_version, row.deployment_id = 1, str(uuid.uuid4())
    return workflow_id, rows


def _waiting_run(rows: RunRows, workflow_id: str, approvers: list[str] | None = None, **input: Any) -> str:
    run_id = rows.run(workflow_id, status="waiting", input=input)
    with rows.sessions.begin() as db:
        db.add(
            Approval(
                tenant_id=rows.tenant_id,
                execution_id=run_id,
                node_id="ask",
                message=f"Give {input.get('customer', 'them')} a discount?",
                token_hash=uuid.uuid4().hex,
                approvers={"emails": approvers or []},
                expires_at=utcnow() + timedelta(days=1),
            )
        )
    return run_id


def test_the_inbox_lists_pending_approvals_with_their_context(tenant, platform_db_url):
    workflow_id, rows = _workflow(tenant, platform_db_url)
    run_id = _waiting_run(rows, workflow_id, customer="Ada", amount=120)

    listed = tenant.get("/api/v1/approvals", params={"status": "pending", "decidable": True})
    assert listed.status_code == 200, listed.text
    [item] = listed.json()
    assert item["run_id"] == run_id and item["node_id"] == "ask" and item["status"] == "pending"
    assert item["workflow_id"] == workflow_id and item["workflow_name"].startswith("Discounts")
    assert item["step_label"] == "Manager approves the discount"
    assert item["message"] == "Give Ada a discount?"
    assert item["run_input"] == {"customer": "Ada", "amount": 120}
    assert item["run_status"] == "waiting" and item["can_decide"] is True

    answered = tenant.post(f"/api/v1/runs/{run_id}/approvals/ask", json={"decision": "approve", "comment": "ok"})
    assert answered.status_code == 200, answered.text
    assert tenant.get("/api/v1/approvals", params={"status": "pending", "decidable": True}).json() == []
    [done] = tenant.get("/api/v1/approvals", params={"status": "approved"}).json()
    assert done["comment"] == "ok" and done["decided_by"] == tenant.signup_body["user"]["email"]


def test_a_viewer_sees_only_the_approvals_that_name_them(tenant, platform_db_url):
    viewer, other_viewer = member(tenant, "viewer"), member(tenant, "viewer")
    workflow_id, rows = _workflow(tenant, platform_db_url)
    theirs = _waiting_run(rows, workflow_id, approvers=[viewer.email], customer="Bo")
    _waiting_run(rows, workflow_id, customer="Cy")

    assert [a["run_id"] for a in viewer.get("/api/v1/approvals", params={"decidable": True}).json()] == [theirs]
    assert other_viewer.get("/api/v1/approvals", params={"decidable": True}).json() == []
    everything = other_viewer.get("/api/v1/approvals").json()  # the workspace's, to follow, not to answer
    assert len(everything) == 2 and not any(a["can_decide"] for a in everything)
    assert viewer.post(f"/api/v1/runs/{theirs}/approvals/ask", json={"decision": "reject"}).status_code == 200


def test_another_workspace_approvals_are_out_of_reach(anonymous, platform_db_url):
    alice, bob = anonymous.signup(), anonymous.signup()
    workflow_id, rows = _workflow(alice, platform_db_url)
    run_id = _waiting_run(rows, workflow_id)
    assert bob.get("/api/v1/approvals").json() == []
    _problem(bob.post(f"/api/v1/runs/{run_id}/approvals/ask", json={"decision": "approve"}), 404, "/not-found")


def test_a_bad_status_filter_is_a_problem_with_the_field(tenant):
    body = _problem(tenant.get("/api/v1/approvals", params={"status": "maybe"}), 422, "/validation-error")
    assert body["errors"][0]["path"] == "status" and body["hint"]


def _notify(rows: RunRows, user_id: str | None, kind: str, data: dict[str, Any]) -> str:
    with rows.sessions.begin() as db:
        note = Notification(tenant_id=rows.tenant_id, user_id=user_id, kind=kind, title=kind, body="b", data=data)
        db.add(note)
        db.flush()
        return note.id


def test_notifications_link_count_and_are_marked_read(tenant, platform_db_url):
    workflow_id, rows = _workflow(tenant, platform_db_url)
    me = tenant.signup_body["user"]["id"]
    failed = _notify(rows, me, "step_failed", {"execution_id": "run-1", "node_id": "ask", "error": {}})
    _notify(rows, me, "trigger_changed", {"workflow_id": workflow_id})
    _notify(rows, None, "template_updated", {"template_slug": "welcome-leads", "version": 2, "workflows": []})
    someone_else = member(tenant, "admin")
    _notify(rows, someone_else.get("/api/v1/me").json()["user"]["id"], "step_failed", {})  # not mine

    assert tenant.get("/api/v1/notifications/unread-count").json() == {"unread": 3}  # not the admin's
    by_kind = {n["kind"]: n for n in tenant.get("/api/v1/notifications").json()}
    assert by_kind["step_failed"]["run_id"] == "run-1"
    assert by_kind["trigger_changed"]["workflow_id"] == workflow_id
    assert by_kind["template_updated"]["template_slug"] == "welcome-leads"

    read = tenant.post(f"/api/v1/notifications/{failed}/read")
    assert read.status_code == 200 and read.json()["read_at"] and read.json()["run_id"] == "run-1"
    assert tenant.get("/api/v1/notifications/unread-count").json() == {"unread": 2}
    assert tenant.post("/api/v1/notifications/read").json() == {"marked": 2}
    assert tenant.get("/api/v1/notifications/unread-count").json() == {"unread": 0}
    assert tenant.get("/api/v1/notifications", params={"unread": True}).json() == []


def test_another_workspace_notifications_are_out_of_reach(anonymous, platform_db_url):
    alice, bob = anonymous.signup(), anonymous.signup()
    rows = RunRows(platform_db_url, alice.signup_body["tenant"]["id"])
    note = _notify(rows, alice.signup_body["user"]["id"], "step_failed", {"execution_id": "r"})
    _problem(bob.post(f"/api/v1/notifications/{note}/read"), 404, "/not-found")
    assert bob.post("/api/v1/notifications/read").json() == {"marked": 0}
    assert alice.get("/api/v1/notifications/unread-count").json() == {"unread": 1}


def test_email_preferences_are_each_person_s_and_the_alert_emails_follow_them(tenant, platform_db_url):
    admin = member(tenant, "admin")
    assert tenant.get("/api/v1/notifications/preferences").json() == {"email": {"step_failed": True, "alerts": True}}
    changed = tenant.put("/api/v1/notifications/preferences", json={"email": {"step_failed": False, "alerts": True}})
    assert changed.status_code == 200, changed.text
    assert changed.json() == {"email": {"step_failed": False, "alerts": True}}
    assert tenant.get("/api/v1/notifications/preferences").json()["email"]["step_failed"] is False
    assert admin.get("/api/v1/notifications/preferences").json()["email"]["step_failed"] is True  # theirs

    rows = RunRows(platform_db_url, tenant.signup_body["tenant"]["id"])
    with rows.sessions() as db:
        assert emails_muted_by(db, rows.tenant_id, "step_failed") == {tenant.signup_body["user"]["id"]}
        assert emails_muted_by(db, rows.tenant_id, "alerts") == set()


def test_bad_preferences_are_problems_with_the_field(tenant):
    body = _problem(
        tenant.put("/api/v1/notifications/preferences", json={"email": {"step_failed": "sometimes"}}),
        422,
        "/validation-error",
    )
    assert body["errors"][0]["path"] == "email.step_failed" and body["hint"]
    body = _problem(
        tenant.put("/api/v1/notifications/preferences", json={"email": {"sms": True}}), 422, "/validation-error"
    )
    assert body["errors"][0]["path"] == "email.sms"


def test_an_api_key_has_no_email_preferences(tenant):
    key = tenant.post("/api/v1/api-keys", json={"name": "script", "role": "admin"}).json()["key"]
    script = tenant.with_token(key)
    _problem(script.get("/api/v1/notifications/preferences"), 403, "/login-required")
