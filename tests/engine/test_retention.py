"""Retention: a workspace's policy through `PATCH /api/v1/tenant`, and the purge that applies it to the platform
database (SQLite and PostgreSQL): old runs deleted, old payloads cleared with the run kept, delivered outbox
snapshots and old notifications deleted, in bounded batches, each workspace by its own policy.

The purge with Prefect (a run's flow run deleted) and the hourly deployment are in
tests/engine/test_retention_stack.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.settings import RetentionSettings
from engine.retention import purge_platform_database
from store import Execution, ExecutionStatus, Notification, Outbox, StepResult, Tenant, Workflow, utcnow
from store.db import get_session_factory
from tests.conftest import InProcessApi
from tests.platform_rows import add_workflow


@pytest.fixture
def db(platform_db_url: str) -> Iterator[Session]:
    """For writing rows and reading them back; every use ends its transaction (SQLite: the API waits for it)."""
    with get_session_factory(platform_db_url)() as session:
        yield session


def tenant_id(api: InProcessApi) -> str:
    return api.signup_body["tenant"]["id"]


def set_retention(api: InProcessApi, **days: int | None) -> dict:
    response = api.request("PATCH", "/api/v1/tenant", json={"retention": days})
    assert response.status_code == 200, response.text
    return response.json()["retention"]


def workflow_of(db: Session, api: InProcessApi) -> Workflow:
    workflow = add_workflow(db, db.get_one(Tenant, tenant_id(api)))
    db.commit()
    return workflow


def add_ended_run(db: Session, workflow: Workflow, *, days_ago: float, email: str = "ada@example.com") -> str:
    """A completed run that ended `days_ago` days ago, with its input and one step's input and output."""
    ended = utcnow() - timedelta(days=days_ago)
    execution = Execution(
        tenant_id=workflow.tenant_id,
        workflow_id=workflow.id,
        version=1,
        mode="live",
        deployment_id=workflow.deployment_id,
        status=ExecutionStatus.COMPLETED,
        input={"email": email},
        created_at=ended - timedelta(minutes=1),
        started_at=ended - timedelta(minutes=1),
        ended_at=ended,
    )
    db.add(execution)
    db.flush()
    db.add(
        StepResult(
            tenant_id=workflow.tenant_id,
            execution_id=execution.id,
            node_id="say",
            status="completed",
            input={"message": f"hi {email}"},
            output={"logged": f"hi {email}"},
            started_at=ended,
            ended_at=ended,
        )
    )
    db.commit()
    return execution.id


def purge(platform_db_url: str, batch_size: int = 500):
    return purge_platform_database(platform_db_url, RetentionSettings(batch_size=batch_size))


# --- the policy through the API ----------------------------------------------------------------


def test_a_workspace_starts_with_the_platform_defaults_and_sets_its_own(tenant):
    defaults = RetentionSettings()
    shown = tenant.get("/api/v1/tenant").json()["retention"]
    assert (shown["run_history_days"], shown["step_payload_days"], shown["log_days"]) == (
        defaults.run_history_days,
        defaults.step_payload_days,
        defaults.log_days,
    )
    assert shown["defaults"]["run_history_days"] == defaults.run_history_days

    set_retention(tenant, run_history_days=400, step_payload_days=7)
    shown = tenant.get("/api/v1/tenant").json()["retention"]
    assert (shown["run_history_days"], shown["step_payload_days"], shown["log_days"]) == (400, 7, defaults.log_days)

    back = set_retention(tenant, run_history_days=None)  # null: the default again; step payloads untouched
    assert (back["run_history_days"], back["step_payload_days"]) == (defaults.run_history_days, 7)


@pytest.mark.parametrize(
    ("retention", "path"),
    [
        ({"log_days": 0}, "retention.log_days"),
        ({"run_history_days": 100_000}, "retention.run_history_days"),
        ({"run_history_days": 10, "step_payload_days": 20}, "retention.step_payload_days"),
        ({"log_days": "a month"}, "retention.log_days"),
        ({"forever": True}, "retention.forever"),
    ],
)
def test_an_invalid_policy_is_refused_naming_the_field(tenant, retention, path):
    before = tenant.get("/api/v1/tenant").json()["retention"]
    response = tenant.request("PATCH", "/api/v1/tenant", json={"retention": retention})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    errors = response.json()["errors"]
    assert [error["path"] for error in errors] == [path]
    assert errors[0]["hint"]
    assert tenant.get("/api/v1/tenant").json()["retention"] == before


def test_a_viewer_key_cannot_change_the_policy(tenant):
    created = tenant.post("/api/v1/api-keys", json={"name": "dashboard", "role": "viewer"})
    assert created.status_code == 201, created.text
    viewer = InProcessApi(tenant.http, created.json()["key"])
    response = viewer.request("PATCH", "/api/v1/tenant", json={"retention": {"run_history_days": 1}})
    assert response.status_code == 403
    assert "manage_settings" in response.json()["detail"]
    assert tenant.get("/api/v1/tenant").json()["retention"]["run_history_days"] != 1


