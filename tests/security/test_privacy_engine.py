"""Privacy reaches into the workflow engine, on `flowyard up` (both databases): a person's data never reaches
Prefect's log and an erased person's flow runs are gone from Prefect, and a deleted workspace leaves no
deployment, block, work queue or flow run there."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from tests.support import Api, edge, graph, node, publish_and_run

pytestmark = [pytest.mark.stack, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def _prefect(stack) -> httpx.Client:
    """Prefect's API as an operator calls it."""
    return httpx.Client(base_url=stack.prefect_url, auth=stack.prefect_auth, timeout=30)


def _greeting() -> dict:
    say = node("say", "util.log", {"message": "Welcome {{ trigger.email }}"})
    return graph([node("start", "trigger.manual"), say], [edge("start", "say")])


def _flow_run_ids(stack, slug: str) -> list[str]:
    with _prefect(stack) as prefect:
        found = prefect.post("/flow_runs/filter", json={"deployments": {"name": {"like_": f"t-{slug}-"}}})
    assert found.status_code == 200, found.text
    return [run["id"] for run in found.json()]


def _log_text(stack, flow_run_ids: list[str]) -> str:
    with _prefect(stack) as prefect:
        logs = prefect.post("/logs/filter", json={"logs": {"flow_run_id": {"any_": flow_run_ids}}, "limit": 200})
    assert logs.status_code == 200, logs.text
    return json.dumps([log["message"] for log in logs.json()]).lower()


def _wait_until(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


def test_an_erased_email_never_reached_prefects_log_and_its_flow_runs_are_gone(stack):
    owner = Api(stack.api_url).signup()
    slug = owner.signup_body["tenant"]["slug"]
    email = f"pat-{uuid.uuid4().hex[:8]}@example.com"
    (run,) = publish_and_run(owner, "Greeting", _greeting(), [{"email": email}])
    assert run["status"] == "completed", run
    flow_runs = _flow_run_ids(stack, slug)
    assert flow_runs
    said = f"[run {run['id']}] [say] logged a message"
    _wait_until(lambda: said in _log_text(stack, flow_runs))  # the step's log line (shipped in batches)...
    assert email not in _log_text(stack, flow_runs)  # ...names no payload

    erased = owner.post("/api/v1/privacy/erase", json={"email": email})

    assert erased.status_code == 200, erased.text
    assert erased.json()["touched"]["prefect_flow_runs"] == 1
    assert _flow_run_ids(stack, slug) == []
    _wait_until(lambda: said not in _log_text(stack, flow_runs))  # Prefect deletes the logs in the background
    assert email not in owner.get(f"/api/v1/runs/{run['id']}").text.lower()


def test_a_deleted_workspace_leaves_nothing_in_prefect(stack, fake_services):
    owner = Api(stack.api_url).signup()
    tenant, slug = owner.signup_body["tenant"]["id"], owner.signup_body["tenant"]["slug"]
    connection = owner.post(
        "/api/v1/connections",
        json={
            "type": "sendgrid",
            "name": "Mail",
            "config": {"from_email": "shop@example.com"},
            "secrets": {"api_key": fake_services.sendgrid.add_key()},
        },
    )
    assert connection.status_code == 201, connection.text
    (run,) = publish_and_run(owner, "Greeting", _greeting(), [{"email": "pat@example.com"}])
    assert run["status"] == "completed", run
    flow_runs = _flow_run_ids(stack, slug)
    assert flow_runs

    deleted = owner.request("DELETE", "/api/v1/tenant", json={"confirm": slug})

    assert deleted.status_code == 204, deleted.text
    assert owner.get("/api/v1/workflows").status_code == 401
    with _prefect(stack) as prefect:
        deployments = prefect.post(
            "/deployments/filter", json={"deployments": {"tags": {"all_": [f"tenant:{tenant}"]}}}
        )
        assert deployments.status_code == 200 and deployments.json() == []
        blocks = prefect.post("/block_documents/filter", json={"block_documents": {"name": {"like_": f"t-{slug}-"}}})
        assert blocks.status_code == 200 and blocks.json() == []
        queue = prefect.get(f"/work_pools/flowyard/queues/t-{slug}")
        assert queue.status_code == 404
        runs = prefect.post("/flow_runs/filter", json={"flow_runs": {"id": {"any_": flow_runs}}})
        assert runs.status_code == 200 and runs.json() == []
