"""Webhooks that answer with the result: `respond: when_done` on trigger.webhook, the `webhook.respond` step, and
`POST /api/v1/workflows/{id}/runs?wait=`, through real HTTP on the whole platform."""

from __future__ import annotations

import json
import uuid

import httpx

from platform_api.triggers.signatures import sign
from tests.support import Api, edge, graph, node, publish_answer


def _publish(api: Api, flow: dict) -> dict:
    return publish_answer(api, f"wf {uuid.uuid4().hex[:6]}", flow)


def _deliver(api: Api, published: dict, payload: dict, delivery_id: str | None = None) -> httpx.Response:
    url = api.get(f"/api/v1/workflows/{published['id']}/webhook").json()["url"]
    body = json.dumps(payload).encode()
    delivery_id = delivery_id or uuid.uuid4().hex
    headers = {
        "content-type": "application/json",
        "X-Delivery-Id": delivery_id,
        "X-Flowyard-Signature": sign(published["webhook_secret"], body, delivery_id=delivery_id),
    }
    return httpx.post(url, content=body, headers=headers, timeout=60)


def _hook(**config) -> dict:
    return node("hook", "trigger.webhook", {"respond": "when_done", **config})


def test_the_respond_step_answers_the_delivery_while_the_run_goes_on(stack):
    api = Api(stack.api_url).signup()
    respond = {
        "status_code": 201,
        "headers": {"X-Order": "{{ trigger.body.order }}", "Cache-Control": "no-store"},
        "body": "{{ {'order': trigger.body.order, 'status': 'shipped'} }}",
    }
    flow = graph(
        [_hook(), node("answer", "webhook.respond", respond), node("later", "logic.delay", {"minutes": 30})],
        [edge("hook", "answer"), edge("answer", "later")],
    )
    published = _publish(api, flow)

    answered = _deliver(api, published, {"order": "1042"}, delivery_id="order-1042")

    assert answered.status_code == 201, answered.text
    assert answered.json() == {"order": "1042", "status": "shipped"}
    assert answered.headers["content-type"] == "application/json"
    assert answered.headers["x-order"] == "1042" and answered.headers["cache-control"] == "no-store"
    assert answered.headers["content-security-policy"].startswith("sandbox")  # a document of no origin
    [run] = api.get("/api/v1/runs", params={"workflow_id": published["id"]}).json()
    assert run["status"] in ("running", "waiting")  # answered before the run ended: it waits 30 minutes now
    again = _deliver(api, published, {"order": "1042"}, delivery_id="order-1042")  # the sender retried
    assert again.status_code == 201 and again.json() == answered.json()
    assert len(api.get("/api/v1/runs", params={"workflow_id": published["id"]}).json()) == 1


def test_without_a_respond_step_the_completed_runs_last_output_is_the_answer(stack):
    api = Api(stack.api_url).signup()
    flow = graph(
        [_hook(), node("log", "util.log", {"message": "hello {{ trigger.body.name }}"})], [edge("hook", "log")]
    )
    published = _publish(api, flow)

    answered = _deliver(api, published, {"name": "Ada"})

    assert answered.status_code == 200, answered.text
    assert answered.json() == {
        "run_id": answered.json()["run_id"],
        "status": "completed",
        "output": {"message": "hello Ada"},
    }
    assert api.get(f"/api/v1/runs/{answered.json()['run_id']}").json()["status"] == "completed"


def test_a_failed_run_is_a_problem_and_a_run_that_waits_is_accepted(stack):
    api = Api(stack.api_url).signup()
    broken = graph(
        [_hook(), node("log", "util.log", {"message": "{{ trigger.body.missing.deeper }}"})], [edge("hook", "log")]
    )
    failed = _deliver(api, _publish(api, broken), {"name": "Ada"})
    assert failed.status_code == 500 and failed.headers["content-type"] == "application/problem+json"
    assert failed.json()["type"].endswith("/run-failed") and "GET /api/v1/runs/" in failed.json()["hint"]

    waits = graph(
        [_hook(), node("later", "logic.delay", {"minutes": 30}), node("answer", "webhook.respond", {"body": "ok"})],
        [edge("hook", "later"), edge("later", "answer")],
    )
    accepted = _deliver(api, _publish(api, waits), {})
    assert accepted.status_code == 202 and set(accepted.json()) == {"run_id", "duplicate"}
    assert api.get(f"/api/v1/runs/{accepted.json()['run_id']}").json()["status"] == "waiting"


def test_a_run_request_with_wait_gets_the_answer(stack):
    api = Api(stack.api_url).signup()
    flow = graph(
        [
            node("start", "trigger.manual"),
            node(
                "answer", "webhook.respond", {"headers": {"Content-Type": "text/csv"}, "body": "id\n{{ trigger.id }}"}
            ),
        ],
        [edge("start", "answer")],
    )
    workflow_id = _publish(api, flow)["id"]

    answered = api.post(f"/api/v1/workflows/{workflow_id}/runs", params={"wait": 30}, json={"input": {"id": 7}})

    assert answered.status_code == 200, answered.text
    assert answered.headers["content-type"].startswith("text/csv") and answered.text == "id\n7"
    at_once = api.post(f"/api/v1/workflows/{workflow_id}/runs", json={"input": {"id": 8}})
    assert at_once.status_code == 202 and at_once.json()["status"] == "pending"


def test_a_respond_step_may_not_set_cookies_redirect_or_security_headers(stack):
    api = Api(stack.api_url).signup()
    answer = {"status_code": 302, "headers": {"Set-Cookie": "session=x", "X-Frame-Options": "ALLOW"}}
    flow = graph([_hook(), node("answer", "webhook.respond", answer)], [edge("hook", "answer")])
    refused = api.post("/api/v1/workflows", json={"name": "Sneaky", "graph": flow})

    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
    paths = {error.get("path") for error in refused.json()["errors"]}
    assert {
        "graph.nodes[1].config.headers.Set-Cookie",
        "graph.nodes[1].config.headers.X-Frame-Options",
        "graph.nodes[1].config.status_code",
    } <= paths, refused.json()["errors"]
