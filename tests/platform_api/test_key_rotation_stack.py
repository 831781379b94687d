"""Rotating a workspace's data key on the whole platform (`flowyard up`, SQLite and PostgreSQL) while runs go on:
`POST /api/v1/tenant/keys/rotate` starts the `flowyard-reencrypt` flow run, which the Flowyard worker runs beside
the workflows; `GET /api/v1/tenant/keys/rotation` shows its progress until every stored value of the workspace is
sealed with the new key only and the old key is deleted, while the runs API still returns what the runs held.

The flow waits FLOWYARD_KEYS__CACHE_SECONDS (30 s by default: the shared stack keeps its settings) after the
rotation before its final pass, for the worker's key cache to let go of the old key."""

from __future__ import annotations

import threading
import uuid
from uuid import UUID

from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId
from sqlalchemy import select

from engine.reencrypt import DEPLOYMENT_NAME, ENTRYPOINT, REENCRYPT_FLOW, sealed_columns
from store.db import get_session_factory
from tests.engine.support import platform_db_url, prefect_client, wait_until
from tests.support import Api, publish, start_run, steps_by_node

FINAL = {"completed", "failed", "crashed", "cancelled"}


def _raw_values(db_url: str, tenant_id: str) -> list[str]:
    """Every stored sealed value of the tenant, as the database holds it."""
    found: list[str] = []
    with get_session_factory(db_url)() as db:
        for sealed in sealed_columns():
            found += db.scalars(
                select(sealed.raw).where(sealed.table.c.tenant_id == tenant_id, sealed.raw.is_not(None))
            ).all()
    return found


def _finished_logs(client, flow_run_id: UUID) -> str | None:
    """The flow run's log lines, once its last one ("done: <counts>") reached Prefect."""
    logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    messages = "\n".join(log.message for log in logs)
    return messages if "done:" in messages else None


def test_the_reencryption_deployment_is_in_the_flowyard_pool(stack):
    with prefect_client(stack) as client:
        deployment = client.read_deployment_by_name(f"{REENCRYPT_FLOW}/{DEPLOYMENT_NAME}")
    assert deployment.work_pool_name == "flowyard" and deployment.entrypoint == ENTRYPOINT
    assert {"flowyard", "flowyard-system", "key-rotation"} <= set(deployment.tags)
    assert not deployment.schedules


def test_a_rotation_reencrypts_in_the_background_while_runs_continue(stack, minimal_graph):
    owner = Api(stack.api_url).signup()
    tenant_id = owner.signup_body["tenant"]["id"]
    workflow_id = publish(owner, f"rotation {uuid.uuid4().hex[:6]}", minimal_graph)
    before = [owner.wait_for_run(start_run(owner, workflow_id, {"name": f"before {i}"})) for i in range(3)]
    assert {run["status"] for run in before} == {"completed"}

    burst: list[str] = []

    def start_burst() -> None:  # runs accepted and run while the key is replaced
        for i in range(12):
            burst.append(start_run(owner, workflow_id, {"name": f"burst {i}"}))

    starting = threading.Thread(target=start_burst)
    starting.start()
    rotated = owner.post("/api/v1/tenant/keys/rotate")
    starting.join(timeout=120)

    assert rotated.status_code == 200, rotated.text
    rotation = rotated.json()
    assert rotation["reencryption_flow_run_id"] and rotation["retired_keys_deleted"] == 0
    assert rotation["remaining_total"] > 0  # the runs before, sealed with the old key
    after = [owner.wait_for_run(run_id) for run_id in burst]
    assert len(after) == 12 and {run["status"] for run in after} == {"completed"}

    seen: list[dict] = []

    def finished() -> dict | None:
        status = owner.get("/api/v1/tenant/keys/rotation").json()
        seen.append(status)
        run = status["reencryption"]
        return status if run and run["state"] in FINAL else None

    status = wait_until(finished, timeout=240, interval=0.5, what="the re-encryption flow run to end")

    assert status["reencryption"]["flow_run_id"] == rotation["reencryption_flow_run_id"]
    assert status["reencryption"]["state"] == "completed", status
    assert (status["remaining_total"], status["retired_keys"], status["key_id"]) == (0, 0, rotation["key_id"])
    assert any(s["retired_keys"] == 1 for s in seen)  # the progress was visible before the end
    raw = _raw_values(platform_db_url(stack), tenant_id)
    assert raw and all(value.startswith(f"fy2.{rotation['key_id']}.") for value in raw)
    for i, run in enumerate(before):  # what the runs held still reads back through the API
        read = owner.get(f"/api/v1/runs/{run['id']}").json()
        assert steps_by_node(read)["start"]["output"] == {"name": f"before {i}"}
    read = owner.get(f"/api/v1/runs/{burst[-1]}").json()
    assert steps_by_node(read)["start"]["output"] == {"name": "burst 11"}

    flow_run_id = UUID(rotation["reencryption_flow_run_id"])  # operators see counts, never a value
    with prefect_client(stack) as client:
        messages = wait_until(lambda: _finished_logs(client, flow_run_id), what="the re-encryption's logs")
        [artifact] = client.read_artifacts(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    assert "retired_keys_deleted" in messages and "before 0" not in messages and "burst" not in messages
    assert artifact.type == "progress" and artifact.data == 100.0
