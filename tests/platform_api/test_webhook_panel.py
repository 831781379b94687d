"""What the builder's webhook panel reads and does, on SQLite and PostgreSQL: the latest deliveries of a workflow
(the run each started, its status, the sender's delivery id), and a test delivery of the trigger's sample signed
with the endpoint's secret by each auth scheme, received through the same door as `POST /hooks/…`. Only in the
caller's own workspace (another's workflow id is a 404), operators and above for the test delivery, bad input is
problem+json.

The workflows are written straight into the database (the in-process API has no engine)."""

from __future__ import annotations

import json

import pytest

from platform_api.triggers.service import sync_endpoint
from platform_api.triggers.signatures import sign
from store import Execution, Tenant, WebhookEndpoint, Workflow
from tests.conftest import InProcessApi
from tests.platform_api.test_auth import _problem
from tests.platform_rows import RunRows, add_workflow

SAMPLE = {"email": "ada@example.com", "plan": "pro"}


def _webhook_graph(auth: str) -> dict:
    return {
        "nodes": [
            {"id": "hook", "type": "trigger.webhook", "config": {"auth": auth, "sample": SAMPLE}},
            {"id": "say", "type": "util.log", "config": {"message": "hi"}},
        ],
        "edges": [{"id": "e1", "source": "hook", "target": "say"}],
    }


class Hooks(RunRows):
    def __init__(self, db_url: str, tenant_id: str, settings) -> None:
        super().__init__(db_url, tenant_id)
        self.settings = settings

    def published(self, auth: str = "hmac") -> tuple[str, str, str]:
        """A published webhook workflow: (its id, its endpoint's id, its secret)."""
        flow = _webhook_graph(auth)
        with self.sessions.begin() as db:
            workflow = add_workflow(db, db.get_one(Tenant, self.tenant_id), graph=flow)
            secret = sync_endpoint(db, self.settings, db.get_one(Workflow, workflow.id), flow)
            workflow_id = workflow.id
        with self.sessions() as db:
            endpoint = db.query(WebhookEndpoint).filter_by(workflow_id=workflow_id).one()
        assert secret
        return workflow_id, endpoint.id, secret


@pytest.fixture
def hooks(platform_db_url: str, tenant: InProcessApi, api_app) -> Hooks:
    return Hooks(platform_db_url, tenant.signup_body["tenant"]["id"], api_app.app.state.settings)


def _deliveries(api: InProcessApi, workflow_id: str, **params) -> list[dict]:
    response = api.get(f"/api/v1/workflows/{workflow_id}/webhook/deliveries", params=params)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("auth", ["hmac", "stripe", "bearer", "twilio"])
def test_a_test_delivery_is_signed_by_the_scheme_and_listed_with_its_run(tenant, hooks, auth):
    workflow_id, _, _ = hooks.published(auth)
    assert _deliveries(tenant, workflow_id) == []

    sent = tenant.post(f"/api/v1/workflows/{workflow_id}/webhook/test")
    assert sent.status_code == 202, sent.text
    assert sent.json()["duplicate"] is False

    [delivery] = _deliveries(tenant, workflow_id)
    assert delivery["run_id"] == sent.json()["run_id"]
    assert delivery["delivery_id"].startswith("test-")
    assert delivery["status"] == "pending" and delivery["ended_at"] is None
    run = tenant.get(f"/api/v1/runs/{delivery['run_id']}").json()
    assert run["trigger"] == "webhook" and run["mode"] == "live"
    with hooks.sessions() as db:
        received = db.get_one(Execution, delivery["run_id"]).input
    assert received["delivery_id"] == delivery["delivery_id"]
    assert received["headers"]["user-agent"] == "Flowyard test delivery"
    assert received["body"] == (SAMPLE if auth != "twilio" else {k: str(v) for k, v in SAMPLE.items()})


def test_deliveries_are_newest_first_with_the_senders_delivery_id_and_limited(tenant, hooks):
    workflow_id, endpoint_id, secret = hooks.published("hmac")
    for number in range(3):
        body = json.dumps({"n": number}).encode()
        delivered = tenant.http.post(
            f"/hooks/{endpoint_id}",
            content=body,
            headers={
                "content-type": "application/json",
                "X-Delivery-Id": f"d-{number}",
                "X-Flowyard-Signature": sign(secret, body, delivery_id=f"d-{number}"),
            },
        )
        assert delivered.status_code == 202, delivered.text
    listed = _deliveries(tenant, workflow_id)
    assert [d["delivery_id"] for d in listed] == ["d-2", "d-1", "d-0"]
    assert [d["delivery_id"] for d in _deliveries(tenant, workflow_id, limit=2)] == ["d-2", "d-1"]


def test_another_workspaces_workflow_is_a_404_and_bad_input_is_problem_json(tenant, anonymous, hooks):
    workflow_id, _, _ = hooks.published("bearer")
    other = anonymous.signup()
    _problem(other.get(f"/api/v1/workflows/{workflow_id}/webhook/deliveries"), 404, "not-found")
    _problem(other.post(f"/api/v1/workflows/{workflow_id}/webhook/test"), 404, "not-found")
    assert _deliveries(tenant, workflow_id) == []  # the other workspace started nothing

    _problem(tenant.get(f"/api/v1/workflows/{workflow_id}/webhook/deliveries", params={"limit": 0}), 422, "")
    _problem(tenant.get(f"/api/v1/workflows/{workflow_id}/webhook/deliveries", params={"limit": "x"}), 422, "")


def test_a_workflow_without_a_webhook_is_a_404_no_webhook_and_viewers_cannot_send(tenant, hooks):
    with hooks.sessions.begin() as db:
        plain = add_workflow(db, db.get_one(Tenant, hooks.tenant_id)).id
    _problem(tenant.post(f"/api/v1/workflows/{plain}/webhook/test"), 404, "no-webhook")

    workflow_id, _, _ = hooks.published("hmac")
    created = tenant.post("/api/v1/api-keys", json={"name": "viewer", "role": "viewer"})
    assert created.status_code == 201, created.text
    viewer = InProcessApi(tenant.http, created.json()["key"])
    _problem(viewer.post(f"/api/v1/workflows/{workflow_id}/webhook/test"), 403, "")
    assert _deliveries(viewer, workflow_id) == []  # reading is for every role
