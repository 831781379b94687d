"""GET /internal/pools/{pool}/backlog, what KEDA scales the workers on: closed unless its token is set, asked
with that bearer token only, and counting what Prefect holds for the pool (the stack's real Prefect server)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.states import Pending, Scheduled

from core.settings import Settings
from platform_api.app import create_app
from tests.engine.support import prefect_client

TOKEN = "keda-" + uuid.uuid4().hex


def client_for(tmp_path, **settings) -> TestClient:
    return TestClient(
        create_app(
            Settings(
                home=tmp_path,
                database_url=f"sqlite:///{tmp_path / 'platform.db'}",
                dispatcher={"enabled": False},
                **settings,
            )
        )
    )


@pytest.fixture
def unreachable_prefect(tmp_path) -> Iterator[TestClient]:
    with client_for(tmp_path, prefect={"api_url": "http://127.0.0.1:9/api"}, kubernetes={"metrics_token": TOKEN}) as c:
        yield c


def test_the_backlog_is_not_served_without_a_token_setting(api_app):
    response = api_app.get("/internal/pools/flowyard/backlog", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", TOKEN, f"Basic {TOKEN}", f"Bearer {TOKEN}x"])
def test_the_backlog_needs_the_bearer_token(unreachable_prefect, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = unreachable_prefect.get("/internal/pools/flowyard/backlog", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["type"].endswith("/unauthorized")


def test_prefect_down_is_a_503_problem(unreachable_prefect):
    response = unreachable_prefect.get("/internal/pools/flowyard/backlog", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"


def test_the_backlog_counts_the_pools_due_flow_runs_that_no_worker_holds(stack, tmp_path):
    pool, other_pool = f"backlog-{uuid.uuid4().hex[:8]}", f"backlog-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    with prefect_client(stack) as client:
        flow_id = client.create_flow_from_name(f"backlog-test-{uuid.uuid4().hex[:6]}")
        deployments = {}
        for name in (pool, other_pool):
            client.create_work_pool(WorkPoolCreate(name=name, type="process"))
            deployments[name] = client.create_deployment(flow_id, name, work_pool_name=name)

        def run(name: str, at: datetime):
            return client.create_flow_run_from_deployment(deployments[name], state=Scheduled(scheduled_time=at))

        run(pool, now - timedelta(minutes=5))  # due (Late soon): counted
        run(pool, now - timedelta(seconds=1))  # due: counted
        run(pool, now + timedelta(hours=1))  # not due yet
        taken = run(pool, now - timedelta(minutes=1))
        client.set_flow_run_state(taken.id, Pending())  # a worker holds it: Prefect clears its start time
        run(other_pool, now - timedelta(minutes=5))  # another pool's

    settings = {"api_url": stack.prefect_url, "auth_string": stack.auth_string}
    with client_for(tmp_path, prefect=settings, kubernetes={"metrics_token": TOKEN}) as api:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        response = api.get(f"/internal/pools/{pool}/backlog", headers=headers)
        assert response.status_code == 200, response.text
        assert response.json() == {"backlog": 2}
        assert api.get(f"/internal/pools/{other_pool}/backlog", headers=headers).json() == {"backlog": 1}
        missing = api.get("/internal/pools/no-such-pool/backlog", headers=headers)
        assert missing.status_code == 404 and "no-such-pool" in missing.json()["detail"]
