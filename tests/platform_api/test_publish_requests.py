"""Approval before production (issue 17 item 2), through the public API on SQLite and PostgreSQL.

Where a workspace (or one workflow) requires approval, an editor's publish answers 202 with a publish request for
exactly the latest version; owners and admins approve (deploying that version, never a newer draft) or reject it,
never their own; a request becomes stale once another version is published. Every step is audited and people are
told. The in-process API has no engine (a publish answers 503 there): what deploys runs on `flowyard up` (`stack`).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import update

from store import Workflow, mark_stale_publish_requests
from store.db import get_session_factory
from tests.conftest import InProcessApi
from tests.platform_api.test_auth import _problem
from tests.support import Api, member

PASSWORD = "correct horse battery"


def _graph(message: str = "hi") -> dict[str, Any]:
    return {
        "nodes": [
            {"id": "start", "type": "trigger.manual", "label": "Start", "config": {}, "position": {"x": 0, "y": 0}},
            {"id": "say", "type": "util.log", "label": "Say", "config": {"message": message}, "position": {"x": 200}},
        ],
        "edges": [{"id": "e1", "source": "start", "target": "say"}],
    }


def _require_approval(owner: Api, **more: Any) -> dict[str, Any]:
    changed = owner.request("PATCH", "/api/v1/tenant", json={"publish_requires_approval": True, **more})
    assert changed.status_code == 200, changed.text
    return changed.json()


def _create(api: Api, message: str = "hi") -> str:
    created = api.post("/api/v1/workflows", json={"name": f"wf {uuid.uuid4().hex[:6]}", "graph": _graph(message)})
    assert created.status_code == 201, created.text
    return created.json()["id"]


def _save(api: Api, workflow_id: str, message: str) -> int:
    saved = api.put(f"/api/v1/workflows/{workflow_id}", json={"graph": _graph(message)})
    assert saved.status_code == 200, saved.text
    return saved.json()["version"]


def _ask(api: Api, workflow_id: str) -> dict[str, Any]:
    """Publish where approval is needed: 202 and the pending request."""
    answer = api.post(f"/api/v1/workflows/{workflow_id}/publish")
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["status"] == "pending_approval" and body["request_id"]
    return body


def _audited(api: Api, action: str) -> list[dict[str, Any]]:
    events = api.get("/api/v1/audit", params={"action": action})
    assert events.status_code == 200, events.text
    return events.json()


def _notifications(api: Api, kind: str) -> list[dict[str, Any]]:
    return [n for n in api.get("/api/v1/notifications").json() if n["kind"] == kind]


@pytest.fixture
def team(tenant: InProcessApi) -> tuple[InProcessApi, Api, Api]:
    """The owner, an admin and an editor of one workspace that requires approval before publishing."""
    return tenant, member(tenant, "admin"), member(tenant, "editor")


def test_the_workspace_rule_is_off_by_default_and_only_admins_change_it(tenant):
    settings = tenant.get("/api/v1/tenant").json()
    assert settings["publish_requires_approval"] is False
    assert settings["publish_direct_roles"] == ["owner", "admin"]
    editor = member(tenant, "editor")
    refused = editor.request("PATCH", "/api/v1/tenant", json={"publish_requires_approval": True})
    _problem(refused, 403, "forbidden")

    changed = _require_approval(tenant, publish_direct_roles=["owner"])
    assert changed["publish_requires_approval"] is True and changed["publish_direct_roles"] == ["owner"]
    assert tenant.get("/api/v1/tenant").json()["publish_direct_roles"] == ["owner"]
    bad = tenant.request("PATCH", "/api/v1/tenant", json={"publish_direct_roles": ["editor"]})
    _problem(bad, 422, "validation-error")
    [event] = _audited(tenant, "settings.changed")
    assert event["detail"]["changed"] == {"publish_requires_approval": True, "publish_direct_roles": ["owner"]}


def test_an_editors_publish_asks_for_approval_once_per_version(team):
    owner, admin, editor = team
    _require_approval(owner)
    workflow_id = _create(editor)

    first = _ask(editor, workflow_id)
    assert first["version"] == 1
    assert _ask(editor, workflow_id) == first  # asking again returns the same request
    workflow = editor.get(f"/api/v1/workflows/{workflow_id}").json()
    assert workflow["published_version"] is None and workflow["status"] == "draft"  # nothing deployed
    assert workflow["approval_required"] is True and workflow["publish_requires_approval"] is None

    assert _save(editor, workflow_id, "v2") == 2
    second = _ask(editor, workflow_id)
    assert second["version"] == 2 and second["request_id"] != first["request_id"]

    pending = editor.get("/api/v1/publish-requests", params={"status": "pending"}).json()
    assert [(r["id"], r["version"]) for r in pending] == [(second["request_id"], 2), (first["request_id"], 1)]
    assert {r["requested_by"] for r in pending} == {editor.email}
    assert editor.get("/api/v1/publish-requests", params={"status": "approved"}).json() == []
    assert [e["target"] for e in _audited(owner, "publish_request.created")] == [
        f"publish_request:{second['request_id']}",
        f"publish_request:{first['request_id']}",
    ]
    for reviewer in (owner, admin):  # owners and admins are told, the requester is not
        told = _notifications(reviewer, "publish_requested")
        assert [n["data"]["request_id"] for n in told] == [second["request_id"], first["request_id"]]
        assert editor.email in told[0]["body"]
    assert _notifications(editor, "publish_requested") == []


def test_a_request_is_checked_like_a_publish(team):
    owner, _admin, editor = team
    _require_approval(owner)
    created = editor.post(
        "/api/v1/workflows",
        json={"name": "broken", "graph": {"nodes": [], "edges": []}, "allow_invalid": True},
    )
    assert created.status_code == 201, created.text
    _problem(editor.post(f"/api/v1/workflows/{created.json()['id']}/publish"), 422, "invalid-graph")
    assert editor.get("/api/v1/publish-requests").json() == []


def test_owners_and_admins_publish_directly_unless_the_workspace_says_otherwise(team):
    """A direct publish reaches the engine, which the in-process API does not have: 503 shows it tried."""
    owner, admin, editor = team
    workflow_id = _create(editor)
    _problem(editor.post(f"/api/v1/workflows/{workflow_id}/publish"), 503, "engine-unavailable")  # no rule yet

    _require_approval(owner)
    for direct in (owner, admin):
        _problem(direct.post(f"/api/v1/workflows/{workflow_id}/publish"), 503, "engine-unavailable")
    _require_approval(owner, publish_direct_roles=["owner"])
    assert _ask(admin, workflow_id)["version"] == 1
    _problem(owner.post(f"/api/v1/workflows/{workflow_id}/publish"), 503, "engine-unavailable")
    _require_approval(owner, publish_direct_roles=[])
    assert _ask(owner, workflow_id)["version"] == 1


def test_a_workflows_own_rule_overrides_the_workspaces(team):
    owner, _admin, editor = team
    workflow_id = _create(editor)
    path = f"/api/v1/workflows/{workflow_id}"
    _problem(editor.put(path, json={"publish_requires_approval": False}), 403, "forbidden")  # editors cannot lift it
    unchanged = editor.put(path, json={"publish_requires_approval": None, "description": "same rule"})
    assert unchanged.status_code == 200, unchanged.text  # sending the value it has is no change

    on = owner.put(path, json={"publish_requires_approval": True})
    assert on.status_code == 200, on.text
    assert on.json()["publish_requires_approval"] is True and on.json()["approval_required"] is True
    assert on.json()["version"] == 1  # a settings change saves no version
    _ask(editor, workflow_id)

    _require_approval(owner)
    off = owner.put(path, json={"publish_requires_approval": False})
    assert off.json()["publish_requires_approval"] is False and off.json()["approval_required"] is False
    _problem(editor.post(f"{path}/publish"), 503, "engine-unavailable")  # published directly (no engine here)

    _problem(editor.put(path, json={"publish_requires_approval": None}), 403, "forbidden")
    follow = owner.put(path, json={"publish_requires_approval": None})
    assert follow.json()["publish_requires_approval"] is None and follow.json()["approval_required"] is True
    assert [e["detail"]["changed"] for e in _audited(owner, "workflow.updated")][:1] == [["publish_requires_approval"]]
    other = _create(editor)
    assert editor.get(f"/api/v1/workflows/{other}").json()["approval_required"] is True


def test_reading_a_request_shows_who_asked_and_what_would_change(team, platform_db_url):
    owner, _admin, editor = team
    _require_approval(owner)
    workflow_id = _create(editor, "hello")

    new = owner.get(f"/api/v1/publish-requests/{_ask(editor, workflow_id)['request_id']}").json()
    assert new["requested_by"] == editor.email and new["version"] == 1 and new["live_version"] is None
    assert new["status"] == "pending" and new["created_at"] and new["comment"] is None
    assert {n["id"] for n in new["diff"]["nodes_added"]} == {"start", "say"}  # nothing live yet: all of it is new

    with get_session_factory(platform_db_url).begin() as db:  # as if version 1 had been published
        db.execute(update(Workflow).where(Workflow.id == workflow_id).values(published_version=1))
    _save(editor, workflow_id, "hello again")
    changed = owner.get(f"/api/v1/publish-requests/{_ask(editor, workflow_id)['request_id']}").json()
    assert changed["version"] == 2 and changed["live_version"] == 1 and changed["workflow_name"].startswith("wf ")
    diff = changed["diff"]
    assert diff["nodes_added"] == [] and diff["unchanged"] is False
    assert [n["id"] for n in diff["nodes_changed"]] == ["say"]

    stranger = InProcessApi(owner.http).signup()
    _problem(stranger.get(f"/api/v1/publish-requests/{changed['id']}"), 404, "not-found")
    assert stranger.get("/api/v1/publish-requests").json() == []


def test_a_rejected_request_tells_the_requester_and_cannot_be_decided_again(team):
    owner, admin, editor = team
    _require_approval(owner)
    workflow_id = _create(editor)
    request_id = _ask(editor, workflow_id)["request_id"]

    rejected = admin.post(f"/api/v1/publish-requests/{request_id}/reject", json={"comment": "Not on a Friday"})
    assert rejected.status_code == 200, rejected.text
    body = rejected.json()
    assert body["status"] == "rejected" and body["decided_by"] == admin.email and body["decided_at"]
    assert body["comment"] == "Not on a Friday"
    [told] = _notifications(editor, "publish_request_rejected")
    assert "Not on a Friday" in told["body"] and told["data"]["request_id"] == request_id
    assert [e["target"] for e in _audited(owner, "publish_request.rejected")] == [f"publish_request:{request_id}"]

    _problem(owner.post(f"/api/v1/publish-requests/{request_id}/approve", json={}), 409, "publish-request-decided")
    _problem(owner.post(f"/api/v1/publish-requests/{request_id}/reject"), 409, "publish-request-decided")
    assert [r["id"] for r in owner.get("/api/v1/publish-requests", params={"status": "rejected"}).json()] == [
        request_id
    ]
    again = _ask(editor, workflow_id)  # asking again after a rejection makes a new request
    assert again["request_id"] != request_id and again["version"] == 1
    unknown = owner.post(f"/api/v1/publish-requests/{request_id}/reject", json={"verdict": "no"})
    _problem(unknown, 422, "validation-error")


def test_only_owners_and_admins_decide_and_never_on_their_own_request(team):
    owner, admin, editor = team
    _require_approval(owner, publish_direct_roles=["owner"])
    workflow_id = _create(editor)
    request_id = _ask(editor, workflow_id)["request_id"]
    viewer = member(owner, "viewer")
    assert [r["id"] for r in viewer.get("/api/v1/publish-requests").json()] == [request_id]  # visible to all
    for who in (viewer, editor):
        for verb in ("approve", "reject"):
            _problem(who.post(f"/api/v1/publish-requests/{request_id}/{verb}", json={}), 403, "forbidden")

    own = _ask(admin, _create(admin))["request_id"]  # admins ask too when only owners publish directly
    body = _problem(admin.post(f"/api/v1/publish-requests/{own}/approve", json={}), 403, "publish-request-own")
    assert body["hint"]
    key = admin.post("/api/v1/api-keys", json={"name": "ci", "role": "admin"})  # nor with their own API key
    assert key.status_code == 201, key.text
    by_key = InProcessApi(admin.http, key.json()["key"])
    _problem(by_key.post(f"/api/v1/publish-requests/{own}/approve", json={}), 403, "publish-request-own")
    assert owner.get(f"/api/v1/publish-requests/{own}").json()["status"] == "pending"
    assert _audited(owner, "publish_request.approved") == []


def test_approving_while_the_engine_is_down_keeps_the_request_pending(team):
    owner, _admin, editor = team
    _require_approval(owner)
    workflow_id = _create(editor)
    request_id = _ask(editor, workflow_id)["request_id"]

    down = owner.post(f"/api/v1/publish-requests/{request_id}/approve", json={"comment": "ship it"})
    assert _problem(down, 503, "engine-unavailable")["hint"]
    assert down.headers["retry-after"]
    kept = owner.get(f"/api/v1/publish-requests/{request_id}").json()
    assert kept["status"] == "pending" and kept["decided_by"] is None and kept["comment"] is None
    assert editor.get(f"/api/v1/workflows/{workflow_id}").json()["published_version"] is None
    assert _audited(owner, "publish_request.approved") == [] and _audited(owner, "workflow.published") == []
    assert _notifications(editor, "publish_request_approved") == []


def test_a_request_goes_stale_when_another_version_is_published(team, platform_db_url):
    """What a publish does to the workflow's other pending requests (on the stack it happens for real)."""
    owner, _admin, editor = team
    _require_approval(owner)
    workflow_id = _create(editor)
    old = _ask(editor, workflow_id)["request_id"]
    _save(editor, workflow_id, "v2")
    same = _ask(editor, workflow_id)["request_id"]
    other_workflow = _ask(editor, _create(editor))["request_id"]
    rejected = _ask(editor, _create(editor))["request_id"]
    owner.post(f"/api/v1/publish-requests/{rejected}/reject")

    with get_session_factory(platform_db_url).begin() as db:  # version 2 published (what publish_version does)
        db.execute(update(Workflow).where(Workflow.id == workflow_id).values(published_version=2))
        assert mark_stale_publish_requests(db, workflow_id=workflow_id, live_version=2) == 1
    statuses = {r["id"]: r["status"] for r in owner.get("/api/v1/publish-requests").json()}
    assert statuses == {old: "stale", same: "pending", other_workflow: "pending", rejected: "rejected"}
    assert [r["id"] for r in owner.get("/api/v1/publish-requests", params={"status": "stale"}).json()] == [old]

    body = _problem(owner.post(f"/api/v1/publish-requests/{old}/approve", json={}), 409, "publish-request-stale")
    assert "version 2 is live now" in body["detail"] and body["hint"]
    _problem(owner.post(f"/api/v1/publish-requests/{old}/reject"), 409, "publish-request-stale")


