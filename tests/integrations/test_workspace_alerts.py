"""Alert rules on SQLite and PostgreSQL: `engine.watch` raises an alert once when a rule fires and resolves it
once when it clears; owners and admins get a notification each time and an email through the alert SendGrid
connection (the fake SendGrid). Read through the API: the alerts list, the rules, who may change them."""

from __future__ import annotations

import uuid
from datetime import timedelta

from engine.rollups import fold_ended_runs
from engine.watch import watch
from store import Execution, Tenant, Workflow, utcnow
from tests.conftest import InProcessApi
from tests.integrations.test_account_emails import _alert_connection, _owner_of
from tests.platform_api.test_auth import _problem
from tests.platform_rows import add_workflow


def _runs_ended_now(handle, workflow_id: str, statuses: list[str]) -> None:
    now = utcnow()
    with handle.sessions().begin() as db:
        for status in statuses:
            db.add(
                Execution(
                    tenant_id=handle.id,
                    workflow_id=workflow_id,
                    version=1,
                    mode="live",
                    status=status,
                    input={},
                    deployment_id=str(uuid.uuid4()),
                    started_at=now - timedelta(seconds=1),
                    ended_at=now,
                )  # fmt: skip
            )


def _look(handle, late=None) -> None:
    with handle.sessions()() as db:
        while fold_ended_runs(db, limit=5000) == 5000:
            pass
        watch(db, late=late if late is not None else [])


def _workflow(handle) -> str:
    with handle.sessions().begin() as db:
        return add_workflow(db, db.get_one(Tenant, handle.id)).id


def test_a_failure_rate_alert_is_raised_once_and_resolved_once(acme, anonymous, fake_services):
    email, owner = _owner_of(acme, anonymous)
    _alert_connection(acme, fake_services)
    workflow_id = _workflow(acme)
    _runs_ended_now(acme, workflow_id, ["failed"] * 4 + ["completed"] * 2)

    _look(acme)
    _look(acme)  # still failing: no second alert, no second message
    (alert,) = owner.get("/api/v1/alerts").json()
    assert alert["rule"] == "failure_rate" and alert["status"] == "open" and alert["workflow_id"] == workflow_id
    assert alert["value"]["percent"] == 66.7 and "4 of 6 runs failed" in alert["detail"]
    (mail,) = fake_services.sendgrid.delivered_to(email)
    assert "is failing" in str(mail)

    _runs_ended_now(acme, workflow_id, ["completed"] * 20)  # 4 of 26: 15%, under the 20% limit
    _look(acme)
    (alert,) = owner.get("/api/v1/alerts").json()
    assert alert["status"] == "resolved" and alert["resolved_at"]
    assert owner.get("/api/v1/alerts", params={"status": "open"}).json() == []
    kinds = [n["kind"] for n in owner.get("/api/v1/notifications").json()]
    assert kinds.count("alert_raised") == 1 and kinds.count("alert_resolved") == 1
    assert len(fake_services.sendgrid.delivered_to(email)) == 2
    assert "Resolved" in str(fake_services.sendgrid.delivered_to(email)[-1])


def test_queue_age_and_missed_schedules_alert_and_clear(acme, anonymous):
    _, owner = _owner_of(acme, anonymous)
    workflow_id = _workflow(acme)
    with acme.sessions().begin() as db:
        queued = Execution(
            tenant_id=acme.id, workflow_id=workflow_id, version=1, mode="live", status="queued", input={},
            deployment_id=str(uuid.uuid4()), created_at=utcnow() - timedelta(minutes=25),
        )  # fmt: skip
        db.add(queued)
        deployment_id = db.get_one(Workflow, workflow_id).deployment_id
    _look(acme, late=[(deployment_id, utcnow() - timedelta(minutes=3))])
    rules = {alert["rule"]: alert for alert in owner.get("/api/v1/alerts", params={"status": "open"}).json()}
    assert set(rules) == {"queue_age", "missed_schedule"}
    assert rules["queue_age"]["value"]["minutes"] >= 25 and rules["missed_schedule"]["workflow_id"] == workflow_id

    with acme.sessions().begin() as db:
        db.get_one(Execution, queued.id).status = "cancelled"
    _look(acme, late=[])
    assert owner.get("/api/v1/alerts", params={"status": "open"}).json() == []


def test_rules_default_on_and_only_admins_change_them(acme, anonymous):
    _, owner = _owner_of(acme, anonymous)
    rules = owner.get("/api/v1/alerts/rules").json()
    assert all(rule["enabled"] for rule in rules.values()) and rules["failure_rate"]["percent"] == 20

    bad = owner.put("/api/v1/alerts/rules", json={**rules, "failure_rate": {"percent": 150}})
    assert bad.status_code == 422 and "failure_rate" in bad.text
    off = {**rules, "failure_rate": {**rules["failure_rate"], "enabled": False}}
    assert owner.put("/api/v1/alerts/rules", json=off).status_code == 200
    workflow_id = _workflow(acme)
    _runs_ended_now(acme, workflow_id, ["failed"] * 10)
    _look(acme)
    assert owner.get("/api/v1/alerts").json() == []  # the rule is off

    viewer_key = owner.post("/api/v1/api-keys", json={"name": "v", "role": "viewer"}).json()["key"]
    viewer = InProcessApi(owner.http, viewer_key)
    assert viewer.get("/api/v1/alerts").status_code == 200
    _problem(viewer.put("/api/v1/alerts/rules", json=rules), 403, "forbidden")
