"""Disabling a step through the API: the flag is part of the graph (no migration), a disabled trigger is
refused at save, even for a draft, with the field's path."""

from __future__ import annotations

import copy
from typing import Any

import httpx


def _problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    """An RFC 9457 answer of this status whose type names the slug (wherever the type's page lives)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert slug.strip("/") in body["type"]
    return body


def test_a_disabled_trigger_is_refused_at_save_even_as_a_draft(tenant, minimal_graph):
    bad = copy.deepcopy(minimal_graph)
    bad["nodes"][0]["disabled"] = True
    for allow_invalid in (False, True):
        response = tenant.post("/api/v1/workflows", json={"name": "Off", "graph": bad, "allow_invalid": allow_invalid})
        body = _problem(response, 422, "/invalid-graph")
        assert body["errors"][0]["path"] == "graph.nodes[0].disabled"
        assert "cannot be disabled" in body["errors"][0]["message"] and body["errors"][0]["hint"]
    assert tenant.get("/api/v1/workflows").json() == []

    workflow = tenant.post("/api/v1/workflows", json={"name": "On", "graph": minimal_graph}).json()
    response = tenant.put(f"/api/v1/workflows/{workflow['id']}", json={"graph": bad, "allow_invalid": True})
    assert _problem(response, 422, "/invalid-graph")["errors"][0]["path"] == "graph.nodes[0].disabled"
    assert tenant.get(f"/api/v1/workflows/{workflow['id']}").json()["version"] == 1


def test_a_disabled_step_saves_valid_and_shows_in_the_version_diff(tenant, minimal_graph):
    workflow = tenant.post("/api/v1/workflows", json={"name": "Quiet", "graph": minimal_graph}).json()
    quiet = copy.deepcopy(minimal_graph)
    quiet["nodes"][1]["disabled"] = True
    saved = tenant.put(f"/api/v1/workflows/{workflow['id']}", json={"graph": quiet, "base_version": 1})
    assert saved.status_code == 200, saved.text
    assert saved.json()["valid"] is True
    assert tenant.get(f"/api/v1/workflows/{workflow['id']}").json()["graph"]["nodes"][1]["disabled"] is True

    diff = tenant.get(f"/api/v1/workflows/{workflow['id']}/versions/1/diff/2")
    assert diff.status_code == 200, diff.text
    [changed] = diff.json()["nodes_changed"]
    assert changed["id"] == minimal_graph["nodes"][1]["id"]
    assert changed["fields"] == [{"path": "disabled", "before": None, "after": True, "secret": False}]

    schema = tenant.get("/api/v1/schema/graph").json()
    assert schema["$defs"]["Node"]["properties"]["disabled"]["default"] is False


def test_the_flag_travels_in_workflow_files_and_bpmn(tenant, minimal_graph):
    quiet = copy.deepcopy(minimal_graph)
    quiet["nodes"][1]["disabled"] = True
    workflow = tenant.post("/api/v1/workflows", json={"name": "Quiet file", "graph": quiet}).json()
    step_id = quiet["nodes"][1]["id"]

    exported = tenant.get(f"/api/v1/workflows/{workflow['id']}/export")
    assert exported.status_code == 200, exported.text
    assert [n.get("disabled", False) for n in exported.json()["graph"]["nodes"]] == [False, True]

    bpmn = tenant.get(f"/api/v1/workflows/{workflow['id']}/export", params={"format": "bpmn"})
    assert bpmn.status_code == 200, bpmn.text
    assert f'node="{step_id}"' in bpmn.text and 'disabled="true"' in bpmn.text
    assert bpmn.text.count('disabled="true"') == 1  # the trigger's fy:node has none
    imported = tenant.post(
        "/api/v1/workflows/import",
        params={"format": "bpmn", "key": "quiet-copy", "name": "Quiet copy"},
        content=bpmn.text.encode(),
        headers={"content-type": "application/xml"},
    )
    assert imported.status_code == 201, imported.text
    copied = next(w for w in tenant.get("/api/v1/workflows").json() if w["name"] == "Quiet copy")
    nodes = tenant.get(f"/api/v1/workflows/{copied['id']}").json()["graph"]["nodes"]
    assert {n["id"]: n.get("disabled", False) for n in nodes} == {quiet["nodes"][0]["id"]: False, step_id: True}
