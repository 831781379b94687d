"""Version history: messages, graph-aware diffs between versions, and rollback by restoring an old version."""

from __future__ import annotations

import copy

import pytest

from tests.platform_api.test_auth import _problem
from tests.support import Api, edge, graph, labelled, node, publish, start_run, steps_by_node


def _webhook_flow(url: str, token: str) -> dict:
    return graph(
        [
            {**node("start", "trigger.manual"), "label": "Start"},
            {
                **labelled("fetch", "http.request", "Fetch order"),
                "config": {"method": "GET", "url": url, "headers": {"Authorization": f"Bearer {token}"}},
                "position": {"x": 200, "y": 0},
            },
            {**labelled("say", "util.log", "Say"), "config": {"message": "done"}, "position": {"x": 400, "y": 0}},
        ],
        [edge("start", "fetch"), edge("fetch", "say")],
    )


@pytest.fixture
def history(tenant):
    """A workflow with two versions: the second changes a URL, a secret header, the trigger, moves a step,
    removes one and adds another."""
    first = _webhook_flow("https://shop.example.com/orders", "first-secret-token")
    second = copy.deepcopy(first)
    second["nodes"][0] = {**node("start", "trigger.webhook"), "label": "Start", "config": {"auth": "hmac"}}
    second["nodes"][1]["config"]["url"] = "https://shop.example.com/v2/orders"
    second["nodes"][1]["config"]["headers"]["Authorization"] = "Bearer second-secret-token"
    second["nodes"][1]["config"]["api_key"] = "key-added-in-v2"
    second["nodes"][1]["position"] = {"x": 250, "y": 40}
    second["nodes"][2] = {**labelled("shout", "util.log", "Shout"), "config": {"message": "DONE"}}
    second["edges"][1] = edge("fetch", "shout")
    created = tenant.post("/api/v1/workflows", json={"name": "Orders", "graph": first, "allow_invalid": True})
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]
    saved = tenant.put(
        f"/api/v1/workflows/{workflow_id}",
        json={"graph": second, "allow_invalid": True, "message": "Use the v2 orders API"},
    )
    assert saved.status_code == 200, saved.text
    return workflow_id


def test_each_version_has_its_author_time_and_message(tenant, history):
    versions = tenant.get(f"/api/v1/workflows/{history}/versions").json()
    assert [(v["version"], v["message"]) for v in versions] == [(2, "Use the v2 orders API"), (1, None)]
    assert all("@" in v["created_by"] and v["created_at"] for v in versions)
    assert tenant.get(f"/api/v1/workflows/{history}/versions/2").json()["message"] == "Use the v2 orders API"


def test_the_diff_names_each_change_and_never_shows_a_secret(tenant, history):
    response = tenant.get(f"/api/v1/workflows/{history}/versions/1/diff/2")
    assert response.status_code == 200, response.text
    diff = response.json()
    assert (diff["from_version"], diff["to_version"], diff["unchanged"]) == (1, 2, False)
    assert [n["id"] for n in diff["nodes_added"]] == ["shout"]
    assert [(n["id"], n["label"]) for n in diff["nodes_removed"]] == [("say", "Say")]
    changed = {n["id"]: {f["path"]: f for f in n["fields"]} for n in diff["nodes_changed"]}
    assert set(changed) == {"start", "fetch"}
    assert changed["fetch"]["config.url"]["before"] == "https://shop.example.com/orders"
    assert changed["fetch"]["config.url"]["after"] == "https://shop.example.com/v2/orders"
    assert changed["fetch"]["config.api_key"] == {
        "path": "config.api_key", "before": None, "after": "••••••", "secret": True,
    }  # fmt: skip
    assert changed["fetch"]["config.headers"]["after"] == {"Authorization": "••••••"}
    assert "secret-token" not in response.text and "key-added-in-v2" not in response.text
    assert [e["target"] for e in diff["edges_added"]] == ["shout"]
    assert [e["target"] for e in diff["edges_removed"]] == ["say"]
    assert diff["trigger"] == {
        "change": "replaced",
        "before": "trigger.manual",
        "after": "trigger.webhook",
        "fields": [],
    }

    back = tenant.get(f"/api/v1/workflows/{history}/versions/2/diff/1").json()
    assert [n["id"] for n in back["nodes_added"]] == ["say"]
    assert tenant.get(f"/api/v1/workflows/{history}/versions/2/diff/2").json()["unchanged"] is True


