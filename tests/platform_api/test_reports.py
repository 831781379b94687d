"""Reports through the API, on SQLite and PostgreSQL: runs written straight into the database, folded into
the hourly rollups once (`engine.rollups`), then read back per bucket, per step, per workflow and as CSV.
Only live runs count, each in the hour it ended; another workspace sees none of it."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime, timedelta

import pytest

from engine.rollups import fold_ended_runs
from store import Execution, StepResult, Tenant
from store.db import get_session_factory
from tests.conftest import InProcessApi
from tests.platform_api.test_auth import _problem
from tests.platform_rows import add_workflow
from tests.support import Api, edge, graph, node, publish_and_run

DAY = datetime(2026, 11, 2, tzinfo=UTC)
GRAPH = {
    "nodes": [
        {"id": "start", "type": "trigger.manual", "config": {}},
        {"id": "mail", "type": "email.sendgrid", "label": "Send welcome", "config": {}},
        {"id": "hook", "type": "http.request", "label": "Tell CRM", "config": {"method": "POST"}},
    ],
    "edges": [],
}


@pytest.fixture
def reported(platform_db_url: str, tenant: InProcessApi) -> dict:
    """Day 1, 09:00-10:00: 3 completed live runs (1 s, 2 s, 4 s) and 1 failed at `hook`; 11:00: 1 cancelled;
    also a test run, not counted. Folded twice: counted once."""
    sessions = get_session_factory(platform_db_url)
    with sessions.begin() as db:
        owner = db.get_one(Tenant, tenant.signup_body["tenant"]["id"])
        workflow = add_workflow(db, owner, graph=GRAPH)

        def run(status: str, started: datetime, seconds: float, steps: dict[str, str], mode: str = "live") -> None:
            ended = started + timedelta(seconds=seconds)
            execution = Execution(
                tenant_id=owner.id, workflow_id=workflow.id, version=1, mode=mode, status=status, input={},
                deployment_id=workflow.deployment_id, created_at=started, started_at=started, ended_at=ended,
            )  # fmt: skip
            db.add(execution)
            db.flush()
            for node_id, step_status in steps.items():
                db.add(
                    StepResult(
                        tenant_id=owner.id,
                        execution_id=execution.id,
                        node_id=node_id,
                        status=step_status,
                        attempts=1,
                        started_at=started,
                        ended_at=started + timedelta(seconds=seconds / 2),
                    )  # fmt: skip
                )

        ok = {"start": "completed", "mail": "completed", "hook": "completed"}
        nine = DAY + timedelta(hours=9)
        for offset, seconds in ((0, 1), (10, 2), (20, 4)):
            run("completed", nine + timedelta(minutes=offset), seconds, ok)
        run("failed", nine + timedelta(minutes=30), 1, {**ok, "hook": "failed"})
        run("cancelled", DAY + timedelta(hours=11), 1, {"start": "completed"})
        run("completed", nine, 1, ok, mode="test")
        workflow_id = workflow.id
    with sessions() as db:
        while fold_ended_runs(db, limit=5000) == 5000:  # other tests' runs too
            pass
        assert fold_ended_runs(db) == 0  # each run is counted once
    return {"workflow_id": workflow_id}


def _report(api: InProcessApi, path: str, **params) -> dict:
    response = api.get(path, params={"from": DAY.isoformat(), "to": (DAY + timedelta(days=1)).isoformat(), **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_workflows_report_counts_each_live_run_once_by_hour(tenant, reported):
    report = _report(tenant, f"/api/v1/reports/workflows/{reported['workflow_id']}", bucket="hour")
    totals = report["totals"]
    assert (totals["runs"], totals["completed"], totals["failed"], totals["cancelled"]) == (5, 3, 1, 1)
    assert totals["success_rate"] == 0.6
    assert 900 <= totals["p50_ms"] <= 1100 and 3600 <= totals["p95_ms"] <= 4400  # within a bucket's 12%
    assert len(report["series"]) == 24
    busy = {point["start"][11:16]: point["runs"] for point in report["series"] if point["runs"]}
    assert busy == {"09:00": 4, "11:00": 1}
    steps = {step["node_id"]: step for step in report["steps"]}
    assert report["steps"][0]["node_id"] == "hook" and steps["hook"]["failures"] == 1
    assert steps["hook"]["label"] == "Tell CRM" and steps["mail"]["runs"] == 4
    assert report["outcomes"] == {"emails_sent": 4, "sms_sent": 0, "posts": 0, "crm_writes": 0, "http_calls": 3}


def test_the_workspace_report_lists_workflows_and_day_buckets(tenant, reported):
    report = _report(tenant, "/api/v1/reports/tenant")
    assert [point["runs"] for point in report["series"]] == [5]
    (workflow,) = report["workflows"]
    assert workflow["workflow_id"] == reported["workflow_id"] and workflow["runs"] == 5 and workflow["failed"] == 1
    assert report["steps"] == []


def test_the_series_downloads_as_csv(tenant, reported):
    response = tenant.get(
        f"/api/v1/reports/workflows/{reported['workflow_id']}",
        params={"from": DAY.isoformat(), "to": (DAY + timedelta(days=2)).isoformat(), "format": "csv"},
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(row["runs"], row["failed"], row["success_rate"]) for row in rows] == [("5", "1", "0.6"), ("0", "0", "")]


def test_bad_ranges_are_named_and_others_see_nothing(tenant, anonymous, reported):
    backwards = tenant.get("/api/v1/reports/tenant", params={"from": DAY.isoformat(), "to": DAY.isoformat()})
    assert _problem(backwards, 422, "invalid-report-range")["errors"][0]["path"] == "from"
    too_many = tenant.get("/api/v1/reports/tenant", params={"from": DAY.isoformat(), "bucket": "hour"})
    _problem(too_many, 422, "invalid-report-range")
    stranger = anonymous.signup()
    assert stranger.get(f"/api/v1/reports/workflows/{reported['workflow_id']}").status_code == 404
    assert _report(stranger, "/api/v1/reports/tenant")["totals"]["runs"] == 0


def test_repeated_failures_are_grouped_in_the_workflows_health(platform_db_url, tenant):
    with get_session_factory(platform_db_url).begin() as db:
        owner = db.get_one(Tenant, tenant.signup_body["tenant"]["id"])
        workflow = add_workflow(db, owner, graph=GRAPH)
        unauthorised = {"node_id": "mail", "kind": "auth", "message": "SendGrid rejected the API key (401)",
                        "hint": "Reconnect", "docs_url": "/help/errors#auth", "details": {"status_code": 401}}  # fmt: skip
        down = {"node_id": "hook", "kind": "upstream_down", "message": "503", "details": {"status_code": 503}}
        for minute, error in ((12, unauthorised), (20, unauthorised), (31, unauthorised), (40, down)):
            ended = DAY + timedelta(hours=9, minutes=minute)
            db.add(
                Execution(
                    tenant_id=owner.id,
                    workflow_id=workflow.id,
                    version=1,
                    mode="live",
                    status="failed",
                    input={},
                    deployment_id="d",
                    error=error,
                    created_at=ended,
                    started_at=ended,
                    ended_at=ended,
                )  # fmt: skip
            )
        workflow_id = workflow.id
    groups = _report(tenant, f"/api/v1/reports/workflows/{workflow_id}/failures")
    assert [g["summary"] for g in groups] == [
        "3 runs failed at 'Send welcome' with 401 since 09:12",
        "1 run failed at 'Tell CRM' with 503 since 09:40",
    ]
    assert groups[0]["kind"] == "auth" and groups[0]["docs_url"] == "/help/errors#auth" and groups[0]["hint"]


def test_the_dispatcher_folds_ended_runs_into_the_reports_and_indexes_them(stack, target_server):
    """End to end on `flowyard up`: live runs end, and within seconds the report counts them and their calls,
    and each is found by the email in its input."""
    api = Api(stack.api_url).signup()
    flow = graph(
        [node("start", "trigger.manual"), node("call", "http.request", {"url": f"{target_server.url}/ok"})],
        [edge("start", "call")],
    )
    runs = publish_and_run(api, "Reported", flow, [{"email": f"c{n}@example.com"} for n in range(3)])
    assert [run["status"] for run in runs] == ["completed"] * 3
    workflow_id = api.get(f"/api/v1/runs/{runs[0]['id']}").json()["workflow_id"]
    deadline = time.monotonic() + 30
    while (report := api.get(f"/api/v1/reports/workflows/{workflow_id}").json())["totals"]["runs"] < 3:
        assert time.monotonic() < deadline, report
        time.sleep(0.5)
    assert report["totals"]["completed"] == 3 and report["outcomes"]["http_calls"] == 3
    assert {step["node_id"]: step["runs"] for step in report["steps"]} == {"start": 3, "call": 3}
    found = api.get("/api/v1/runs", params={"search": "C1@example.com"}).json()
    assert [run["id"] for run in found] == [runs[1]["id"]]
