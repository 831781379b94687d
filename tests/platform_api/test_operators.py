"""What operators watch, on SQLite and PostgreSQL: GET /metrics in Prometheus text format whose series move
with the platform's state (no tenant ids in it), behind a bearer token when one is set; the health probes
(`live`; `ready` naming a failing check: Prefect stopped and started again, a dispatcher loop that ended);
and, on `flowyard up`, batches' flow runs named and tagged so that an operator finds a tenant's work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
from prometheus_client.parser import text_string_to_metric_families

from core.settings import Settings
from platform_api.app import create_app
from store import Batch, ExecutionStatus, StepResult, StepStatus, Tenant, Workflow, utcnow
from store.db import get_session_factory
from store.migrate import upgrade
from tests.conftest import InProcessApi
from tests.engine.support import prefect_client as stack_prefect_client
from tests.platform_rows import Clock, add_execution, add_workflow
from tests.support import Api, free_port, publish_and_run

SERIES = {
    "flowyard_executions",
    "flowyard_queue_depth",
    "flowyard_queue_oldest_age_seconds",
    "flowyard_batch_size",
    "flowyard_step_duration_seconds",
    "flowyard_dispatcher_lag_seconds",
    "flowyard_worker_slots_in_use",
    "flowyard_webhook_deliveries",
    "flowyard_webhook_seconds",
    "flowyard_prefect_call_seconds",
    "flowyard_prefect_call_errors",
}


def scrape(client: httpx.Client | TestClient, **headers: str) -> dict[tuple[str, tuple], float]:
    """Every sample of GET /metrics as {(name, sorted labels): value}; the answer must parse."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = list(text_string_to_metric_families(response.text))
    assert SERIES <= {family.name for family in families}
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples}


def executions(samples: dict, status: str) -> float:
    return samples[("flowyard_executions", (("status", status),))]


@pytest.fixture
def workflow(platform_db_url: str, tenant: InProcessApi) -> Workflow:
    with get_session_factory(platform_db_url).begin() as db:
        return add_workflow(db, db.get_one(Tenant, tenant.signup_body["tenant"]["id"]))


def add_ended_batch(platform_db_url: str, workflow: Workflow, *, size: int, step_seconds: float) -> None:
    """A batch of `size` completed executions, each with one step that took `step_seconds`."""
    with get_session_factory(platform_db_url).begin() as db:
        batch = Batch(tenant_id=workflow.tenant_id, workflow_id=workflow.id, version=1, deployment_id="d")
        batch.flow_run_id = "f"
        db.add(batch)
        db.flush()
        for _ in range(size):
            run = add_execution(db, workflow, clock=Clock(), status=ExecutionStatus.COMPLETED, batch_id=batch.id)
            run.created_at = utcnow() - timedelta(minutes=5)
            ended = utcnow()
            db.add(
                StepResult(
                    tenant_id=workflow.tenant_id,
                    execution_id=run.id,
                    node_id="say",
                    status=StepStatus.COMPLETED,
                    started_at=ended - timedelta(seconds=step_seconds),
                    ended_at=ended,
                )
            )


def test_metrics_follow_the_platform(workflow: Workflow, platform_db_url: str, api_app):
    before = scrape(api_app)

    add_ended_batch(platform_db_url, workflow, size=3, step_seconds=0.2)
    sessions = get_session_factory(platform_db_url)
    with sessions.begin() as db:
        waiting_for_flow_run = Batch(
            tenant_id=workflow.tenant_id, workflow_id=workflow.id, version=1, deployment_id="d"
        )
        waiting_for_flow_run.created_at = utcnow() - timedelta(minutes=2)
        db.add(waiting_for_flow_run)
        db.flush()
        add_execution(db, workflow, clock=Clock(), status=ExecutionStatus.RUNNING, batch_id=waiting_for_flow_run.id)
        for age in (10, 1, 0):
            queued = add_execution(db, workflow, clock=Clock(), status=ExecutionStatus.QUEUED)
            queued.created_at = utcnow() - timedelta(minutes=age)
    assert api_app.post("/hooks/no-such-endpoint", json={}).status_code == 404

    after = scrape(api_app)
    moved = {key: after[key] - before.get(key, 0) for key in after}
    assert executions(after, "queued") - executions(before, "queued") == 3
    assert executions(after, "completed") - executions(before, "completed") == 3
    assert executions(after, "running") - executions(before, "running") == 1
    assert moved[("flowyard_queue_depth", ())] == 3
    assert after[("flowyard_queue_oldest_age_seconds", ())] >= 600
    assert after[("flowyard_dispatcher_lag_seconds", ())] >= 120
    assert moved[("flowyard_worker_slots_in_use", ())] == 1
    assert moved[("flowyard_batch_size_count", ())] == 2  # the ended batch and the one waiting for its flow run
    assert moved[("flowyard_batch_size_bucket", (("le", "2.0"),))] == 1  # the one-execution batch
    assert moved[("flowyard_batch_size_bucket", (("le", "5.0"),))] == 2
    assert moved[("flowyard_step_duration_seconds_count", ())] == 3
    assert moved[("flowyard_step_duration_seconds_bucket", (("le", "0.1"),))] == 0
    assert moved[("flowyard_step_duration_seconds_bucket", (("le", "0.25"),))] == 3
    assert moved[("flowyard_webhook_deliveries_total", (("outcome", "refused"),))] == 1
    assert moved[("flowyard_webhook_seconds_count", ())] == 1
    assert workflow.tenant_id not in api_app.get("/metrics").text  # tenants are not a label