def test_a_step_that_only_moved_is_listed_as_moved(tenant, minimal_graph):
    workflow_id = tenant.post("/api/v1/workflows", json={"name": "Layout", "graph": minimal_graph}).json()["id"]
    moved = copy.deepcopy(minimal_graph)
    moved["nodes"][1]["position"] = {"x": 300, "y": 120}
    tenant.put(f"/api/v1/workflows/{workflow_id}", json={"graph": moved})
    diff = tenant.get(f"/api/v1/workflows/{workflow_id}/versions/1/diff/2").json()
    assert diff["nodes_moved"] == [
        {"id": "say", "type": "util.log", "label": "Say", "before": {"x": 200, "y": 0}, "after": {"x": 300, "y": 120}}
    ]
    assert (diff["nodes_changed"], diff["trigger"], diff["unchanged"]) == ([], None, False)


def test_a_restore_as_draft_saves_the_old_graph_as_the_newest_version(tenant, history):
    first = tenant.get(f"/api/v1/workflows/{history}/versions/1").json()["graph"]
    restored = tenant.post(f"/api/v1/workflows/{history}/versions/1/restore", json={"publish": False})
    assert restored.status_code == 200, restored.text
    assert (restored.json()["version"], restored.json()["graph"]) == (3, first)
    versions = tenant.get(f"/api/v1/workflows/{history}/versions").json()
    assert [(v["version"], v["message"]) for v in versions][0] == (3, "Restored from version 1")
    assert tenant.get(f"/api/v1/workflows/{history}/versions/1/diff/3").json()["unchanged"] is True


def test_a_rollback_that_cannot_publish_keeps_the_restored_version_as_a_draft(tenant, minimal_graph):
    workflow_id = tenant.post("/api/v1/workflows", json={"name": "Engine down", "graph": minimal_graph}).json()["id"]
    changed = copy.deepcopy(minimal_graph)
    changed["nodes"][1]["config"]["message"] = "second"
    tenant.put(f"/api/v1/workflows/{workflow_id}", json={"graph": changed})
    response = tenant.post(f"/api/v1/workflows/{workflow_id}/versions/1/restore", json={"message": "Back to v1"})
    _problem(response, 503, "/engine-unavailable")  # no workflow engine in-process
    after = tenant.get(f"/api/v1/workflows/{workflow_id}").json()
    assert (after["version"], after["status"], after["graph"]) == (3, "draft", minimal_graph)
    assert tenant.get(f"/api/v1/workflows/{workflow_id}/versions/3").json()["message"] == "Back to v1"


def test_versions_of_another_workspace_or_that_do_not_exist_are_not_found(tenant, anonymous, history):
    stranger = anonymous.signup()
    for path in ("versions/1/diff/2", "versions/1/restore"):
        method = stranger.get if "diff" in path else stranger.post
        _problem(method(f"/api/v1/workflows/{history}/{path}"), 404, "/not-found")
    body = _problem(tenant.get(f"/api/v1/workflows/{history}/versions/1/diff/9"), 404, "/not-found")
    assert body["errors"][0]["path"] == "version" and "1 to 2" in body["hint"]
    _problem(tenant.post(f"/api/v1/workflows/{history}/versions/9/restore"), 404, "/not-found")
    assert tenant.get(f"/api/v1/workflows/{history}").json()["version"] == 2


def test_a_long_message_is_refused_with_its_path(tenant, history):
    body = _problem(
        tenant.post(f"/api/v1/workflows/{history}/versions/1/restore", json={"message": "x" * 501}), 422, ""
    )
    assert "message" in str(body)
    assert tenant.get(f"/api/v1/workflows/{history}").json()["version"] == 2


def test_a_rollback_publishes_the_old_graph_as_a_new_live_version(stack, minimal_graph):
    api = Api(stack.api_url).signup()
    first = copy.deepcopy(minimal_graph)
    first["nodes"][1]["config"]["message"] = "from version one"
    workflow_id = publish(api, "Rollback", first)
    second = copy.deepcopy(first)
    second["nodes"][1]["config"]["message"] = "from version two"
    api.put(f"/api/v1/workflows/{workflow_id}", json={"graph": second, "message": "Say it differently"})
    assert api.post(f"/api/v1/workflows/{workflow_id}/publish").json()["published_version"] == 2

    rolled_back = api.post(f"/api/v1/workflows/{workflow_id}/versions/1/restore")
    assert rolled_back.status_code == 200, rolled_back.text
    assert (rolled_back.json()["published_version"], rolled_back.json()["graph"]) == (3, first)
    versions = api.get(f"/api/v1/workflows/{workflow_id}/versions").json()
    assert [(v["version"], v["published"], v["message"]) for v in versions] == [
        (3, True, "Restored from version 1"), (2, False, "Say it differently"), (1, False, None),
    ]  # fmt: skip
    run = api.wait_for_run(start_run(api, workflow_id))
    assert steps_by_node(run)["say"]["output"] == {"message": "from version one"}
