"""Reports at scale (issue 15): 1,000,000 live executions (two step rows each) ended over 30 days, across
20 workspaces, folded into the hourly rollups; then report latency through the platform API (in-process,
real PostgreSQL). Target: p95 < 100 ms.

    python -m bench.reports [--executions 1000000] [--requests 200]

The counterpart is the same report computed by scanning the runs (one aggregate query over `executions`
with percentile_cont), which is what the rollups replace: there is no raw-Prefect counterpart, as Prefect
has no reports. PostgreSQL is the server at FLOWYARD_BENCH_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/postgres); a throwaway database is created and dropped."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from bench.catalog_search import drop_postgres, pct, postgres_url

TENANTS = 20
WORKFLOWS_PER_TENANT = 5
DAYS = 30
GRAPH = {
    "nodes": [
        {"id": "start", "type": "trigger.manual", "config": {}},
        {"id": "mail", "type": "email.sendgrid", "label": "Send", "config": {}},
    ],
    "edges": [],
}
GENERATE = """
INSERT INTO executions (id, tenant_id, workflow_id, version, mode, deployment_id, status, input, trigger,
                        created_at, started_at, ended_at, rolled_up)
SELECT gen_random_uuid()::text, w.tenant_id, w.id, 1, 'live', w.deployment_id,
       CASE WHEN n % 10 = 0 THEN 'failed' WHEN n % 97 = 0 THEN 'cancelled' ELSE 'completed' END,
       '{}'::jsonb, 'webhook',
       :now - make_interval(secs => (n * 2.5919)::int % (:days * 86400)) - interval '2 seconds',
       :now - make_interval(secs => (n * 2.5919)::int % (:days * 86400)) - interval '2 seconds',
       :now - make_interval(secs => (n * 2.5919)::int % (:days * 86400)) + make_interval(secs => (n % 7) / 3.0),
       false
FROM generate_series(1, :count) AS n
JOIN (SELECT id, tenant_id, deployment_id, row_number() OVER (ORDER BY id) - 1 AS i FROM workflows) w
  ON w.i = n % :workflows
"""
GENERATE_STEPS = """
INSERT INTO step_results (id, tenant_id, execution_id, node_id, status, attempts, started_at, ended_at)
SELECT gen_random_uuid()::text, e.tenant_id, e.id, node, CASE WHEN node = 'mail' AND e.status = 'failed'
       THEN 'failed' ELSE 'completed' END, 1, e.started_at, e.ended_at
