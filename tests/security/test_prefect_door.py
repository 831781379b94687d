"""Prefect is not an open door: the Prefect API of a running stack refuses callers without its auth string, its
secrets are kept 0600, and a flow run with forged parameters (possible for anyone who holds the auth string,
the worst case) runs nothing of another tenant's; a second flow run of a finished batch runs no step again."""

from __future__ import annotations

import base64
import stat
import time
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from flowyard.prefect_secrets import auth_string_path, encryption_key_path, resolve, secrets_dir
from store import Batch, Execution, ExecutionStatus, StepResult
from store.db import get_session_factory
from tests.engine.support import Workflow, platform_db_url
from tests.support import Api, edge, graph, node

FINAL_FLOW_RUN_STATES = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def prefect(stack, method: str, path: str, *, auth: Any = None, **kwargs: Any) -> httpx.Response:
    """One call to Prefect's API, retried as Prefect's own client retries it: a busy database answers 503."""
    for _ in range(5):
        response = httpx.request(method, stack.prefect_url + path, auth=auth, timeout=30, **kwargs)
        if response.status_code != 503:
            return response
        time.sleep(1)
    return response


def calling_graph(url: str) -> dict[str, Any]:
    """trigger -> data.transform -> http.request (no idempotency key of its own) -> util.log."""
    return graph(
        [
            node("start", "trigger.manual"),
            node("shape", "data.transform", {"fields": {"n": "{{ trigger.n }}"}}),
            node(
                "call", "http.request", {"method": "POST", "url": url, "json_body": {"n": "{{ steps.shape.output.n }}"}}
            ),
            node("done", "util.log", {"message": "called"}),
        ],
        [edge("start", "shape"), edge("shape", "call"), edge("call", "done")],
    )


def publish(api: Api, workflow_graph: dict[str, Any]) -> tuple[str, str]:
    """(workflow id, deployment name) of a new published workflow."""
    created = api.post("/api/v1/workflows", json={"name": f"wf {uuid.uuid4().hex[:6]}", "graph": workflow_graph})
    assert created.status_code == 201, created.text
    published = api.post(f"/api/v1/workflows/{created.json()['id']}/publish")
    assert published.status_code == 200, published.text
    return created.json()["id"], published.json()["deployment_name"]


def deployment_id(stack, name: str) -> str:
    found = prefect(stack, "GET", f"/deployments/name/graph-interpreter/{name}", auth=stack.prefect_auth)
    assert found.status_code == 200, found.text
    return str(found.json()["id"])