def test_requests_are_listed_in_pages_newest_first(team):
    owner, _admin, editor = team
    _require_approval(owner)
    asked = [_ask(editor, _create(editor))["request_id"] for _ in range(3)]
    first = owner.get("/api/v1/publish-requests", params={"limit": 2})
    assert [r["id"] for r in first.json()] == asked[::-1][:2]
    cursor = first.headers["x-next-cursor"]
    second = owner.get("/api/v1/publish-requests", params={"limit": 2, "cursor": cursor})
    assert [r["id"] for r in second.json()] == asked[:1] and "x-next-cursor" not in second.headers
    only = owner.get("/api/v1/publish-requests", params={"workflow_id": first.json()[0]["workflow_id"]}).json()
    assert [r["id"] for r in only] == [asked[-1]]
    _problem(owner.get("/api/v1/publish-requests", params={"status": "maybe"}), 422, "validation-error")


def test_the_publish_route_documents_both_answers(api_app):
    operation = api_app.get("/openapi.json").json()["paths"]["/api/v1/workflows/{workflow_id}/publish"]["post"]
    assert set(operation["responses"]) >= {"200", "202"}
    assert "PublishPending" in str(operation["responses"]["202"])


# --- on `flowyard up`: approving deploys the requested version --------------------------------------------------


