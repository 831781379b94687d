"""Small holes a hostile tenant (or whoever captured one delivery) could use: replayed webhook deliveries
under a new id, approval links used twice or by the wrong person, ids too long for their column,
unbounded pages, and missing security headers."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from platform_api.triggers.signatures import sign
from tests.support import Api, edge, graph, node


def _problem(response: httpx.Response, status: int, path: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem.get("hint")
    if path:
        assert path in {e["path"] for e in problem.get("errors") or []}, problem
    return problem


def _wait_for_status(api: Api, run_id: str, status: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = api.get(f"/api/v1/runs/{run_id}").json()
        if run["status"] == status:
            return run
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} never became {status}")


# --- webhooks: what is signed decides what is deduplicated ---------------------------------------


def test_a_replayed_delivery_under_a_new_id_starts_nothing_and_long_ids_get_422(stack):
    api = Api(stack.api_url).signup()
    flow = graph(
        [node("hook", "trigger.webhook", {}), node("log", "util.log", {"message": "{{ trigger.body.n }}"})],
        [edge("hook", "log")],
    )
    workflow = api.post("/api/v1/workflows", json={"name": "Hook", "graph": flow}).json()
    published = api.post(f"/api/v1/workflows/{workflow['id']}/publish").json()
    secret = published["webhook_secret"]
    url = api.get(f"/api/v1/workflows/{workflow['id']}/webhook").json()["url"]

    def deliver(body: bytes, signature: str, delivery: str) -> httpx.Response:
        headers = {"content-type": "application/json", "X-Flowyard-Signature": signature, "X-Delivery-Id": delivery}
        return httpx.post(url, content=body, headers=headers)

    # v1 signs the body only: a captured delivery replayed under another id is the same delivery
    body = json.dumps({"n": 1}).encode()
    captured = sign(secret, body)
    first = deliver(body, captured, "a-1")
    assert first.status_code == 202, first.text
    replay = deliver(body, captured, "a-2")
    assert replay.status_code == 202 and replay.json() == {"run_id": first.json()["run_id"], "duplicate": True}

    # v2 signs the delivery id too: the signature does not carry over to another id
    body = json.dumps({"n": 2}).encode()
    signed = deliver(body, sign(secret, body, delivery_id="b-1"), "b-1")
    assert signed.status_code == 202, signed.text
    _problem(deliver(body, sign(secret, body, delivery_id="b-1"), "b-2"), 401)
    # the same id again, with another body the sender signed: deduplicated by its (signed) id
    other = json.dumps({"n": 3}).encode()
    again = deliver(other, sign(secret, other, delivery_id="b-1"), "b-1")
    assert again.status_code == 202 and again.json() == {"run_id": signed.json()["run_id"], "duplicate": True}

    long_id = "x" * 300
    _problem(deliver(body, sign(secret, body, delivery_id=long_id), long_id), 422, "headers.X-Delivery-Id")
    _problem(deliver(body, sign(secret, body), long_id), 422, "headers.X-Delivery-Id")

    runs = api.get("/api/v1/runs", params={"workflow_id": workflow["id"]}).json()
    assert len(runs) == 2


def test_an_event_id_too_long_for_its_dedupe_key_gets_422(tenant):
    _problem(tenant.post("/api/v1/events", json={"name": "order.paid", "id": "e" * 200}), 422, "id")
    assert tenant.post("/api/v1/events", json={"name": "order.paid", "id": "e" * 300}).status_code == 422
    assert tenant.post("/api/v1/events", json={"name": "order.paid", "id": "e" * 190}).status_code == 202


# --- approvals ------------------------------------------------------------------------------------


def test_an_approval_link_decides_once_and_a_viewer_cannot_decide(stack):
    api = Api(stack.api_url).signup()
    flow = graph(
        [
            node("start", "trigger.manual"),
            node("ask", "logic.approval", {"message": "Refund?", "timeout_hours": 1}),
            node("yes", "util.log", {"message": "by {{ steps.ask.output.decided_by }}"}),
            node("no", "util.log", {"message": "no"}),
        ],
        [edge("start", "ask"), edge("ask", "yes", "approved"), edge("ask", "no", "rejected")],
    )
    workflow = api.post("/api/v1/workflows", json={"name": "Refunds", "graph": flow}).json()
    assert api.post(f"/api/v1/workflows/{workflow['id']}/publish").status_code == 200
    run_id = api.post(f"/api/v1/workflows/{workflow['id']}/runs", json={"input": {}}).json()["run_id"]
    waiting = _wait_for_status(api, run_id, "waiting")
    assert "/approvals/" not in json.dumps(waiting)  # no link in anything a viewer can read

    viewer = Api(stack.api_url, api.post("/api/v1/api-keys", json={"name": "v", "role": "viewer"}).json()["key"])
    _problem(viewer.post(f"/api/v1/runs/{run_id}/approvals/ask", json={"decision": "approve"}), 403)
    _problem(viewer.post(f"/api/v1/runs/{run_id}/approvals/ask/link"), 403)
    _problem(api.post(f"/api/v1/runs/{run_id}/approvals/ask/link", json={"approver": "x@example.com"}), 422, "approver")

    link = api.post(f"/api/v1/runs/{run_id}/approvals/ask/link").json()
    assert link["issued_to"] == api.signup_body["user"]["email"]
    decisions = ["approve", "reject"] * 4
    with ThreadPoolExecutor(max_workers=len(decisions)) as pool:
        statuses = list(pool.map(lambda d: httpx.post(link["url"], data={"decision": d}).status_code, decisions))
    assert statuses.count(200) == 1 and set(statuses) <= {200, 409, 410}, statuses
    assert api.post(f"/api/v1/runs/{run_id}/approvals/ask", json={"decision": "reject"}).status_code == 409
    (answer,) = [a for a in api.get("/api/v1/approvals").json() if a["run_id"] == run_id]
    assert answer["decided_by"] == f"{link['issued_to']} (by link)"


# --- pagination -----------------------------------------------------------------------------------


def _all_pages(api: Api, path: str, limit: int) -> list[dict]:
    items, params, pages = [], {"limit": limit}, 0
    while True:
        response = api.get(path, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert isinstance(page, list) and len(page) <= limit  # the body keeps its shape
        items += page
        pages += 1
        cursor = response.headers.get("x-next-cursor")
        if not cursor:
            assert "link" not in response.headers
            return items
        assert 'rel="next"' in response.headers["link"] and f"cursor={cursor}" in response.headers["link"]
        params = {"limit": limit, "cursor": cursor}
        assert pages < 20


def test_lists_page_by_cursor_and_cap_the_page_size(tenant, minimal_graph):
    for i in range(5):
        assert tenant.post("/api/v1/crm/contacts", json={"email": f"p{i}@example.com"}).status_code == 201
        assert tenant.post("/api/v1/workflows", json={"name": f"W{i}", "graph": minimal_graph}).status_code == 201
    contacts = _all_pages(tenant, "/api/v1/crm/contacts", 2)
    assert sorted(c["email"] for c in contacts) == [f"p{i}@example.com" for i in range(5)]
    workflows = _all_pages(tenant, "/api/v1/workflows", 2)
    assert sorted(w["name"] for w in workflows) == [f"W{i}" for i in range(5)]
    assert _all_pages(tenant, "/api/v1/connections", 2) == []
    assert _all_pages(tenant, "/api/v1/runs", 2) == []

    for path, most in [
        ("/api/v1/workflows", 200),
        ("/api/v1/connections", 200),
        ("/api/v1/crm/contacts", 200),
        ("/api/v1/crm/deals", 200),
        ("/api/v1/runs", 500),
    ]:
        _problem(tenant.get(path, params={"limit": most + 1}), 422, "limit")
        _problem(tenant.get(path, params={"cursor": "not-a-cursor"}), 422, "cursor")
    page = tenant.get("/api/v1/templates", params={"per_page": 101})
    _problem(page, 422, "per_page")


# --- headers and the docs page --------------------------------------------------------------------


def test_every_response_has_the_security_headers(tenant, anonymous):
    for response in (
        tenant.get("/api/v1/workflows"),
        anonymous.get("/api/v1/workflows"),  # a 401 problem too
        anonymous.get("/api/v1/health"),
        anonymous.get("/"),
        anonymous.get("/docs"),
    ):
        headers = response.headers
        policy = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy, policy
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] and headers["x-frame-options"] == "DENY"
        assert "strict-transport-security" not in headers  # plain http here
    assert "script-src 'self';" in tenant.get("/api/v1/workflows").headers["content-security-policy"]


def test_hsts_when_served_over_https(api_app):
    response = api_app.get("https://testserver/api/v1/health")
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_the_docs_page_loads_its_assets_from_the_platform(anonymous):
    page = anonymous.get("/docs")
    assert page.status_code == 200
    assert "cdn." not in page.text and "unpkg" not in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f'"/static-offline-docs/{asset}"' in page.text
        assert anonymous.get(f"/static-offline-docs/{asset}").status_code == 200
    assert "cdn." not in anonymous.get("/redoc").text
