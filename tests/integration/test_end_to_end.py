"""The foundation's promise, through the public API only: draw, publish, run, read the result,
on a real Prefect server with a real worker, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import time
import uuid

import httpx

from tests.support import Api, four_node_graph


def test_four_node_workflow_runs_end_to_end_and_stays_private(stack, target_server):
    anonymous = Api(stack.api_url)
    alice, mallory = anonymous.signup("Alice Bakery"), anonymous.signup("Mallory Ltd")

    created = alice.post("/api/v1/workflows", json={"name": "New lead", "graph": four_node_graph(target_server.url)})
    assert created.status_code == 201, created.text
    workflow = created.json()
    assert workflow["status"] == "draft" and workflow["version"] == 1

    published = alice.post(f"/api/v1/workflows/{workflow['id']}/publish")
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"
    slug = alice.signup_body["tenant"]["slug"]
    assert published.json()["deployment_name"].startswith(f"t-{slug}-")

    lead = f"Ada {uuid.uuid4().hex[:6]}"
    accepted = alice.post(f"/api/v1/workflows/{workflow['id']}/runs", json={"input": {"name": lead}})
    assert accepted.status_code == 202, accepted.text
    run_id = accepted.json()["run_id"]

    run = alice.wait_for_run(run_id)
    assert run["status"] == "completed", json.dumps(run, indent=2)
    steps = {step["node_id"]: step for step in run["steps"]}
    assert [s["node_id"] for s in run["steps"]] == ["start", "shape", "notify", "done"]
    assert all(step["status"] == "completed" for step in steps.values())
    assert steps["start"]["output"] == {"name": lead}
    assert steps["shape"]["output"] == {"name": lead, "greeting": f"Hello {lead}!"}
    assert steps["notify"]["output"]["status_code"] == 200
    assert steps["done"]["output"] == {"message": "CRM answered 200"}
    assert run["started_at"] and run["ended_at"]
    logs = {line["node_id"]: line["message"] for line in _logs_of(alice, run_id)}
    assert logs["done"] == "logged a message of 16 characters (in this step's output)", logs  # no payload

    received = [r for r in target_server.requests if r.path == "/leads" and r.json().get("lead") == lead]
    assert len(received) == 1
    assert received[0].json() == {"lead": lead, "message": f"Hello {lead}!"}
    assert received[0].headers.get("Idempotency-Key") == f"{run_id}-notify"

    listed = alice.get("/api/v1/runs", params={"workflow_id": workflow["id"]}).json()
    assert listed[0]["id"] == run_id
    _assert_batches_are_bounded_by_prefect(stack, published.json()["deployment_name"], slug)

    _assert_invisible_to_other_tenant(mallory, workflow["id"], run_id)


def _assert_batches_are_bounded_by_prefect(stack, deployment_name: str, tenant_slug: str) -> None:
    """The tenant's own work queue and the workflow's deployment carry Prefect concurrency limits."""
    deployment = httpx.get(
        f"{stack.prefect_url}/deployments/name/graph-interpreter/{deployment_name}", auth=stack.prefect_auth
    ).json()
    assert deployment["work_queue_name"] == f"t-{tenant_slug}"
    assert deployment["global_concurrency_limit"]["limit"] == 10  # FLOWYARD_DISPATCHER__BATCHES_PER_WORKFLOW
    queue = httpx.get(f"{stack.prefect_url}/work_pools/flowyard/queues/t-{tenant_slug}", auth=stack.prefect_auth).json()
    assert queue["concurrency_limit"] == 20  # FLOWYARD_DISPATCHER__BATCHES_PER_TENANT


def _logs_of(api: Api, run_id: str, wait_seconds: float = 30) -> list[dict]:
    """Prefect receives a run's logs in batches, a moment after the run ends."""
    deadline = time.monotonic() + wait_seconds
    while True:
        logs = api.get(f"/api/v1/runs/{run_id}").json()["logs"]
        if logs or time.monotonic() > deadline:
            return logs
        time.sleep(1)


def _assert_invisible_to_other_tenant(mallory: Api, workflow_id: str, run_id: str) -> None:
    for method, path, body in [
        ("GET", f"/api/v1/workflows/{workflow_id}", None),
        ("PUT", f"/api/v1/workflows/{workflow_id}", {"name": "stolen"}),
        ("GET", f"/api/v1/workflows/{workflow_id}/versions", None),
        ("GET", f"/api/v1/workflows/{workflow_id}/versions/1", None),
        ("POST", f"/api/v1/workflows/{workflow_id}/publish", None),
        ("POST", f"/api/v1/workflows/{workflow_id}/runs", {"input": {}}),
        ("GET", f"/api/v1/runs/{run_id}", None),
        ("GET", f"/api/v1/runs/{run_id}/events", None),
    ]:
        response = mallory.request(method, path, json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert mallory.get("/api/v1/workflows").json() == []
    assert mallory.get("/api/v1/runs").json() == []
    assert mallory.get("/api/v1/runs", params={"workflow_id": workflow_id}).json() == []


def test_failing_step_fails_the_run_with_the_reason(stack, target_server):
    target_server.responses["/gone"] = (404, {"content-type": "application/json"}, b'{"error": "no such lead"}')
    alice = Api(stack.api_url).signup()
    graph = four_node_graph(target_server.url)
    graph["nodes"][2]["config"]["url"] = target_server.url + "/gone"
    workflow = alice.post("/api/v1/workflows", json={"name": "Broken", "graph": graph}).json()
    assert alice.post(f"/api/v1/workflows/{workflow['id']}/publish").status_code == 200

    run = alice.wait_for_run(
        alice.post(f"/api/v1/workflows/{workflow['id']}/runs", json={"input": {"name": "Bo"}}).json()["run_id"]
    )

    assert run["status"] == "failed"
    assert run["error"]["node_id"] == "notify"
    assert "404" in run["error"]["message"]
    statuses = {s["node_id"]: s["status"] for s in run["steps"]}
    assert statuses == {"start": "completed", "shape": "completed", "notify": "failed"}


def test_test_mode_runs_the_latest_draft_and_streams_step_events(stack, target_server):
    alice = Api(stack.api_url).signup()
    workflow = alice.post(
        "/api/v1/workflows", json={"name": "Draft", "graph": four_node_graph(target_server.url)}
    ).json()

    accepted = alice.post(f"/api/v1/workflows/{workflow['id']}/runs", json={"input": {"name": "Cy"}, "mode": "test"})
    assert accepted.status_code == 202, accepted.text
    run_id = accepted.json()["run_id"]

    events = []
    with httpx.stream(
        "GET", f"{stack.api_url}/api/v1/runs/{run_id}/events", headers=alice.headers(), timeout=120
    ) as stream:
        kind = None
        for line in stream.iter_lines():
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                events.append((kind, json.loads(line.split(":", 1)[1])))
    completed_steps = [data["node_id"] for kind, data in events if kind == "step" and data["status"] == "completed"]
    assert completed_steps == ["start", "shape", "notify", "done"]
    assert events[-1] == ("status", {"run_id": run_id, "status": "completed"})


def test_live_run_of_unpublished_workflow_is_refused(stack, target_server):
    alice = Api(stack.api_url).signup()
    workflow = alice.post(
        "/api/v1/workflows", json={"name": "Unpublished", "graph": four_node_graph(target_server.url)}
    ).json()
    response = alice.post(f"/api/v1/workflows/{workflow['id']}/runs", json={"input": {}})
    assert response.status_code == 409
    assert response.json()["type"].endswith("/not-published")
    assert alice.get("/api/v1/runs").json() == []