def test_an_approved_request_deploys_its_version_not_a_newer_draft_and_stale_ones_are_refused(stack):
    owner = Api(stack.api_url).signup()
    editor = member(owner, "editor")
    _require_approval(owner)
    workflow_id = _create(editor, "version one")
    request_id = _ask(editor, workflow_id)["request_id"]
    assert _save(editor, workflow_id, "version two") == 2  # a newer draft while the request waits

    approved = owner.post(f"/api/v1/publish-requests/{request_id}/approve", json={"comment": "looks good"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["live_version"] == 1
    workflow = owner.get(f"/api/v1/workflows/{workflow_id}").json()
    assert workflow["published_version"] == 1 and workflow["version"] == 2 and workflow["deployment_name"]
    run = owner.post(f"/api/v1/workflows/{workflow_id}/runs", json={"input": {}})
    assert run.status_code == 202, run.text
    finished = owner.wait_for_run(run.json()["run_id"])
    assert finished["status"] == "completed" and finished["version"] == 1
    actions = [e["action"] for e in owner.get("/api/v1/audit").json()]
    assert actions.index("workflow.published") < actions.index("publish_request.approved")  # newest first
    [told] = _notifications(editor, "publish_request_approved")
    assert "looks good" in told["body"]

    stale = _ask(editor, workflow_id)["request_id"]  # version 2 waits ...
    assert _save(editor, workflow_id, "version three") == 3
    direct = owner.post(f"/api/v1/workflows/{workflow_id}/publish")  # ... while the owner publishes version 3
    assert direct.status_code == 200, direct.text
    assert direct.json()["published_version"] == 3
    listed = owner.get("/api/v1/publish-requests", params={"status": "stale"}).json()
    assert [r["id"] for r in listed] == [stale]
    body = _problem(owner.post(f"/api/v1/publish-requests/{stale}/approve", json={}), 409, "publish-request-stale")
    assert "version 3 is live now" in body["detail"]
    assert owner.get(f"/api/v1/workflows/{workflow_id}").json()["published_version"] == 3

    assert _save(editor, workflow_id, "version four") == 4
    waiting = _ask(editor, workflow_id)["request_id"]
    assert owner.post(f"/api/v1/workflows/{workflow_id}/publish").json()["published_version"] == 4
    settled = owner.get(f"/api/v1/publish-requests/{waiting}").json()  # what it asked for is live
    assert (settled["status"], settled["comment"], settled["decided_by"]) == (
        "approved", "Published directly", owner.get("/api/v1/me").json()["user"]["email"],
    )  # fmt: skip


def test_an_editors_rollback_is_restored_as_a_draft_and_waits_for_approval(tenant):
    _require_approval(tenant)
    editor = member(tenant, "editor")
    workflow_id = _create(editor, "first")
    _save(editor, workflow_id, "second")
    answer = editor.post(f"/api/v1/workflows/{workflow_id}/versions/1/restore")
    assert answer.status_code == 202, answer.text
    assert answer.json()["version"] == 3
    request = tenant.get(f"/api/v1/publish-requests/{answer.json()['request_id']}").json()
    assert (request["version"], request["status"]) == (3, "pending")
    assert request["diff"]["nodes_added"] and not request["diff"]["nodes_removed"]  # against no live version
    workflow = editor.get(f"/api/v1/workflows/{workflow_id}").json()
    assert (workflow["version"], workflow["status"], workflow["graph"]) == (3, "draft", _graph("first"))
