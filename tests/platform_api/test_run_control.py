"""Run control through the public API, on SQLite and PostgreSQL: cancelling a run (queued and waiting ones end
at once, with the step they stopped at; a pending approval is closed; again is the same answer; a finished one
is 409), cancelling every active run of a workflow, and disabling a workflow (live runs and events refused,
`disabled` shown). Who may do it, and only in their own workspace; each act is audited.

The runs are written straight into the database (the in-process API has no engine); on `flowyard up`
(`stack`): a running run stops at its next step boundary, a cancelled delay never fires, and a disabled
webhook workflow answers 410 until it is enabled."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from store import Batch, Execution, ExecutionStatus, Tenant, TriggerSubscription, Workflow, utcnow
from store.db import get_session_factory
from tests.conftest import InProcessApi
from tests.engine.support import platform_db_url as stack_db_url
from tests.engine.support import prefect_client
from tests.platform_api.test_auth import _problem
from tests.platform_rows import RunRows, add_workflow
from tests.support import Api, RecordingServer, edge, graph, node, publish_answer, steps_by_node

WAIT_GRAPH = {
    "nodes": [
        {"id": "start", "type": "trigger.manual", "config": {}},
        {"id": "ask", "type": "logic.approval", "config": {}},
        {"id": "say", "type": "util.log", "config": {"message": "hi"}},
    ],
    "edges": [{"id": "e1", "source": "start", "target": "ask"}, {"id": "e2", "source": "ask", "target": "say"}],
}


@pytest.fixture
def rows(platform_db_url: str, tenant: InProcessApi):
    """Write a published workflow of the tenant and its runs straight into the database."""

    class Rows(RunRows):
        def workflow(self) -> str:
            """Published, and listening for the event `order.paid`."""
            with self.sessions.begin() as db:
                owner = db.get_one(Tenant, tenant.signup_body["tenant"]["id"])
                workflow = add_workflow(db, owner, graph=WAIT_GRAPH)
                db.add(
                    TriggerSubscription(
                        tenant_id=owner.id, workflow_id=workflow.id, topic="event:order.paid", config={}
                    )
                )
                return workflow.id

    return Rows(platform_db_url, tenant.signup_body["tenant"]["id"])


def _with_role(tenant: InProcessApi, role: str) -> InProcessApi:
    created = tenant.post("/api/v1/api-keys", json={"name": role, "role": role})
    assert created.status_code == 201, created.text
    return InProcessApi(tenant.http, created.json()["key"])


def _audited(api: Api, action: str) -> list[str]:
    events = api.get("/api/v1/audit", params={"action": action})
    assert events.status_code == 200, events.text
    return [event["target"] for event in events.json()]


def test_a_queued_run_is_cancelled_at_once_and_cancelling_again_answers_the_same(tenant, rows):
    run_id = rows.run(rows.workflow())
    operator = _with_role(tenant, "operator")

    cancelled = operator.post(f"/api/v1/runs/{run_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json() == {"run_id": run_id, "status": "cancelled", "stopped_at": None}
    run = tenant.get(f"/api/v1/runs/{run_id}").json()
    assert run["status"] == "cancelled" and run["ended_at"] and run["stopped_at"] is None

    again = operator.post(f"/api/v1/runs/{run_id}/cancel")
    assert again.status_code == 200 and again.json() == cancelled.json()
    assert _audited(tenant, "run.cancelled") == [f"run:{run_id}"]  # once


def test_a_waiting_run_stops_at_its_step_and_its_approval_is_closed(tenant, rows):
    workflow_id = rows.workflow()
    run_id = rows.run(
        workflow_id, ExecutionStatus.WAITING, waiting_node_id="ask", resume_at=utcnow() + timedelta(hours=1)
    )
    rows.pending_approval(run_id, "ask")

    cancelled = tenant.post(f"/api/v1/runs/{run_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["stopped_at"] == "ask"
    run = tenant.get(f"/api/v1/runs/{run_id}").json()
    assert run["status"] == "cancelled" and run["stopped_at"] == "ask" and run["waiting_for"] is None
    approvals = tenant.get("/api/v1/approvals").json()
    assert [(a["run_id"], a["status"]) for a in approvals] == [(run_id, "cancelled")]
    decided = tenant.post(f"/api/v1/runs/{run_id}/approvals/ask", json={"decision": "approve"})
    assert decided.status_code == 409, decided.text  # nobody can answer it any more


@pytest.mark.parametrize("status", [ExecutionStatus.COMPLETED, ExecutionStatus.FAILED])
def test_a_finished_run_cannot_be_cancelled(tenant, rows, status):
    run_id = rows.run(rows.workflow(), status, ended_at=utcnow())
    body = _problem(tenant.post(f"/api/v1/runs/{run_id}/cancel"), 409, "run-finished")
    assert body["hint"]
    assert tenant.get(f"/api/v1/runs/{run_id}").json()["status"] == status


def test_only_operators_and_above_cancel_and_only_their_own_workspaces_runs(tenant, anonymous, rows):
    workflow_id = rows.workflow()
    run_id = rows.run(workflow_id)
    viewer = _with_role(tenant, "viewer")
    _problem(viewer.post(f"/api/v1/runs/{run_id}/cancel"), 403, "forbidden")
    _problem(viewer.post(f"/api/v1/workflows/{workflow_id}/cancel-runs"), 403, "forbidden")

    stranger = anonymous.signup()
    _problem(stranger.post(f"/api/v1/runs/{run_id}/cancel"), 404, "not-found")
    _problem(stranger.post(f"/api/v1/workflows/{workflow_id}/cancel-runs"), 404, "not-found")
    _problem(stranger.post(f"/api/v1/workflows/{workflow_id}/disable"), 404, "not-found")
    assert tenant.get(f"/api/v1/runs/{run_id}").json()["status"] == "pending"  # untouched


def test_cancelling_a_workflows_runs_ends_every_active_one_and_no_finished_one(tenant, rows):
    workflow_id, other_workflow = rows.workflow(), rows.workflow()
    active = [
        rows.run(workflow_id),
        rows.run(workflow_id, ExecutionStatus.BATCHED),
        rows.run(workflow_id, ExecutionStatus.WAITING, waiting_node_id="ask", resume_at=utcnow()),
    ]
    done = rows.run(workflow_id, ExecutionStatus.COMPLETED, ended_at=utcnow())
    elsewhere = rows.run(other_workflow)

    answer = tenant.post(f"/api/v1/workflows/{workflow_id}/cancel-runs")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"cancelled": 3}
    statuses = {run_id: tenant.get(f"/api/v1/runs/{run_id}").json()["status"] for run_id in [*active, done, elsewhere]}
    assert statuses == {**dict.fromkeys(active, "cancelled"), done: "completed", elsewhere: "pending"}
    assert sorted(_audited(tenant, "run.cancelled")) == sorted(f"run:{run_id}" for run_id in active)
    assert tenant.post(f"/api/v1/workflows/{workflow_id}/cancel-runs").json() == {"cancelled": 0}


def test_a_disabled_workflow_refuses_live_runs_and_events_and_says_so(tenant, rows):
    workflow_id = rows.workflow()
    operator, editor = _with_role(tenant, "operator"), _with_role(tenant, "editor")
    _problem(operator.post(f"/api/v1/workflows/{workflow_id}/disable"), 403, "forbidden")

    disabled = editor.post(f"/api/v1/workflows/{workflow_id}/disable")
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["disabled"] is True
    assert tenant.get(f"/api/v1/workflows/{workflow_id}").json()["disabled"] is True
    listed = {w["id"]: w["disabled"] for w in tenant.get("/api/v1/workflows").json()}
    assert listed[workflow_id] is True

    refused = _problem(
        operator.post(f"/api/v1/workflows/{workflow_id}/runs", json={"input": {}}), 409, "workflow-disabled"
    )
    assert f"/api/v1/workflows/{workflow_id}/enable" in refused["hint"]
    event = operator.post("/api/v1/events", json={"name": "order.paid", "payload": {}})
    assert event.status_code == 202, event.text
    (refused_run,) = event.json()["runs"]
    assert refused_run["workflow_id"] == workflow_id and refused_run["run_id"] is None
    assert "disabled" in refused_run["error"]
    assert tenant.get("/api/v1/runs", params={"workflow_id": workflow_id}).json() == []
    assert editor.post(f"/api/v1/workflows/{workflow_id}/disable").status_code == 200  # again: no change
    assert _audited(tenant, "workflow.disabled") == [f"workflow:{workflow_id}"]


# --- on `flowyard up` ---------------------------------------------------------------------------------------


def _wait_until(condition: Callable[[], object], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def _publish(api: Api, flow: dict) -> dict:
    return publish_answer(api, f"wf {uuid.uuid4().hex[:6]}", flow)


def _start(api: Api, workflow_id: str) -> str:
    accepted = api.post(f"/api/v1/workflows/{workflow_id}/runs", json={"input": {}})
    assert accepted.status_code == 202, accepted.text
    return accepted.json()["run_id"]


def _calls(target: RecordingServer, path: str) -> int:
    return sum(1 for request in target.requests if request.path.split("?")[0] == path)


def _batch_flow_run_state(stack, run_id: str) -> str | None:
    """The state of the Prefect flow run of the run's batch."""
    with get_session_factory(stack_db_url(stack))() as db:
        batch_id = db.scalar(select(Execution.batch_id).where(Execution.id == run_id))
        flow_run_id = db.scalar(select(Batch.flow_run_id).where(Batch.id == batch_id)) if batch_id else None
    if flow_run_id is None:
        return None
    with prefect_client(stack) as client:
        state = client.read_flow_run(flow_run_id).state
    return state.type.value if state else None


