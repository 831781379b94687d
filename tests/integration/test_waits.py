"""Durable waits: a delay that outlives its worker, and approvals answered, timed out and by link.
While an execution waits, no flow run and no worker slot is held."""

from __future__ import annotations

import time

import httpx

from tests.support import Api, edge, graph, node, steps_by_node


def _wait_for_status(api: Api, run_id: str, status: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = api.get(f"/api/v1/runs/{run_id}").json()
        if run["status"] == status:
            return run
        assert run["status"] not in ("failed", "completed"), run
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} never became {status}")


def _running_flow_runs(stack) -> int:
    body = {"flow_runs": {"state": {"type": {"any_": ["RUNNING", "PENDING"]}}}}
    response = httpx.post(stack.prefect_url + "/flow_runs/filter", json=body, timeout=10, auth=stack.prefect_auth)
    return len(response.json())


def _start(api: Api, name: str, flow: dict, payload: dict) -> str:
    workflow = api.post("/api/v1/workflows", json={"name": name, "graph": flow}).json()
    assert api.post(f"/api/v1/workflows/{workflow['id']}/publish").status_code == 200
    return api.post(f"/api/v1/workflows/{workflow['id']}/runs", json={"input": payload}).json()["run_id"]


def test_delay_survives_a_worker_restart_with_earlier_outputs_intact(restartable_stack):
    stack = restartable_stack
    stack.start_worker()
    api = Api(stack.api_url).signup()
    flow = graph(
        [
            node("start", "trigger.manual"),
            node("before", "data.transform", {"fields": {"greeting": "Hi {{ trigger.name }}"}}),
            node("pause", "logic.delay", {"mode": "duration", "seconds": 6}),
            node("after", "util.log", {"message": "{{ steps.before.output.greeting }}, again"}),
        ],
        [edge("start", "before"), edge("before", "pause"), edge("pause", "after")],
    )
    run_id = _start(api, "Nurture", flow, {"name": "Ada"})

    waiting = _wait_for_status(api, run_id, "waiting")
    assert waiting["waiting_for"]["node_id"] == "pause"
    assert steps_by_node(waiting)["pause"]["status"] == "waiting"
    stack.stop_worker()
    time.sleep(1)
    assert _running_flow_runs(stack) == 0, "a waiting execution must not hold a flow run"

    time.sleep(7)  # the delay is over while no worker runs: the execution must still be there
    assert api.get(f"/api/v1/runs/{run_id}").json()["status"] in ("pending", "waiting")
    stack.start_worker()
    run = api.wait_for_run(run_id)

    assert run["status"] == "completed", run["error"]
    steps = steps_by_node(run)
    assert steps["before"]["output"] == {"greeting": "Hi Ada"}
    assert steps["after"]["output"] == {"message": "Hi Ada, again"}
    assert steps["pause"]["status"] == "completed" and steps["pause"]["output"]["resumed_at"]
    assert [s["node_id"] for s in run["steps"]] == ["start", "before", "pause", "after"]


def _approval_flow() -> dict:
    return graph(
        [
            node("start", "trigger.manual"),
            node(
                "ask",
                "logic.approval",
                {"message": "Discount for {{ trigger.name }}?", "timeout_hours": "{{ trigger.hours }}"},
            ),
            node("yes", "util.log", {"message": "approved by {{ steps.ask.output.decided_by }}"}),
            node("no", "util.log", {"message": "rejected: {{ steps.ask.output.comment }}"}),
            node("late", "util.log", {"message": "nobody answered"}),
        ],
        [
            edge("start", "ask"),
            edge("ask", "yes", "approved"),
            edge("ask", "no", "rejected"),
            edge("ask", "late", "timeout"),
        ],
    )


def test_approvals_approved_rejected_by_link_and_timed_out(stack):
    anonymous = Api(stack.api_url)
    api, other = anonymous.signup(), anonymous.signup()
    workflow = api.post("/api/v1/workflows", json={"name": "Discounts", "graph": _approval_flow()}).json()
    assert api.post(f"/api/v1/workflows/{workflow['id']}/publish").status_code == 200

    def start(payload):
        return api.post(f"/api/v1/workflows/{workflow['id']}/runs", json={"input": payload}).json()["run_id"]

    approved_id, linked_id, late_id = (
        start({"name": "Ada", "hours": 1}),
        start({"name": "Bo", "hours": 1}),
        start({"name": "Cy", "hours": 0.001}),
    )

    waiting = _wait_for_status(api, approved_id, "waiting")
    assert steps_by_node(waiting)["ask"]["output"]["message"] == "Discount for Ada?"
    pending = api.get("/api/v1/approvals", params={"status": "pending"}).json()
    assert approved_id in {a["run_id"] for a in pending}
    assert other.post(f"/api/v1/runs/{approved_id}/approvals/ask", json={"decision": "approve"}).status_code == 404
    viewer = Api(stack.api_url, api.post("/api/v1/api-keys", json={"name": "v", "role": "viewer"}).json()["key"])
    assert viewer.post(f"/api/v1/runs/{approved_id}/approvals/ask", json={"decision": "approve"}).status_code == 403
    answer = api.post(f"/api/v1/runs/{approved_id}/approvals/ask", json={"decision": "approve", "comment": "ok"})
    assert answer.status_code == 200 and answer.json()["status"] == "approved"
    again = api.post(f"/api/v1/runs/{approved_id}/approvals/ask", json={"decision": "reject"})
    assert again.status_code == 409

    output = steps_by_node(_wait_for_status(api, linked_id, "waiting"))["ask"]["output"]
    assert "/approvals/" not in output["approval_url"]  # the run's page: step output holds no link
    assert viewer.post(f"/api/v1/runs/{linked_id}/approvals/ask/link").status_code == 403
    first = api.post(f"/api/v1/runs/{linked_id}/approvals/ask/link").json()["url"]
    link = api.post(f"/api/v1/runs/{linked_id}/approvals/ask/link").json()["url"]  # replaces the first
    assert httpx.get(first).status_code == 404
    page = httpx.get(link)
    assert page.status_code == 200 and "Discount for Bo?" in page.text
    assert httpx.post(link, data={"decision": "reject", "comment": "too generous"}).status_code == 200
    assert httpx.post(link, data={"decision": "approve"}).status_code == 410

    approved, linked, late = (api.wait_for_run(run_id) for run_id in (approved_id, linked_id, late_id))
    assert steps_by_node(approved)["yes"]["output"]["message"] == f"approved by {api.signup_body['user']['email']}"
    assert steps_by_node(linked)["no"]["output"]["message"] == "rejected: too generous"
    assert set(steps_by_node(late)) == {"start", "ask", "late"}
    assert steps_by_node(late)["ask"]["handle"] == "timeout"