# --- the purge in the platform database ---------------------------------------------------------


def test_runs_older_than_the_run_history_are_deleted_and_newer_ones_kept(tenant, db, platform_db_url):
    set_retention(tenant, run_history_days=30, step_payload_days=30)
    workflow = workflow_of(db, tenant)
    old, recent = add_ended_run(db, workflow, days_ago=31), add_ended_run(db, workflow, days_ago=29)

    purge(platform_db_url)

    assert tenant.get(f"/api/v1/runs/{old}").status_code == 404
    kept = tenant.get(f"/api/v1/runs/{recent}")
    assert kept.status_code == 200
    assert kept.json()["steps"][0]["output"] == {"logged": "hi ada@example.com"}
    listed = {run["id"] for run in tenant.get(f"/api/v1/runs?workflow_id={workflow.id}").json()}
    assert listed == {recent}
    assert db.scalar(select(StepResult.id).where(StepResult.execution_id == old)) is None  # gone with its run
    db.rollback()


def test_old_payloads_are_cleared_and_the_run_is_kept(tenant, db, platform_db_url):
    set_retention(tenant, run_history_days=365, step_payload_days=7)
    workflow = workflow_of(db, tenant)
    old, recent = add_ended_run(db, workflow, days_ago=8), add_ended_run(db, workflow, days_ago=6)

    purge(platform_db_url)

    run = tenant.get(f"/api/v1/runs/{old}").json()
    assert run["status"] == "completed"
    assert [(step["node_id"], step["status"], step["input"], step["output"]) for step in run["steps"]] == [
        ("say", "completed", None, None)
    ]
    db.expire_all()  # the session keeps what it wrote (expire_on_commit=False)
    assert db.get_one(Execution, old).input == {}
    assert db.get_one(Execution, recent).input == {"email": "ada@example.com"}
    db.rollback()
    assert tenant.get(f"/api/v1/runs/{recent}").json()["steps"][0]["input"] == {"message": "hi ada@example.com"}


def test_delivered_snapshots_and_old_notifications_are_deleted(tenant, db, platform_db_url):
    set_retention(tenant, run_history_days=20, step_payload_days=7)
    owner, now = tenant_id(tenant), utcnow()

    def snapshot(days_ago: int, delivered: bool) -> str:
        row = Outbox(
            tenant_id=owner,
            topic="crm.contact.updated",
            record_type="contact",
            record_id=str(uuid.uuid4()),
            before={"email": "ada@example.com"},
            after={"email": "ada@example.org"},
            created_at=now - timedelta(days=days_ago),
            dispatched_at=now - timedelta(days=days_ago) if delivered else None,
        )
        db.add(row)
        db.flush()
        return row.id

    def notification(days_ago: int) -> str:
        row = Notification(
            tenant_id=owner,
            kind="step_failed",
            title="A step failed",
            body="...",
            created_at=now - timedelta(days=days_ago),
        )
        db.add(row)
        db.flush()
        return row.id

    old_delivered, old_undelivered, new_delivered = snapshot(8, True), snapshot(8, False), snapshot(6, True)
    old_notice, new_notice = notification(21), notification(19)
    db.commit()

    purge(platform_db_url)

    outbox = set(db.scalars(select(Outbox.id).where(Outbox.tenant_id == owner)))
    assert outbox == {old_undelivered, new_delivered}  # an undelivered change still has to fire its triggers
    assert old_delivered not in outbox
    notifications = set(db.scalars(select(Notification.id).where(Notification.tenant_id == owner)))
    assert notifications == {new_notice}
    assert old_notice not in notifications


def test_each_workspace_keeps_its_runs_for_its_own_days(anonymous, db, platform_db_url):
    short, long = anonymous.signup(), anonymous.signup()
    set_retention(short, run_history_days=5, step_payload_days=5)
    set_retention(long, run_history_days=30, step_payload_days=30)
    short_run = add_ended_run(db, workflow_of(db, short), days_ago=10)
    long_run = add_ended_run(db, workflow_of(db, long), days_ago=10)

    purge(platform_db_url)

    assert short.get(f"/api/v1/runs/{short_run}").status_code == 404
    kept = long.get(f"/api/v1/runs/{long_run}")
    assert kept.status_code == 200
    assert kept.json()["steps"][0]["output"] == {"logged": "hi ada@example.com"}  # nor its payloads


def test_the_purge_works_in_bounded_batches_until_nothing_expired_is_left(tenant, db, platform_db_url):
    """With the platform's defaults (no policy of its own), 100-day-old runs are past the run history."""
    workflow = workflow_of(db, tenant)
    runs = [add_ended_run(db, workflow, days_ago=100) for _ in range(5)]

    report = purge(platform_db_url, batch_size=2)

    assert all(size <= 2 for sizes in report.batches.values() for size in sizes), report.batches
    assert len(report.batches["runs"]) >= 3 and sum(report.batches["runs"]) >= 5
    assert [tenant.get(f"/api/v1/runs/{run}").status_code for run in runs] == [404] * 5
