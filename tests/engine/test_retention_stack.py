"""Retention on the whole platform (`flowyard up`, SQLite and PostgreSQL): the hourly `flowyard-maintenance`
deployment exists for operators, and a run of it, taken by the Flowyard worker, purges an old run and its
Prefect flow run with the flow run's logs, as does `flowyard maintenance run`."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from uuid import UUID

import pytest
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.exceptions import ObjectNotFound

from engine.maintenance import DEPLOYMENT_NAME, MAINTENANCE_FLOW
from store import Batch, Execution, utcnow
from store.db import get_session_factory
from tests.engine.support import platform_db_url, prefect_client, wait_until
from tests.support import Api, publish_and_run

FULL_NAME = f"{MAINTENANCE_FLOW}/{DEPLOYMENT_NAME}"


def test_the_maintenance_deployment_runs_hourly_in_the_flowyard_pool(stack):
    with prefect_client(stack) as client:
        deployment = client.read_deployment_by_name(FULL_NAME)
    assert {"flowyard", "flowyard-system", "retention"} <= set(deployment.tags)
    assert deployment.work_pool_name == "flowyard"
    assert deployment.entrypoint == "engine.maintenance.flowyard_maintenance"
    [schedule] = deployment.schedules
    assert schedule.active
    assert schedule.schedule.interval == timedelta(hours=1)


def backdate(stack, run_id: str, days: int) -> str:
    """Move a run and its batch `days` into the past; returns the batch's flow run id."""
    long_ago = utcnow() - timedelta(days=days)
    with get_session_factory(platform_db_url(stack))() as db:
        execution = db.get_one(Execution, run_id)
        batch = db.get_one(Batch, execution.batch_id)
        execution.created_at = execution.started_at = execution.ended_at = long_ago
        batch.created_at = long_ago
        db.commit()
        assert batch.flow_run_id
        return batch.flow_run_id


def run_maintenance(stack) -> None:
    """What the hourly schedule does, now: a flow run of the deployment, run by the Flowyard worker."""
    with prefect_client(stack) as client:
        deployment = client.read_deployment_by_name(FULL_NAME)
        flow_run = client.create_flow_run_from_deployment(deployment.id)
        ended = wait_until(
            lambda: (state := client.read_flow_run(flow_run.id).state) and state.is_final() and state,
            what="the maintenance flow run to end",
        )
    assert ended.is_completed(), ended


def test_retention_purges_an_old_run_and_its_prefect_flow_run_with_its_logs(stack, minimal_graph):
    api = Api(stack.api_url).signup()
    [old] = publish_and_run(api, "retention old", minimal_graph, [{"name": "Ada"}])
    [recent] = publish_and_run(api, "retention recent", minimal_graph, [{"name": "Bob"}])  # a batch of its own
    assert (old["status"], recent["status"]) == ("completed", "completed")
    flow_run_id = UUID(backdate(stack, old["id"], days=400))
    with prefect_client(stack) as client:
        wait_until(
            lambda: client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))),
            what="the run's logs in Prefect",
        )

    run_maintenance(stack)

    assert api.get(f"/api/v1/runs/{old['id']}").status_code == 404
    assert api.get(f"/api/v1/runs/{recent['id']}").status_code == 200
    with prefect_client(stack) as client:
        with pytest.raises(ObjectNotFound):
            client.read_flow_run(flow_run_id)
        wait_until(  # Prefect deletes a deleted flow run's logs in the background
            lambda: not client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))),
            what="the purged flow run's logs to go",
        )


def test_flowyard_maintenance_run_purges_in_the_foreground(stack, minimal_graph):
    api = Api(stack.api_url).signup()
    [old] = publish_and_run(api, "retention by hand", minimal_graph, [{"name": "Cy"}])
    flow_run_id = UUID(backdate(stack, old["id"], days=400))

    result = subprocess.run(
        [sys.executable, "-m", "flowyard.cli", "maintenance", "run"],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr
    assert "runs" in result.stdout and "prefect_flow_runs" in result.stdout
    assert api.get(f"/api/v1/runs/{old['id']}").status_code == 404
    with prefect_client(stack) as client, pytest.raises(ObjectNotFound):
        client.read_flow_run(flow_run_id)