def test_metrics_token(platform_db_url: str, tmp_path: Path):
    settings = Settings(
        home=tmp_path,
        database_url=platform_db_url,
        dispatcher={"enabled": False},
        prefect={"api_url": "http://127.0.0.1:9/api"},
        api={"metrics_token": "scrape-me"},
    )
    with TestClient(create_app(settings)) as client:
        refused = client.get("/metrics")
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert refused.headers["content-type"] == "application/problem+json"
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        scrape(client, Authorization="Bearer scrape-me")


def test_live_answers_while_prefect_is_down(anonymous: InProcessApi):
    for path in ("/api/v1/health", "/api/v1/health/live"):
        response = anonymous.get(path)
        assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert anonymous.get("/api/v1/health/ready").status_code == 503  # nothing listens at its Prefect URL


class PrefectServer:
    """A Prefect server of the test's own, to stop and start again."""

    def __init__(self, home: Path) -> None:
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self.env = {
            **os.environ,
            "PREFECT_HOME": str(home),
            "PREFECT_API_URL": self.api_url,
            "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_UI_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
        }
        self.env.pop("PREFECT_API_AUTH_STRING", None)
        self.log = home / "prefect.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 180) -> None:
        argv = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(self.port)]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.api_url + "/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            time.sleep(0.5)
        raise AssertionError(f"Prefect did not start in {timeout}s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory) -> Iterator[PrefectServer]:
    server = PrefectServer(tmp_path_factory.mktemp("own-prefect"))
    server.start()
    yield server
    server.stop()


def ready(client: TestClient) -> tuple[int, dict]:
    response = client.get("/api/v1/health/ready")
    return response.status_code, response.json()


@pytest.mark.slow
def test_ready_follows_prefect(prefect_server: PrefectServer, platform_db_url: str, tmp_path: Path):
    settings = Settings(
        home=tmp_path,
        database_url=platform_db_url,
        dispatcher={"enabled": False},
        prefect={"api_url": prefect_server.api_url},
    )
    with TestClient(create_app(settings)) as client:
        assert ready(client) == (
            200,
            {"status": "ok", "checks": {"database": "ok", "prefect": "ok", "dispatcher": "off"}},
        )

        prefect_server.stop()
        status, problem = ready(client)
        assert status == 503 and problem["type"].endswith("/not-ready")
        assert [error["path"] for error in problem["errors"]] == ["prefect"]
        assert problem["errors"][0]["hint"]
        assert scrape(client)[("flowyard_prefect_call_errors_total", (("reason", "unreachable"),))] >= 1

        prefect_server.start()
        assert ready(client)[0] == 200


@pytest.mark.slow
def test_ready_names_a_dispatcher_that_stopped(prefect_server: PrefectServer, tmp_path: Path):
    database_url = f"sqlite:///{tmp_path / 'platform.db'}"  # its own: this dispatcher takes what it finds queued
    upgrade(database_url)
    settings = Settings(home=tmp_path, database_url=database_url, prefect={"api_url": prefect_server.api_url})
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 30
        while ready(client)[0] != 200 and time.monotonic() < deadline:  # its first pass
            time.sleep(0.2)
        assert ready(client) == (
            200,
            {"status": "ok", "checks": {"database": "ok", "prefect": "ok", "dispatcher": "ok"}},
        )
        assert ("flowyard_dispatcher_last_pass_age_seconds", ()) in scrape(client)

        client.app.state.dispatcher.stop()
        status, problem = ready(client)
        assert status == 503 and [error["path"] for error in problem["errors"]] == ["dispatcher"]


def test_flow_runs_carry_tenant_and_workflow(stack, minimal_graph: dict):
    api = Api(stack.api_url).signup()
    tenant_slug = api.signup_body["tenant"]["slug"]
    [run] = publish_and_run(api, "Welcome lead", minimal_graph, [{"name": "Ada"}])
    assert run["status"] == "completed", run
    workflow_slug = api.get(f"/api/v1/workflows/{run['workflow_id']}").json()["slug"]

    with stack_prefect_client(stack) as prefect:
        [flow_run] = prefect.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[f"t-{tenant_slug}"]))
        )
    assert flow_run.name == f"{tenant_slug}/{workflow_slug} · batch of 1"
    assert {f"t-{tenant_slug}", f"workflow:{workflow_slug}", "flowyard"} <= set(flow_run.tags)

    with httpx.Client(base_url=stack.api_url) as client:
        assert ready(client) == (
            200,
            {"status": "ok", "checks": {"database": "ok", "prefect": "ok", "dispatcher": "ok"}},
        )
        samples = scrape(client)
    assert executions(samples, "completed") >= 1
    assert samples[("flowyard_batch_size_count", ())] >= 1
