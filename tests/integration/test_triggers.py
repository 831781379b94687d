"""Triggers through the public API and real HTTP: signed webhooks, a burst under a concurrency
limit, conflict policies, named events, schedules (ticks, preview across DST, pause) and a
trigger change that notifies the owners."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
from prefect.client.orchestration import SyncPrefectClient

from platform_api.triggers.signatures import sign
from tests.support import Api, edge, graph, node, steps_by_node


def _publish(api: Api, name: str, flow: dict) -> dict:
    workflow = api.post("/api/v1/workflows", json={"name": name, "graph": flow}).json()
    published = api.post(f"/api/v1/workflows/{workflow['id']}/publish")
    assert published.status_code == 200, published.text
    return published.json()


def _runs(api: Api, workflow_id: str) -> list[dict]:
    return api.get("/api/v1/runs", params={"workflow_id": workflow_id, "limit": 500}).json()


def _wait_all(api: Api, workflow_id: str, count: int, timeout: float = 240) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = _runs(api, workflow_id)
        if len(runs) >= count and all(r["status"] in ("completed", "failed", "cancelled") for r in runs):
            return runs
        time.sleep(0.5)
    raise AssertionError(f"not all {count} runs ended: {[r['status'] for r in _runs(api, workflow_id)]}")


def _max_overlap(runs: list[dict]) -> int:
    edges = sorted(
        [(r["started_at"], 1) for r in runs if r["started_at"]] + [(r["ended_at"], -1) for r in runs if r["ended_at"]],
        key=lambda e: (e[0], e[1]),
    )
    current = peak = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


def _webhook_flow(**config) -> dict:
    return graph(
        [
            node("hook", "trigger.webhook", config),
            node("log", "util.log", {"message": "lead {{ trigger.body.email }}"}),
        ],
        [edge("hook", "log")],
    )


def test_signed_webhook_starts_a_run_and_bad_deliveries_do_not(stack):
    api = Api(stack.api_url).signup()
    schema = {"type": "object", "required": ["email"], "properties": {"email": {"type": "string"}}}
    published = _publish(api, "Hook", _webhook_flow(payload_schema=schema))
    secret = published["webhook_secret"]
    assert secret.startswith("whsec_")
    url = api.get(f"/api/v1/workflows/{published['id']}/webhook").json()["url"]
    assert url.startswith(stack.api_url + "/hooks/")
    assert "/hooks/" in url and "secret" not in api.get(f"/api/v1/workflows/{published['id']}").json()["graph"]
    body = json.dumps({"email": "ada@example.com"}).encode()

    def deliver(payload: bytes, signature: str | None, delivery: str | None = None) -> httpx.Response:
        headers = {"content-type": "application/json"}
        headers.update({"X-Flowyard-Signature": signature} if signature else {})
        headers.update({"X-Delivery-Id": delivery} if delivery else {})
        return httpx.post(url, content=payload, headers=headers)

    accepted = deliver(body, sign(secret, body, delivery_id="d-1"), delivery="d-1")  # v2: signs the id too
    assert accepted.status_code == 202, accepted.text
    again = deliver(body, sign(secret, body, stamp=int(time.time()) - 1, delivery_id="d-1"), delivery="d-1")
    assert again.status_code == 202 and again.json() == {"run_id": accepted.json()["run_id"], "duplicate": True}
    replayed = deliver(body, sign(secret, body, delivery_id="d-1"), delivery="d-9")  # the id is not the signed one
    assert replayed.status_code == 401, replayed.text

    tampered = body.replace(b"ada", b"eve")
    for response, status in [
        (deliver(body, None), 401),
        (deliver(tampered, sign(secret, body)), 401),
        (deliver(body, sign(secret, body, stamp=int(time.time()) - 600)), 401),
        (deliver(body, sign("whsec_wrong", body)), 401),
        (deliver(b'{"name": "no email"}', sign(secret, b'{"name": "no email"}')), 422),
        (deliver(b"x" * 300_000, sign(secret, b"x" * 300_000)), 413),
        (httpx.post(url.rsplit("/", 1)[0] + f"/{uuid.uuid4()}", content=body), 404),
    ]:
        assert response.status_code == status, (status, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")

    run = api.wait_for_run(accepted.json()["run_id"])
    assert run["status"] == "completed"
    assert steps_by_node(run)["log"]["output"]["message"] == "lead ada@example.com"
    assert len(_runs(api, published["id"])) == 1

    rotated = api.post(f"/api/v1/workflows/{published['id']}/webhook/rotate", json={}).json()
    assert deliver(body, sign(secret, body)).status_code == 401
    assert deliver(body, sign(rotated["secret"], body), delivery="d-2").status_code == 202


def test_a_burst_of_500_deliveries_gives_500_runs_within_the_limit(stack):
    api = Api(stack.api_url).signup()
    published = _publish(api, "Burst", _webhook_flow(auth="bearer", rate_limit_per_minute=10_000))
    assert (
        api.put(
            f"/api/v1/workflows/{published['id']}", json={"conflict_policy": "parallel", "max_parallel": 25}
        ).status_code
        == 200
    )
    url = api.get(f"/api/v1/workflows/{published['id']}/webhook").json()["url"]
    secret = published["webhook_secret"]

    def deliver(i: int) -> int:
        response = httpx.post(
            url,
            json={"email": f"lead{i}@example.com"},
            timeout=60,
            headers={"Authorization": f"Bearer {secret}", "X-Delivery-Id": f"burst-{i}"},
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(deliver, range(500)))
    assert statuses == [202] * 500
    runs = _wait_all(api, published["id"], 500, timeout=600)
    assert len(runs) == 500 and {r["status"] for r in runs} == {"completed"}
    assert _max_overlap(runs) <= 25


def test_an_endpoints_rate_limit_counts_signed_deliveries_only(stack):
    api = Api(stack.api_url).signup()
    published = _publish(api, "Limited", _webhook_flow(auth="bearer", rate_limit_per_minute=3))
    url = api.get(f"/api/v1/workflows/{published['id']}/webhook").json()["url"]

    def deliver(secret: str | None) -> httpx.Response:
        return httpx.post(url, json={"email": "a@example.com"}, headers={"Authorization": f"Bearer {secret}"})

    assert [deliver("forged").status_code for _ in range(5)] == [401] * 5  # checked first, counted nowhere
    assert [deliver(published["webhook_secret"]).status_code for _ in range(3)] == [202] * 3
    limited = deliver(published["webhook_secret"])
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert limited.headers["content-type"].startswith("application/problem+json")
    assert deliver("forged").status_code == 401


def _slow_flow(target_server, seconds: float) -> dict:
    return graph(
        [
            node("start", "trigger.manual"),
            node("call", "http.request", {"url": f"{target_server.url}/slow?sleep={seconds}"}),
        ],
        [edge("start", "call")],
    )


def test_conflict_policies_queue_skip_and_parallel(stack, target_server):
    api = Api(stack.api_url).signup()
    outcomes = {}
    for policy, limit, seconds in (("queue", None, 1.5), ("skip", None, 1.5), ("parallel", 2, 5)):
        published = _publish(api, f"Policy {policy}", _slow_flow(target_server, seconds))
        api.put(f"/api/v1/workflows/{published['id']}", json={"conflict_policy": policy, "max_parallel": limit})
        for _ in range(3):
            assert api.post(f"/api/v1/workflows/{published['id']}/runs", json={"input": {}}).status_code == 202
        outcomes[policy] = _wait_all(api, published["id"], 3)
    assert [r["status"] for r in outcomes["queue"]] == ["completed"] * 3
    assert _max_overlap(outcomes["queue"]) == 1
    skipped = [r for r in outcomes["skip"] if r["status"] == "cancelled"]
    assert len(skipped) == 2 and "Skipped" in skipped[0]["error"]["message"]
    assert [r["status"] for r in outcomes["parallel"]] == ["completed"] * 3
    assert _max_overlap(outcomes["parallel"]) == 2, [(r["started_at"], r["ended_at"]) for r in outcomes["parallel"]]


def test_named_events_start_subscribed_workflows_once_per_id_and_trigger_edits_notify(stack):
    api = Api(stack.api_url).signup()
    flow = graph(
        [
            node("on", "trigger.event", {"event": "order.paid"}),
            node("log", "util.log", {"message": "order {{ trigger.payload.order_id }}"}),
        ],
        [edge("on", "log")],
    )
    published = _publish(api, "On payment", flow)
    first = api.post("/api/v1/events", json={"name": "order.paid", "id": "evt-1", "payload": {"order_id": 7}})
    assert first.status_code == 202
    (started,) = first.json()["runs"]
    repeat = api.post("/api/v1/events", json={"name": "order.paid", "id": "evt-1", "payload": {"order_id": 7}})
    assert repeat.json()["runs"][0] == {**started, "duplicate": True}
    assert api.post("/api/v1/events", json={"name": "order.refunded", "payload": {}}).json()["runs"] == []
    assert steps_by_node(api.wait_for_run(started["run_id"]))["log"]["output"]["message"] == "order 7"

    flow["nodes"][0]["config"]["event"] = "order.shipped"
    api.put(f"/api/v1/workflows/{published['id']}", json={"graph": flow})
    assert api.post(f"/api/v1/workflows/{published['id']}/publish").status_code == 200
    assert api.post("/api/v1/events", json={"name": "order.paid", "payload": {}}).json()["runs"] == []
    assert (
        len(api.post("/api/v1/events", json={"name": "order.shipped", "payload": {"order_id": 8}}).json()["runs"]) == 1
    )
    (note,) = [n for n in api.get("/api/v1/notifications").json() if n["kind"] == "trigger_changed"]
    assert "order.paid" in note["body"] and "order.shipped" in note["body"]
    assert api.signup_body["user"]["email"] in note["body"]


def test_schedules_are_prefect_schedules_with_a_dst_aware_preview_and_pause(stack):
    api = Api(stack.api_url).signup()
    assert api.request("PATCH", "/api/v1/tenant", json={"time_zone": "Europe/Berlin"}).status_code == 200
    flow = graph(
        [
            node("tick", "trigger.schedule", {"schedules": [{"cron": "30 2 * * *"}]}),
            node("log", "util.log", {"message": "tick at {{ trigger.scheduled_at }}"}),
        ],
        [edge("tick", "log")],
    )
    published = _publish(api, "Nightly", flow)

    preview = api.get(
        f"/api/v1/workflows/{published['id']}/schedule/preview", params={"count": 4, "start": "2026-03-27T00:00:00Z"}
    ).json()
    assert [f["local"] for f in preview["fires"]] == [
        "2026-03-27T02:30:00+01:00",
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:30:00+02:00",  # 02:30 does not exist that night: one hour later by the clock
        "2026-03-30T02:30:00+02:00",
    ]
    autumn = api.get(
        f"/api/v1/workflows/{published['id']}/schedule/preview", params={"count": 3, "start": "2026-10-24T12:00:00Z"}
    ).json()
    assert [f["utc"] for f in autumn["fires"]] == [  # 02:30 happens twice on the 25th: it fires once
        "2026-10-25T00:30:00+00:00",
        "2026-10-26T01:30:00+00:00",
        "2026-10-27T01:30:00+00:00",
    ]

    deployment = httpx.post(
        stack.prefect_url + "/deployments/filter",
        json={"deployments": {"name": {"any_": [published["deployment_name"]]}}},
        auth=stack.prefect_auth,
    ).json()[0]
    (schedule,) = deployment["schedules"]
    assert schedule["schedule"]["cron"] == "30 2 * * *" and schedule["schedule"]["timezone"] == "Europe/Berlin"
    assert schedule["active"] is True

    # what the scheduler does; the client retries a 503
    with SyncPrefectClient(stack.prefect_url, auth_string=stack.auth_string) as client:
        client.create_flow_run_from_deployment(deployment["id"], parameters={"workflow_id": published["id"]})
    (run,) = _wait_all(api, published["id"], 1)
    assert run["status"] == "completed"

    assert api.post(f"/api/v1/workflows/{published['id']}/schedule/pause").json() == {"paused": True}
    deployment = httpx.get(f"{stack.prefect_url}/deployments/{deployment['id']}", auth=stack.prefect_auth).json()
    assert [s["active"] for s in deployment["schedules"]] == [False]
    bad = graph(
        [
            node("tick", "trigger.schedule", {"schedules": [{"cron": "61 * * * *", "timezone": "Mars/Base"}]}),
            node("log", "util.log", {"message": "x"}),
        ],
        [edge("tick", "log")],
    )
    problem = api.post("/api/v1/workflows", json={"name": "Bad cron", "graph": bad})
    assert problem.status_code == 422
    assert {e["path"] for e in problem.json()["errors"]} == {"graph.nodes[0].config.schedules[0].timezone"}


def _platform_db(stack) -> str:
    return stack.env.get("FLOWYARD_DATABASE_URL") or f"sqlite:///{stack.home / 'platform.db'}"


def test_a_deal_moved_to_won_starts_exactly_one_run_also_after_a_redelivery(stack):
    from sqlalchemy import update

    from store import Outbox
    from store.db import get_session_factory

    api = Api(stack.api_url).signup()
    flow = graph(
        [
            node(
                "won",
                "trigger.data_change",
                {
                    "record_type": "deal",
                    "event": "field_changed",
                    "field": "stage",
                    "to": "won",
                    "filter": "record.amount > 100",
                },
            ),
            node("log", "util.log", {"message": "{{ trigger.record.title }} was {{ trigger.before.stage }}"}),
        ],
        [edge("won", "log")],
    )
    published = _publish(api, "Deal won", flow)
    deal = api.post("/api/v1/crm/deals", json={"title": "Acme renewal", "amount": 1200}).json()
    small = api.post("/api/v1/crm/deals", json={"title": "Tiny", "amount": 50}).json()
    assert api.request("PATCH", f"/api/v1/crm/deals/{deal['id']}", json={"stage": "negotiation"}).status_code == 200
    assert api.request("PATCH", f"/api/v1/crm/deals/{small['id']}", json={"stage": "won"}).status_code == 200
    assert api.request("PATCH", f"/api/v1/crm/deals/{deal['id']}", json={"stage": "won"}).status_code == 200

    (run,) = _wait_all(api, published["id"], 1)
    assert run["status"] == "completed"
    run = api.get(f"/api/v1/runs/{run['id']}").json()
    assert steps_by_node(run)["log"]["output"]["message"] == "Acme renewal was negotiation"

    with get_session_factory(_platform_db(stack))() as db:  # as if a dispatcher died before it could know
        db.execute(update(Outbox).values(dispatched_at=None))
        db.commit()
    time.sleep(4)  # the dispatcher has read the outbox again by now
    assert len(_runs(api, published["id"])) == 1