FINAL_FLOW_RUN_STATES = ("COMPLETED", "FAILED", "CANCELLED", "CRASHED")


def test_a_running_run_cancelled_mid_way_never_runs_its_next_steps(stack, target_server):
    api = Api(stack.api_url).signup()
    held, after = f"/held-{uuid.uuid4().hex[:8]}", f"/after-{uuid.uuid4().hex[:8]}"
    flow = graph(
        [
            node("start", "trigger.manual"),
            node("call", "http.request", {"url": f"{target_server.url}{held}?sleep=5", "timeout_seconds": 60}),
            node("next", "http.request", {"url": f"{target_server.url}{after}"}),
        ],
        [edge("start", "call"), edge("call", "next")],
    )
    workflow_id = _publish(api, flow)["id"]
    run_id = _start(api, workflow_id)

    def step_running() -> bool:
        run = api.get(f"/api/v1/runs/{run_id}").json()
        return any(s["node_id"] == "call" and s["status"] == "running" for s in run["steps"])

    _wait_until(step_running)
    cancelled = api.post(f"/api/v1/runs/{run_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["stopped_at"] == "call"

    _wait_until(lambda: _batch_flow_run_state(stack, run_id) in FINAL_FLOW_RUN_STATES)  # nothing more can run
    assert _batch_flow_run_state(stack, run_id) == "CANCELLED"  # its batch had no other run: Prefect's is cancelled
    run = api.get(f"/api/v1/runs/{run_id}").json()
    assert run["status"] == "cancelled" and run["stopped_at"] == "call"
    assert "next" not in {step["node_id"] for step in run["steps"]}
    assert _calls(target_server, after) == 0
    assert api.post(f"/api/v1/runs/{run_id}/cancel").status_code == 200  # still cancelled, still the same


def test_a_cancelled_delay_never_fires(stack, target_server):
    api = Api(stack.api_url).signup()
    after = f"/after-delay-{uuid.uuid4().hex[:8]}"
    flow = graph(
        [
            node("start", "trigger.manual"),
            node("pause", "logic.delay", {"mode": "duration", "seconds": 3}),
            node("send", "http.request", {"url": f"{target_server.url}{after}"}),
        ],
        [edge("start", "pause"), edge("pause", "send")],
    )
    workflow_id = _publish(api, flow)["id"]
    first = _start(api, workflow_id)
    _wait_until(lambda: api.get(f"/api/v1/runs/{first}").json()["status"] == "waiting")
    cancelled = api.post(f"/api/v1/runs/{first}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["stopped_at"] == "pause"

    second = _start(api, workflow_id)  # its delay ends after the cancelled one's would have
    assert api.wait_for_run(second)["status"] == "completed"
    assert _calls(target_server, after) == 1  # the second run's call only
    run = api.get(f"/api/v1/runs/{first}").json()
    assert run["status"] == "cancelled" and "send" not in {step["node_id"] for step in run["steps"]}


def test_a_disabled_webhook_workflow_answers_410_until_it_is_enabled(stack):
    api = Api(stack.api_url).signup()
    flow = graph(
        [node("hook", "trigger.webhook", {"auth": "bearer"}), node("log", "util.log", {"message": "x"})],
        [edge("hook", "log")],
    )
    published = _publish(api, flow)
    workflow_id, secret = published["id"], published["webhook_secret"]
    url = api.get(f"/api/v1/workflows/{workflow_id}/webhook").json()["url"]

    def deliver() -> httpx.Response:
        return httpx.post(url, json={"n": 1}, headers={"Authorization": f"Bearer {secret}"}, timeout=30)

    assert api.post(f"/api/v1/workflows/{workflow_id}/disable").json()["disabled"] is True
    refused = _problem(deliver(), 410, "workflow-disabled")
    assert refused["hint"]
    assert api.get("/api/v1/runs", params={"workflow_id": workflow_id}).json() == []

    enabled = api.post(f"/api/v1/workflows/{workflow_id}/enable")
    assert enabled.status_code == 200 and enabled.json()["disabled"] is False
    accepted = deliver()
    assert accepted.status_code == 202, accepted.text
    assert api.wait_for_run(accepted.json()["run_id"])["status"] == "completed"
    assert _audited(api, "workflow.enabled") == [f"workflow:{workflow_id}"]


def test_a_disabled_workflows_schedules_pause_in_prefect_and_resume_when_it_is_enabled(stack):
    api = Api(stack.api_url).signup()
    flow = graph(
        [
            node("tick", "trigger.schedule", {"schedules": [{"cron": "30 2 * * *"}]}),
            node("log", "util.log", {"message": "tick"}),
        ],
        [edge("tick", "log")],
    )
    workflow_id = _publish(api, flow)["id"]
    with get_session_factory(stack_db_url(stack))() as db:
        deployment_id = db.scalar(select(Workflow.deployment_id).where(Workflow.id == workflow_id))

    def schedules_active() -> list[bool]:
        with prefect_client(stack) as client:
            return [schedule.active for schedule in client.read_deployment(deployment_id).schedules]

    assert schedules_active() == [True]
    assert api.post(f"/api/v1/workflows/{workflow_id}/disable").status_code == 200
    assert schedules_active() == [False]
    assert api.post(f"/api/v1/workflows/{workflow_id}/enable").status_code == 200
    assert schedules_active() == [True]


def test_only_an_ended_run_of_ones_own_workspace_is_retried_or_replayed(tenant, anonymous, rows):
    workflow_id = rows.workflow()
    active = rows.run(workflow_id, ExecutionStatus.RUNNING)
    completed = rows.run(workflow_id, ExecutionStatus.COMPLETED)

    refused = tenant.post(f"/api/v1/runs/{active}/retry", json={"from": "start"})
    _problem(refused, 409, "run-active")
    no_failed_step = tenant.post(f"/api/v1/runs/{completed}/retry", json={"from": "failed_step"})
    assert '"from": "start"' in _problem(no_failed_step, 409, "no-failed-step")["hint"]
    unknown = tenant.post(f"/api/v1/runs/{completed}/replay", json={"version": 99})
    assert _problem(unknown, 422, "unknown-version")["errors"][0]["path"] == "version"
    bad_body = tenant.post(f"/api/v1/runs/{completed}/retry", json={"from": "middle"})
    assert bad_body.status_code == 422
    viewer = _with_role(tenant, "viewer")
    assert viewer.post(f"/api/v1/runs/{completed}/replay", json={}).status_code == 403

    stranger = anonymous.signup()
    for path in (f"/api/v1/runs/{completed}/replay", f"/api/v1/runs/{completed}/retry"):
        assert stranger.post(path, json={}).status_code == 404  # another workspace's run does not exist for it
    assert stranger.get(f"/api/v1/runs/{completed}/replay/preview").status_code == 404
    runs = tenant.get("/api/v1/runs", params={"workflow_id": workflow_id}).json()
    assert len(runs) == 2  # nothing was started


def test_a_replay_names_the_steps_that_act_again_and_is_linked_to_its_run(tenant, rows):
    workflow_id = rows.workflow()
    original = rows.run(workflow_id, ExecutionStatus.COMPLETED, input={"email": "ada@example.com"})
    preview = tenant.get(f"/api/v1/runs/{original}/replay/preview")
    assert preview.status_code == 200, preview.text
    assert preview.json() == {"version": 1, "reused_steps": [], "side_effects": []}  # WAIT_GRAPH sends nothing

    replayed = tenant.post(f"/api/v1/runs/{original}/replay", json={})
    assert replayed.status_code == 202, replayed.text
    new_run = tenant.get(f"/api/v1/runs/{replayed.json()['run_id']}").json()
    assert new_run["retry_of"] == original and new_run["trigger"] == "replay" and new_run["status"] == "pending"
    assert _audited(tenant, "run.replayed") == [f"run:{new_run['id']}"]
    listed = tenant.get("/api/v1/runs", params={"trigger": "replay"}).json()
    assert [run["id"] for run in listed] == [new_run["id"]]


def _idempotency_keys(target: RecordingServer, path: str) -> list[str]:
    return [r.headers.get("Idempotency-Key", "") for r in target.requests if r.path.split("?")[0] == path]


def test_a_retry_from_the_failed_step_reuses_earlier_outputs_and_sends_only_from_there(stack, target_server):
    api = Api(stack.api_url).signup()
    tag = uuid.uuid4().hex[:8]
    first, flaky, last = f"/first-{tag}", f"/flaky-{tag}", f"/last-{tag}"
    target_server.responses[flaky] = (422, {"content-type": "application/json"}, b'{"error": "bad lead"}')
    post = {"method": "POST", "json_body": {"lead": "{{ trigger.email }}"}}
    flow = graph(
        [
            node("start", "trigger.manual"),
            node("first", "http.request", {**post, "url": target_server.url + first}),
            node("flaky", "http.request", {**post, "url": target_server.url + flaky}),
            node("last", "http.request", {**post, "url": target_server.url + last}),
        ],
        [edge("start", "first"), edge("first", "flaky"), edge("flaky", "last")],
    )
    workflow_id = _publish(api, flow)["id"]
    accepted = api.post(f"/api/v1/workflows/{workflow_id}/runs", json={"input": {"email": "ada@example.com"}})
    original = api.wait_for_run(accepted.json()["run_id"])
    assert original["status"] == "failed" and original["error"]["node_id"] == "flaky"

    preview = api.get(f"/api/v1/runs/{original['id']}/retry/preview").json()
    assert preview["reused_steps"] == ["first", "start"]
    assert [(s["node_id"], s["effect"]) for s in preview["side_effects"]] == [
        ("flaky", "HTTP POST"),
        ("last", "HTTP POST"),
    ]
    del target_server.responses[flaky]  # the service is fixed
    retried = api.post(f"/api/v1/runs/{original['id']}/retry", json={"from": "failed_step"})
    assert retried.status_code == 202, retried.text
    run = api.wait_for_run(retried.json()["run_id"])

    assert run["status"] == "completed" and run["retry_of"] == original["id"] and run["trigger"] == "retry"
    assert steps_by_node(run)["first"]["output"] == steps_by_node(original)["first"]["output"]  # reused
    assert (_calls(target_server, first), _calls(target_server, flaky), _calls(target_server, last)) == (1, 2, 1)
    old_key, new_key = _idempotency_keys(target_server, flaky)
    assert old_key.startswith(original["id"]) and new_key.startswith(run["id"])  # keys of the new run


def test_a_replay_runs_the_same_input_on_a_new_version(stack, target_server):
    api = Api(stack.api_url).signup()
    path = f"/replay-{uuid.uuid4().hex[:8]}"

    def flow(greeting: str) -> dict:
        return graph(
            [
                node("start", "trigger.manual"),
                node("say", "util.log", {"message": f"{greeting} {{{{ trigger.name }}}}"}),
                node("tell", "http.request", {"method": "PUT", "url": target_server.url + path}),
            ],
            [edge("start", "say"), edge("say", "tell")],
        )

    workflow_id = _publish(api, flow("Hello"))["id"]
    accepted = api.post(f"/api/v1/workflows/{workflow_id}/runs", json={"input": {"name": "Ada"}})
    original = api.wait_for_run(accepted.json()["run_id"])
    assert steps_by_node(original)["say"]["output"]["message"] == "Hello Ada"
    saved = api.put(f"/api/v1/workflows/{workflow_id}", json={"graph": flow("Welcome back")})
    assert saved.status_code == 200 and saved.json()["version"] == 2, saved.text

    preview = api.get(f"/api/v1/runs/{original['id']}/replay/preview", params={"version": 2}).json()
    assert preview["version"] == 2 and [s["node_id"] for s in preview["side_effects"]] == ["tell"]
    replayed = api.post(f"/api/v1/runs/{original['id']}/replay", json={"version": 2})
    assert replayed.status_code == 202, replayed.text
    run = api.wait_for_run(replayed.json()["run_id"])
    assert run["status"] == "completed" and run["version"] == 2 and run["retry_of"] == original["id"]
    assert steps_by_node(run)["say"]["output"]["message"] == "Welcome back Ada"
    assert _calls(target_server, path) == 2