def create_flow_run(stack, deployment: str, parameters: dict[str, str]) -> str:
    created = prefect(
        stack,
        "POST",
        f"/deployments/{deployment}/create_flow_run",
        auth=stack.prefect_auth,
        json={"parameters": parameters},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def wait_flow_run(stack, flow_run_id: str, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = prefect(stack, "GET", f"/flow_runs/{flow_run_id}", auth=stack.prefect_auth).json()
        if run["state_type"] in FINAL_FLOW_RUN_STATES:
            return run
        time.sleep(0.5)
    raise AssertionError(f"flow run {flow_run_id} did not end in {timeout}s: {run['state_type']}")


def flow_run_logs(stack, flow_run_id: str, expected: str, timeout: float = 30) -> str:
    """The flow run's log once it holds `expected`, or as it is after `timeout`: Prefect ships log lines in the
    background, so they may arrive after the flow run's final state."""
    body = {"logs": {"flow_run_id": {"any_": [flow_run_id]}}}
    deadline = time.monotonic() + timeout
    while True:
        logs = prefect(stack, "POST", "/logs/filter", auth=stack.prefect_auth, json=body).json()
        text = "\n".join(line["message"] for line in logs)
        if expected in text or time.monotonic() > deadline:
            return text
        time.sleep(0.5)


def executions_of_batch(stack, batch_id: str) -> list[tuple[str, str]]:
    with get_session_factory(platform_db_url(stack))() as db:
        rows = db.execute(select(Execution.id, Execution.status).where(Execution.batch_id == batch_id)).all()
        return sorted((str(i), str(s)) for i, s in rows)


def step_rows(stack, execution_id: str) -> int:
    with get_session_factory(platform_db_url(stack))() as db:
        return len(db.scalars(select(StepResult.id).where(StepResult.execution_id == execution_id)).all())


# --- the door -----------------------------------------------------------------------------------


def test_the_prefect_api_refuses_callers_without_the_auth_string(stack):
    owner = Api(stack.api_url).signup()
    _, name = publish(owner, calling_graph("http://127.0.0.1:9/never"))
    deployment = deployment_id(stack, name)
    block = str(uuid.uuid4())
    attempts = [
        ("POST", "/flow_runs/filter", {"json": {}}),
        ("POST", f"/deployments/{deployment}/create_flow_run", {"json": {"parameters": {}}}),
        ("DELETE", f"/deployments/{deployment}", {}),
        ("GET", f"/block_documents/{block}", {}),
        ("POST", "/block_documents/filter", {"json": {}}),
        ("GET", "/openapi.json", {}),
    ]
    user = stack.auth_string.split(":", 1)[0]
    wrong = [None, httpx.BasicAuth(user, "wrong"), {"Authorization": f"Bearer {stack.auth_string}"}]
    for method, path, kwargs in attempts:
        for credentials in wrong:
            headers = credentials if isinstance(credentials, dict) else None
            auth = None if isinstance(credentials, dict) else credentials
            response = prefect(stack, method, path, auth=auth, headers=headers, **kwargs)
            assert response.status_code == 401, (method, path, credentials, response.text)
            assert response.json() == {"exception_message": "Unauthorized"}

    assert prefect(stack, "POST", "/flow_runs/filter", auth=stack.prefect_auth, json={}).status_code == 200
    assert prefect(stack, "POST", "/block_documents/filter", auth=stack.prefect_auth, json={}).status_code == 200
    assert prefect(stack, "GET", f"/deployments/{deployment}", auth=stack.prefect_auth).status_code == 200
    # still there: the DELETE without the auth string did nothing
    assert prefect(stack, "GET", "/health").status_code == 200  # probes need no secret


def test_the_prefect_ui_asks_operators_for_the_auth_string(stack):
    ui = stack.prefect_url.removesuffix("/api")
    settings = httpx.get(f"{ui}/ui-settings", timeout=30)
    assert settings.status_code == 200 and settings.json()["auth"] == "BASIC"  # Prefect's login page
    token = base64.b64encode(stack.auth_string.encode()).decode()  # what the login page sends
    headers = {"Authorization": f"Basic {token}"}
    assert prefect(stack, "POST", "/flows/filter", headers=headers, json={}).status_code == 200


def test_the_secrets_are_kept_0600_and_never_logged(stack):
    assert stat.S_IMODE(secrets_dir(stack.home).stat().st_mode) == 0o700
    for path in (auth_string_path(stack.home), encryption_key_path(stack.home)):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    secrets = [stack.auth_string, encryption_key_path(stack.home).read_text().strip()]
    logs = [stack.home / "flowyard-up.log", *sorted((stack.home / "logs").glob("*.log"))]
    for log in logs:
        text = log.read_text(errors="replace")
        assert not any(secret in text for secret in secrets), f"a Prefect secret is in {log}"
    assert str(auth_string_path(stack.home)) in (stack.home / "flowyard-up.log").read_text()  # where to find it


def test_a_second_up_reuses_the_kept_secrets(tmp_path):
    from core.settings import Settings

    settings = Settings(home=tmp_path / "home", prefect={"port": 1})
    settings.home_dir.mkdir()
    first, second = resolve(settings), resolve(settings)
    assert first == second and first.auth_string and first.encryption_key
    assert first.auth_string.startswith("flowyard:") and len(first.auth_string) > 40
    given = Settings(home=tmp_path / "home", prefect={"auth_string": "ops:given"})
    assert resolve(given).auth_string == "ops:given"  # a setting wins; the kept key stays
    assert resolve(given).encryption_key == first.encryption_key


def test_up_keeps_the_key_an_earlier_prefect_server_stored_beside_its_blocks(tmp_path):
    """Upgrading an installation whose Prefect server generated its own key: its blocks stay readable."""
    import json
    import sqlite3

    from cryptography.fernet import Fernet

    from core.settings import Settings

    settings = Settings(home=tmp_path / "home")
    (settings.home_dir / "prefect").mkdir(parents=True)
    old_key = Fernet.generate_key().decode()
    with sqlite3.connect(settings.home_dir / "prefect" / "prefect.db") as db:
        db.execute("CREATE TABLE configuration (id TEXT, key TEXT, value JSON)")
        db.execute("INSERT INTO configuration VALUES ('1', 'ENCRYPTION_KEY', ?)", [json.dumps({"fernet_key": old_key})])
    assert resolve(settings).encryption_key == old_key
    assert encryption_key_path(settings.home_dir).read_text().strip() == old_key


def test_production_requires_the_auth_string(monkeypatch):
    from pydantic import ValidationError

    from core.settings import Settings

    monkeypatch.delenv("PREFECT_API_AUTH_STRING", raising=False)
    with pytest.raises(ValidationError, match="FLOWYARD_PREFECT__AUTH_STRING"):
        Settings(environment="production", master_key=base64.b64encode(b"k" * 32).decode())
    monkeypatch.setenv("PREFECT_API_AUTH_STRING", "ops:secret")
    assert (
        Settings(environment="production", master_key=base64.b64encode(b"k" * 32).decode()).prefect.auth_string
        is not None
    )


# --- forged parameters and replays ---------------------------------------------------------------


def test_a_forged_batch_id_runs_nothing_of_another_tenants(stack, target_server):
    anonymous = Api(stack.api_url)
    alice, bob = anonymous.signup(), anonymous.signup()
    path = f"/forged-{uuid.uuid4().hex[:8]}"
    # Bob's batch waits in a pool no worker serves: only a forged flow run could run it.
    bobs = Workflow(stack, bob, calling_graph(target_server.url + path), f"idle-{uuid.uuid4().hex[:8]}")
    batch_id, _, _ = bobs.run_batch([{"n": 1}, {"n": 2}])
    before = executions_of_batch(stack, batch_id)
    assert {status for _, status in before} == {ExecutionStatus.BATCHED}
    _, alices = publish(alice, calling_graph(target_server.url + "/alice"))

    forged = wait_flow_run(stack, create_flow_run(stack, deployment_id(stack, alices), {"batch_id": batch_id}))

    assert forged["state_type"] == "FAILED"
    refusal = "is not a batch of this flow run's deployment"
    assert refusal in flow_run_logs(stack, forged["id"], refusal)
    assert executions_of_batch(stack, batch_id) == before
    assert all(step_rows(stack, execution_id) == 0 for execution_id, _ in before)
    assert not [r for r in target_server.requests if r.path == path]


def test_a_forged_schedule_tick_queues_nothing_for_another_workflow(stack, target_server):
    anonymous = Api(stack.api_url)
    alice, bob = anonymous.signup(), anonymous.signup()
    bobs_workflow, _ = publish(bob, calling_graph(target_server.url + "/bob"))
    _, alices = publish(alice, calling_graph(target_server.url + "/alice"))

    forged = wait_flow_run(stack, create_flow_run(stack, deployment_id(stack, alices), {"workflow_id": bobs_workflow}))

    assert forged["state_type"] == "FAILED"
    refusal = "is not the workflow of this flow run's deployment"
    assert refusal in flow_run_logs(stack, forged["id"], refusal)
    assert bob.get("/api/v1/runs", params={"workflow_id": bobs_workflow}).json() == []


def test_a_second_flow_run_of_a_finished_batch_runs_no_step_again(stack, target_server):
    alice = Api(stack.api_url).signup()
    path = f"/once-{uuid.uuid4().hex[:8]}"
    workflow, name = publish(alice, calling_graph(target_server.url + path))
    accepted = alice.post(f"/api/v1/workflows/{workflow}/runs", json={"input": {"n": 7}})
    assert accepted.status_code == 202, accepted.text
    run_id = accepted.json()["run_id"]
    assert alice.wait_for_run(run_id)["status"] == "completed"
    with get_session_factory(platform_db_url(stack))() as db:
        batch = db.get(Batch, db.get(Execution, run_id).batch_id)
        batch_id, first_flow_run = batch.id, batch.flow_run_id
    steps = step_rows(stack, run_id)

    replay = wait_flow_run(stack, create_flow_run(stack, deployment_id(stack, name), {"batch_id": batch_id}))
    retried = prefect(  # the Prefect UI's "Retry"
        stack,
        "POST",
        f"/flow_runs/{first_flow_run}/set_state",
        auth=stack.prefect_auth,
        json={"state": {"type": "SCHEDULED", "name": "AwaitingRetry"}, "force": True},
    )
    assert retried.status_code in (200, 201), retried.text
    time.sleep(1)
    again = wait_flow_run(stack, first_flow_run)

    assert replay["state_type"] == "COMPLETED" and again["state_type"] == "COMPLETED"
    assert len([r for r in target_server.requests if r.path == path]) == 1
    assert step_rows(stack, run_id) == steps
    assert alice.get(f"/api/v1/runs/{run_id}").json()["status"] == "completed"
