"""The runs list for real use, on SQLite and PostgreSQL: 1,000 runs written straight into the database,
narrowed by status (several; `pending` is queued or batched), workflow, version, mode, trigger kind and
time ranges, and walked page by page with the X-Next-Cursor header: every matching run once, newest first."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from store import Execution, ExecutionStatus, Tenant
from store.db import get_session_factory
from tests.conftest import InProcessApi
from tests.platform_api.test_auth import _problem
from tests.platform_rows import add_workflow

START = datetime(2026, 11, 1, tzinfo=UTC)
TRIGGERS = ("manual", "webhook", "schedule", "data_change", "event")
STATUSES = tuple(ExecutionStatus)
API_WORD = {ExecutionStatus.QUEUED: "pending", ExecutionStatus.BATCHED: "pending"}


@pytest.fixture
def thousand_runs(platform_db_url: str, tenant: InProcessApi) -> list[dict[str, Any]]:
    """1,000 runs of two workflows, a minute apart, with every status, mode, version and trigger kind."""
    with get_session_factory(platform_db_url).begin() as db:
        owner = db.get_one(Tenant, tenant.signup_body["tenant"]["id"])
        workflows = [add_workflow(db, owner, versions=2) for _ in range(2)]
        rows = []
        for i in range(1000):
            status = STATUSES[i % len(STATUSES)]
            created = START + timedelta(minutes=i)
            rows.append(
                {
                    "id": str(uuid.uuid4()),
                    "tenant_id": owner.id,
                    "workflow_id": workflows[i % 2].id,
                    "version": 1 + i % 3 // 2,
                    "mode": "test" if i % 4 == 0 else "live",
                    "deployment_id": workflows[i % 2].deployment_id,
                    "status": status,
                    "input": {},
                    "trigger": TRIGGERS[i % len(TRIGGERS)],
                    "created_at": created,
                    "updated_at": created,
                    "ended_at": created + timedelta(seconds=30)
                    if status in ("completed", "failed", "cancelled")
                    else None,
                }
            )
        db.execute(insert(Execution), rows)
    return rows


def _walk(api: InProcessApi, params: dict[str, Any], page: int = 37) -> list[str]:
    """Every run the filters match, page after page."""
    ids: list[str] = []
    cursor = None
    while True:
        response = api.get("/api/v1/runs", params={**params, "limit": page, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        ids += [run["id"] for run in response.json()]
        cursor = response.headers.get("x-next-cursor")
        if not cursor:
            return ids


def _newest_first(rows: list[dict[str, Any]]) -> list[str]:
    return [row["id"] for row in sorted(rows, key=lambda row: row["created_at"], reverse=True)]


def test_every_run_is_listed_once_newest_first_across_pages(tenant, thousand_runs):
    assert _walk(tenant, {}, page=200) == _newest_first(thousand_runs)


def test_filters_combine_and_pages_hold_exactly_the_matching_runs(tenant, thousand_runs):
    workflow_id = thousand_runs[1]["workflow_id"]
    params = {
        "status": ["failed", "pending"],
        "workflow_id": workflow_id,
        "mode": "live",
        "trigger": "webhook",
        "created_after": (START + timedelta(minutes=100)).isoformat(),
        "created_before": (START + timedelta(minutes=900)).isoformat(),
    }
    expected = [
        row
        for row in thousand_runs
        if API_WORD.get(row["status"], row["status"]) in ("failed", "pending")
        and row["workflow_id"] == workflow_id
        and row["mode"] == "live"
        and row["trigger"] == "webhook"
        and START + timedelta(minutes=100) <= row["created_at"] < START + timedelta(minutes=900)
    ]
    assert 10 < len(expected) < 100
    assert _walk(tenant, params, page=7) == _newest_first(expected)


def test_runs_are_found_by_version_and_by_when_they_ended(tenant, thousand_runs):
    ended_after, ended_before = START + timedelta(hours=2), START + timedelta(hours=5)
    expected = [
        row
        for row in thousand_runs
        if row["version"] == 2 and row["ended_at"] and ended_after <= row["ended_at"] < ended_before
    ]
    params = {"version": 2, "ended_after": ended_after.isoformat(), "ended_before": ended_before.isoformat()}
    assert expected and _walk(tenant, params) == _newest_first(expected)


def test_bad_filters_are_named(tenant, thousand_runs):
    naive = tenant.get("/api/v1/runs", params={"created_after": "2026-11-01T10:00:00"})
    assert naive.status_code == 422 and "created_after" in naive.text
    unknown = tenant.get("/api/v1/runs", params={"status": "exploded"})
    assert unknown.status_code == 422 and "status" in unknown.text
    _problem(tenant.get("/api/v1/runs", params={"cursor": "not-a-cursor"}), 422, "invalid-cursor")


def test_another_workspace_sees_none_of_these_runs(anonymous, thousand_runs):
    stranger = anonymous.signup()
    assert stranger.get("/api/v1/runs", params={"workflow_id": thousand_runs[0]["workflow_id"]}).json() == []
    assert _walk(stranger, {"status": ["failed", "completed"]}) == []


def test_counts_per_status_follow_every_filter_but_status(tenant, thousand_runs):
    workflow_id = thousand_runs[0]["workflow_id"]
    counts = tenant.get("/api/v1/runs/counts", params={"workflow_id": workflow_id, "status": "failed"})
    assert counts.status_code == 200, counts.text
    mine = [row for row in thousand_runs if row["workflow_id"] == workflow_id]
    expected = {
        word: 0 for word in ("pending", "running", "waiting", "needs_attention", "completed", "failed", "cancelled")
    }
    for row in mine:
        expected[API_WORD.get(row["status"], row["status"])] += 1
    assert counts.json() == expected and sum(expected.values()) == 500