FROM executions e CROSS JOIN (VALUES ('start'), ('mail')) AS nodes(node)
"""
SCAN = """
SELECT count(*), count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE status = 'failed'),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY ended_at - started_at),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY ended_at - started_at)
FROM executions WHERE tenant_id = :tenant AND mode = 'live' AND ended_at >= :start AND ended_at < :end
"""


def load(url: str, tenant_id: str, count: int) -> tuple[float, float]:
    """The workspaces, workflows, executions and steps; returns (seconds to insert, seconds to fold)."""
    from engine.rollups import fold_ended_runs
    from store import Tenant, Workflow, WorkflowVersion
    from store.db import get_engine, get_session_factory

    began = time.perf_counter()
    with get_session_factory(url).begin() as db:
        tenants = [db.get_one(Tenant, tenant_id)]
        for n in range(TENANTS - 1):
            tenants.append(Tenant(name=f"Bench {n}", slug=f"bench-{n}-{uuid.uuid4().hex[:6]}"))
        db.add_all(tenants[1:])
        db.flush()
        for tenant in tenants:
            for n in range(WORKFLOWS_PER_TENANT):
                workflow = Workflow(
                    tenant_id=tenant.id, name=f"Workflow {n}", slug=f"workflow-{n}", latest_version=1,
                    published_version=1, deployment_id=str(uuid.uuid4()),
                )  # fmt: skip
                db.add(workflow)
                db.flush()
                db.add(
                    WorkflowVersion(tenant_id=tenant.id, workflow_id=workflow.id, version=1, graph=GRAPH, valid=True)
                )
    with get_engine(url).begin() as db:
        now = datetime.now(UTC)
        db.execute(
            text(GENERATE), {"now": now, "days": DAYS, "count": count, "workflows": TENANTS * WORKFLOWS_PER_TENANT}
        )
        db.execute(text(GENERATE_STEPS))
        db.execute(text("ANALYZE"))
    inserted = time.perf_counter() - began
    began = time.perf_counter()
    with get_session_factory(url)() as db:
        while fold_ended_runs(db, limit=20_000):
            print(".", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    folded = time.perf_counter() - began
    # Folding 30 days at once rewrote every hour's rollup row once per pass; live, only the current hour's
    # rows change and autovacuum keeps up. Vacuum now, as it would have by the time anyone reads the month.
    with get_engine(url).connect().execution_options(isolation_level="AUTOCOMMIT") as db:
        db.execute(text("VACUUM ANALYZE run_rollups, step_rollups"))
    return inserted, folded


def timed(call, requests: int) -> list[float]:
    for _ in range(5):
        call()
    samples = []
    for _ in range(requests):
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1000)
    return samples


def run(url: str, count: int, requests: int) -> list[tuple]:
    from fastapi.testclient import TestClient

    from core.settings import Settings
    from platform_api.app import create_app
    from store.db import get_engine
    from store.migrate import upgrade

    upgrade(url)
    settings = Settings(
        home=Path(tempfile.mkdtemp()), database_url=url, dispatcher={"enabled": False},
        prefect={"api_url": "http://127.0.0.1:9/api"},
    )  # fmt: skip
    rows = []
    with TestClient(create_app(settings)) as client:
        signup = client.post(
            "/api/v1/signup",
            json={
                "tenant_name": "Bench",
                "email": f"{uuid.uuid4().hex[:8]}@example.com",
                "password": "correct horse battery",
            },
        ).json()
        headers = {"Authorization": f"Bearer {signup['token']}"}
        inserted, folded = load(url, signup["tenant"]["id"], count)
        rows.append(
            ("load", f"{count:,} executions + {2 * count:,} steps", f"{inserted:.0f} s", f"fold {folded:.0f} s", "")
        )
        end = datetime.now(UTC) + timedelta(minutes=1)
        month = {"from": (end - timedelta(days=DAYS)).isoformat(), "to": end.isoformat()}
        workflow_id = client.get("/api/v1/reports/tenant", params=month, headers=headers).json()["workflows"][0][
            "workflow_id"
        ]
        cases = {
            "workspace, 30 days by day": ("/api/v1/reports/tenant", {**month, "bucket": "day"}),
            "workspace, 7 days by hour": (
                "/api/v1/reports/tenant",
                {"from": (end - timedelta(days=7)).isoformat(), "to": end.isoformat(), "bucket": "hour"},
            ),
            "workflow, 30 days by day": (f"/api/v1/reports/workflows/{workflow_id}", {**month, "bucket": "day"}),
        }
        total = client.get("/api/v1/reports/tenant", params=month, headers=headers).json()["totals"]["runs"]
        for name, (path, params) in cases.items():
            samples = timed(
                lambda p=path, q=params: client.get(p, params=q, headers=headers).raise_for_status(), requests
            )
            p95 = pct(samples, 95)
            rows.append(
                (
                    name,
                    f"{statistics.median(samples):.1f} ms",
                    f"{p95:.1f} ms",
                    "",
                    "ok" if p95 < 100 else "over 100 ms",
                )
            )
    with get_engine(url).connect() as db:
        params = {"tenant": signup["tenant"]["id"], "start": end - timedelta(days=DAYS), "end": end}
        scan = timed(lambda: db.execute(text(SCAN), params).one(), max(10, requests // 20))
    rows.append(
        (
            "scan every run (what rollups replace)",
            f"{statistics.median(scan):.1f} ms",
            f"{pct(scan, 95):.1f} ms",
            f"{total:,} runs of the workspace",
            "",
        )
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reports")
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args(argv)
    url = postgres_url()
    if not url:
        return 1
    try:
        rows = run(url, args.executions, args.requests)
    finally:
        drop_postgres(url)
    header = ("case", "p50", "p95", "note", "p95 < 100 ms")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)))
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    return 0 if all(r[-1] in ("", "ok") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
