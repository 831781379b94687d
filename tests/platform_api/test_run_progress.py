"""An active run's progress through the API, on SQLite and PostgreSQL: its current step and an ETA learned
from its version's completed runs (a wait left out); a pending run's place in the queue and what holds it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from store import Execution, StepResult, Tenant, utcnow
from store.db import get_session_factory
from tests.conftest import InProcessApi
from tests.platform_rows import add_workflow

GRAPH = {
    "nodes": [
        {"id": "start", "type": "trigger.manual", "config": {}},
        {"id": "call", "type": "http.request", "config": {"url": "https://example.com"}},
        {"id": "pause", "type": "logic.delay", "config": {"mode": "duration", "seconds": 600}},
        {"id": "say", "type": "util.log", "config": {"message": "hi"}},
    ],
    "edges": [],
}


@pytest.fixture
def write(platform_db_url: str, tenant: InProcessApi):
    sessions = get_session_factory(platform_db_url)
    tenant_id = tenant.signup_body["tenant"]["id"]

    class Rows:
        def workflow(self, **options) -> str:
            with sessions.begin() as db:
                return add_workflow(db, db.get_one(Tenant, tenant_id), graph=GRAPH, **options).id

        def run(self, workflow_id: str, status: str, created: datetime, steps: dict[str, tuple] | None = None) -> str:
            """`steps`: node id -> (status, started, seconds taken or None while running)."""
            with sessions.begin() as db:
                execution = Execution(
                    tenant_id=tenant_id, workflow_id=workflow_id, version=1, mode="live", status=status, input={},
                    deployment_id="d", created_at=created, started_at=created if status != "queued" else None,
                )  # fmt: skip
                db.add(execution)
                db.flush()
                for node_id, (step_status, started, seconds) in (steps or {}).items():
                    ended = started + timedelta(seconds=seconds) if seconds is not None else None
                    db.add(
                        StepResult(
                            tenant_id=tenant_id,
                            execution_id=execution.id,
                            node_id=node_id,
                            status=step_status,
                            attempts=1,
                            started_at=started,
                            ended_at=ended,
                        )  # fmt: skip
                    )
                return execution.id

    return Rows()


def test_a_running_run_shows_its_step_and_an_eta_from_its_versions_history(tenant, write):
    workflow_id = write.workflow()
    past = utcnow() - timedelta(hours=2)
    for n, call_seconds in enumerate((2, 2, 3, 2)):
        begun = past + timedelta(minutes=n)
        steps = {"start": ("completed", begun, 0), "call": ("completed", begun, call_seconds)}
        steps |= {"pause": ("completed", begun, 600), "say": ("completed", begun, 1)}  # the wait is not work
        write.run(workflow_id, "completed", begun, steps)
    now = utcnow()
    run_id = write.run(
        workflow_id,
        "running",
        now,
        {"start": ("completed", now, 0), "call": ("running", now - timedelta(seconds=1), None)},
    )

    run = tenant.get(f"/api/v1/runs/{run_id}").json()
    progress = run["progress"]
    assert progress["current_steps"] == ["call"] and progress["eta"]["based_on_runs"] == 4
    left = (datetime.fromisoformat(progress["eta"]["p50"]) - now).total_seconds()
    assert 1.5 < left < 5  # about 1 s more of `call`, then 1 s of `say`; the 600 s pause is a wait, not work
    assert progress["eta"]["p90"] >= progress["eta"]["p50"]


def test_a_run_without_history_has_no_eta_and_an_ended_one_no_progress(tenant, write):
    workflow_id = write.workflow()
    now = utcnow()
    running = write.run(workflow_id, "running", now, {"call": ("running", now, None)})
    assert tenant.get(f"/api/v1/runs/{running}").json()["progress"] == {
        "current_steps": ["call"], "eta": None, "waiting_until": None, "queue": None,
    }  # fmt: skip
    ended = write.run(workflow_id, "completed", now)
    assert tenant.get(f"/api/v1/runs/{ended}").json()["progress"] is None


def test_a_pending_run_shows_its_place_and_what_holds_it(tenant, write):
    workflow_id = write.workflow(conflict_policy="queue")
    now = utcnow()
    write.run(workflow_id, "running", now - timedelta(minutes=5))
    first = write.run(workflow_id, "queued", now - timedelta(minutes=2))
    second = write.run(workflow_id, "queued", now - timedelta(minutes=1))
    queue = tenant.get(f"/api/v1/runs/{second}").json()["progress"]["queue"]
    assert queue["position"] == 2 and queue["held_by"] == "conflict_policy" and "1 at a time" in queue["detail"]
    assert tenant.get(f"/api/v1/runs/{first}").json()["progress"]["queue"]["position"] == 1
