"""The webhook secret after an approved publish (issue 16), on the real stack (`flowyard up`): an editor asks to
publish a webhook workflow, an owner approves. The approval creates the endpoint and its secret, which is in the
approval's answer only (the approver's, `Cache-Control: no-store`), works for signed deliveries, and is never
shown again: not in the request read later, not in the webhook read, not in a notification or the audit log,
not in clear in any file of the platform (SQLite leg). The requester is told to rotate it; their rotation gives a
new secret, shown once, audited, and the approver's copy stops working."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from platform_api.triggers.signatures import sign
from tests.support import Api, member


def _graph(message: str) -> dict[str, Any]:
    return {
        "nodes": [
            {"id": "hook", "type": "trigger.webhook", "label": "Lead", "config": {"auth": "hmac"}},
            {"id": "say", "type": "util.log", "label": "Say", "config": {"message": message}},
        ],
        "edges": [{"id": "e1", "source": "hook", "target": "say"}],
    }


def _deliver(url: str, secret: str) -> httpx.Response:
    body = json.dumps({"email": "ada@example.com"}).encode()
    headers = {"content-type": "application/json", "X-Flowyard-Signature": sign(secret, body)}
    return httpx.post(url, content=body, headers=headers, timeout=30)


def _files_holding(home: Path, needle: bytes) -> list[str]:
    return [str(p) for p in home.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_the_approver_sees_the_secret_once_and_the_requester_rotates_for_their_own(stack):
    owner = Api(stack.api_url).signup()
    editor = member(owner, "editor")
    changed = owner.request("PATCH", "/api/v1/tenant", json={"publish_requires_approval": True})
    assert changed.status_code == 200, changed.text
    created = editor.post("/api/v1/workflows", json={"name": f"hook {uuid.uuid4().hex[:6]}", "graph": _graph("one")})
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]
    asked = editor.post(f"/api/v1/workflows/{workflow_id}/publish")
    assert asked.status_code == 202, asked.text
    request_id = asked.json()["request_id"]

    # The approval's answer holds the new secret, for the approver, and is not to be cached.
    approved = owner.post(f"/api/v1/publish-requests/{request_id}/approve", json={"comment": "ok"})
    assert approved.status_code == 200, approved.text
    assert approved.headers["cache-control"] == "no-store"
    secret = approved.json()["webhook_secret"]
    assert secret and secret.startswith("whsec_")
    assert approved.json()["has_webhook"] is True
    webhook = owner.get(f"/api/v1/workflows/{workflow_id}/webhook")
    assert webhook.status_code == 200, webhook.text
    url = webhook.json()["url"]
    assert _deliver(url, secret).status_code == 202  # the secret is the endpoint's

    # Never shown again, to anyone: not in reads, notifications, the audit log or any file in clear.
    for person in (owner, editor):
        read = person.get(f"/api/v1/publish-requests/{request_id}")
        assert read.status_code == 200 and "webhook_secret" not in read.json() and read.json()["has_webhook"] is True
        assert secret not in person.get(f"/api/v1/workflows/{workflow_id}/webhook").text
        assert secret not in person.get("/api/v1/notifications").text
    audit = owner.get("/api/v1/audit", params={"action": "publish_request.approved"})
    assert secret not in audit.text
    assert audit.json()[0]["detail"]["webhook_created"] is True
    if "FLOWYARD_DATABASE_URL" not in stack.env:  # SQLite: the platform's database is a file of its home
        assert _files_holding(stack.home, secret.encode()) == []

    # The requester is told the secret went to the approver once, and how to get one of their own.
    [told] = [n for n in editor.get("/api/v1/notifications").json() if n["kind"] == "publish_request_approved"]
    assert "shown its signing secret once" in told["body"] and "rotate" in told["body"]

    # A later approval of the same webhook workflow creates nothing: no secret in its answer.
    saved = editor.put(f"/api/v1/workflows/{workflow_id}", json={"graph": _graph("two")})
    assert saved.status_code == 200, saved.text
    again = editor.post(f"/api/v1/workflows/{workflow_id}/publish").json()["request_id"]
    second = owner.post(f"/api/v1/publish-requests/{again}/approve", json={})
    assert second.status_code == 200, second.text
    assert second.json()["webhook_secret"] is None

    # The requester rotates: a new secret, once, audited; the approver's copy stops working.
    rotated = editor.post(f"/api/v1/workflows/{workflow_id}/webhook/rotate", json={})
    assert rotated.status_code == 200, rotated.text
    assert rotated.headers["cache-control"] == "no-store"
    mine = rotated.json()["secret"]
    assert mine.startswith("whsec_") and mine != secret
    assert _deliver(url, secret).status_code == 401
    assert _deliver(url, mine).status_code == 202
    [event] = owner.get("/api/v1/audit", params={"action": "webhook.secret_rotated"}).json()
    assert event["detail"] == {"workflow_id": workflow_id, "chosen_by_caller": False}
    assert mine not in owner.get("/api/v1/audit").text


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
def test_a_rejected_or_non_webhook_approval_shows_no_secret(stack):
    owner = Api(stack.api_url).signup()
    editor = member(owner, "editor")
    owner.request("PATCH", "/api/v1/tenant", json={"publish_requires_approval": True})
    manual = _graph("manual")
    manual["nodes"][0] = {"id": "hook", "type": "trigger.manual", "label": "Start", "config": {}}
    created = editor.post("/api/v1/workflows", json={"name": f"plain {uuid.uuid4().hex[:6]}", "graph": manual})
    request_id = editor.post(f"/api/v1/workflows/{created.json()['id']}/publish").json()["request_id"]
    approved = owner.post(f"/api/v1/publish-requests/{request_id}/approve", json={})
    assert approved.status_code == 200, approved.text
    assert approved.json()["webhook_secret"] is None and approved.json()["has_webhook"] is False
    [told] = [n for n in editor.get("/api/v1/notifications").json() if n["kind"] == "publish_request_approved"]
    assert "secret" not in told["body"]
