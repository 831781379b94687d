"""Workflows, versions and graph validation through the public API (no engine needed)."""

from __future__ import annotations

import copy

from tests.platform_api.test_auth import _problem


def test_create_read_update_keeps_immutable_versions(tenant, minimal_graph):
    created = tenant.post("/api/v1/workflows", json={"name": "Welcome", "graph": minimal_graph})
    assert created.status_code == 201, created.text
    workflow = created.json()
    assert (workflow["version"], workflow["status"], workflow["valid"]) == (1, "draft", True)

    changed = copy.deepcopy(minimal_graph)
    changed["nodes"][1]["config"]["message"] = "bye"
    updated = tenant.put(f"/api/v1/workflows/{workflow['id']}", json={"graph": changed, "base_version": 1})
    assert updated.status_code == 200, updated.text
    assert updated.json()["version"] == 2

    versions = tenant.get(f"/api/v1/workflows/{workflow['id']}/versions").json()
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[0]["created_by"] and "@" in versions[0]["created_by"]
    first = tenant.get(f"/api/v1/workflows/{workflow['id']}/versions/1").json()
    assert first["graph"]["nodes"][1]["config"]["message"] == "hi {{ trigger.name }}"
    assert tenant.get(f"/api/v1/workflows/{workflow['id']}").json()["graph"] == changed
    assert [w["name"] for w in tenant.get("/api/v1/workflows").json()] == ["Welcome"]


def test_invalid_save_is_refused_with_paths_and_previous_version_untouched(tenant, minimal_graph):
    workflow = tenant.post("/api/v1/workflows", json={"name": "Keep me", "graph": minimal_graph}).json()
    broken = copy.deepcopy(minimal_graph)
    broken["edges"].append({"id": "e2", "source": "say", "target": "nowhere"})
    body = _problem(tenant.put(f"/api/v1/workflows/{workflow['id']}", json={"graph": broken}), 422, "/invalid-graph")
    assert body["errors"][0]["path"].startswith("graph.edges[1]")
    assert body["errors"][0]["hint"]

    after = tenant.get(f"/api/v1/workflows/{workflow['id']}").json()
    assert after["version"] == 1 and after["graph"] == minimal_graph


def test_work_in_progress_can_be_saved_when_asked_but_not_published(tenant, minimal_graph):
    wip = copy.deepcopy(minimal_graph)
    wip["nodes"][1]["config"] = {}
    response = tenant.post("/api/v1/workflows", json={"name": "WIP", "graph": wip, "allow_invalid": True})
    assert response.status_code == 201
    assert response.json()["valid"] is False
    assert response.json()["errors"][0]["path"].startswith("graph.nodes[1].config")
    body = _problem(tenant.post(f"/api/v1/workflows/{response.json()['id']}/publish"), 422, "/invalid-graph")
    assert body["errors"]


def test_structurally_broken_graph_is_never_stored(tenant):
    body = _problem(
        tenant.post("/api/v1/workflows", json={"name": "junk", "graph": {"nodes": "lots"}, "allow_invalid": True}),
        422,
        "/invalid-graph",
    )
    assert body["errors"][0]["path"].startswith("graph.nodes")
    assert tenant.get("/api/v1/workflows").json() == []


def test_duplicate_name_is_a_conflict_on_the_name_field(tenant, minimal_graph):
    assert tenant.post("/api/v1/workflows", json={"name": "Same", "graph": minimal_graph}).status_code == 201
    body = _problem(tenant.post("/api/v1/workflows", json={"name": "Same", "graph": minimal_graph}), 409, "/name-taken")
    assert body["errors"][0]["path"] == "name"
    assert len(tenant.get("/api/v1/workflows").json()) == 1


def test_stale_base_version_is_a_conflict(tenant, minimal_graph):
    workflow = tenant.post("/api/v1/workflows", json={"name": "Race", "graph": minimal_graph}).json()
    assert (
        tenant.put(f"/api/v1/workflows/{workflow['id']}", json={"graph": minimal_graph, "base_version": 1}).status_code
        == 200
    )
    _problem(
        tenant.put(f"/api/v1/workflows/{workflow['id']}", json={"graph": minimal_graph, "base_version": 1}),
        409,
        "/version-conflict",
    )
    assert tenant.get(f"/api/v1/workflows/{workflow['id']}").json()["version"] == 2


def test_unknown_fields_and_wrong_types_are_named(tenant, minimal_graph):
    body = _problem(
        tenant.post("/api/v1/workflows", json={"name": 5, "graph": minimal_graph, "owner": "x"}),
        422,
        "/validation-error",
    )
    assert {"name", "owner"} <= {e["path"] for e in body["errors"]}


def test_oversized_body_is_413(tenant, minimal_graph):
    huge = copy.deepcopy(minimal_graph)
    huge["nodes"][1]["config"]["message"] = "x" * (1024 * 1024 + 10)
    body = _problem(tenant.post("/api/v1/workflows", json={"name": "huge", "graph": huge}), 413, "/payload-too-large")
    assert body["hint"]
    assert tenant.get("/api/v1/workflows").json() == []


def test_graph_over_500_nodes_is_413(tenant, minimal_graph):
    graph = copy.deepcopy(minimal_graph)
    for i in range(500):
        graph["nodes"].append(
            {"id": f"n{i}", "type": "util.log", "label": "", "config": {"message": "m"}, "position": {"x": 0, "y": 0}}
        )
    body = _problem(tenant.post("/api/v1/workflows", json={"name": "big", "graph": graph}), 413, "/graph-too-large")
    assert body["errors"][0]["path"] == "graph.nodes"


def test_expired_or_foreign_ids_answer_404(anonymous, minimal_graph):
    alice, bob = anonymous.signup(), anonymous.signup()
    workflow = alice.post("/api/v1/workflows", json={"name": "Mine", "graph": minimal_graph}).json()
    for path in (
        f"/api/v1/workflows/{workflow['id']}",
        "/api/v1/workflows/not-a-real-id",
        f"/api/v1/workflows/{workflow['id']}/versions",
    ):
        _problem(bob.get(path), 404, "/not-found")
    _problem(bob.put(f"/api/v1/workflows/{workflow['id']}", json={"name": "Yours"}), 404, "/not-found")
    assert alice.get(f"/api/v1/workflows/{workflow['id']}").json()["name"] == "Mine"


def test_validate_endpoint_reports_every_problem_with_path_and_hint(tenant, minimal_graph):
    ok = tenant.post("/api/v1/graphs/validate", json={"graph": minimal_graph}).json()
    assert ok == {"valid": True, "errors": [], "warnings": []}

    bad = copy.deepcopy(minimal_graph)
    bad["nodes"].append(
        {"id": "say", "type": "email.carrier_pigeon", "label": "", "config": {}, "position": {"x": 0, "y": 0}}
    )
    result = tenant.post("/api/v1/graphs/validate", json={"graph": bad}).json()
    assert result["valid"] is False
    messages = " ".join(e["message"] for e in result["errors"])
    assert "duplicate" in messages.lower() and "email.carrier_pigeon" in messages
    assert all(e["path"].startswith("nodes[2]") and e["hint"] for e in result["errors"])


def test_node_types_and_graph_schema_are_served(tenant):
    types = {t["type"]: t for t in tenant.get("/api/v1/node-types").json()}
    assert {"trigger.manual", "data.transform", "http.request", "util.log"} <= set(types)
    http = types["http.request"]
    assert http["config_schema"]["properties"]["url"]["description"]
    assert http["sample_output"] and http["category"]
    assert types["trigger.manual"]["inputs"] == []
    schema = tenant.get("/api/v1/schema/graph").json()
    assert "nodes" in schema["properties"] and "edges" in schema["properties"]


def test_publish_when_engine_is_down_changes_nothing(tenant, minimal_graph):
    workflow = tenant.post("/api/v1/workflows", json={"name": "Offline", "graph": minimal_graph}).json()
    body = _problem(tenant.post(f"/api/v1/workflows/{workflow['id']}/publish"), 503, "/engine-unavailable")
    assert body["hint"]
    after = tenant.get(f"/api/v1/workflows/{workflow['id']}").json()
    assert after["status"] == "draft" and after["published_version"] is None


def test_unknown_output_field_of_an_upstream_step_is_a_warning_with_a_suggestion(tenant, minimal_graph):
    graph = copy.deepcopy(minimal_graph)
    graph["nodes"].insert(
        1,
        {
            "id": "shape",
            "type": "data.transform",
            "label": "",
            "position": {"x": 0, "y": 0},
            "config": {"fields": {"email": "{{ trigger.email }}"}},
        },
    )
    graph["nodes"][2]["config"]["message"] = "to {{ steps.shape.output.emial }}"
    graph["edges"] = [
        {"id": "a", "source": "start", "target": "shape"},
        {"id": "b", "source": "shape", "target": "say"},
    ]
    result = tenant.post("/api/v1/graphs/validate", json={"graph": graph}).json()
    assert result["valid"] is True
    assert result["warnings"][0]["path"] == "nodes[2].config.message"
    assert "did you mean 'email'" in result["warnings"][0]["hint"]


def test_workspace_time_zone_is_validated(tenant):
    assert tenant.get("/api/v1/tenant").json()["time_zone"] == "UTC"
    body = _problem(
        tenant.request("PATCH", "/api/v1/tenant", json={"time_zone": "Mars/Olympus"}), 422, "/validation-error"
    )
    assert body["errors"][0]["path"] == "time_zone"
    assert (
        tenant.request("PATCH", "/api/v1/tenant", json={"time_zone": "Europe/Berlin"}).json()["time_zone"]
        == "Europe/Berlin"
    )


def test_run_input_is_checked_against_the_trigger_schema_field_by_field(tenant, minimal_graph):
    graph = copy.deepcopy(minimal_graph)
    graph["nodes"][0]["config"] = {
        "input_schema": {
            "type": "object",
            "required": ["email", "seats"],
            "properties": {"email": {"type": "string", "format": "email"}, "seats": {"type": "integer", "minimum": 1}},
        },
        "sample": {"email": "ada@example.com", "seats": 1},
    }
    created = tenant.post("/api/v1/workflows", json={"name": "Signup form", "graph": graph})
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]

    def refused(payload: dict) -> dict[str, str]:
        response = tenant.post(f"/api/v1/workflows/{workflow_id}/runs", json={"input": payload, "mode": "test"})
        return {e["path"]: e["message"] for e in _problem(response, 422, "invalid-input")["errors"]}

    assert refused({"seats": 0}) == {
        "input.email": "'email' is a required property",
        "input.seats": "0 is less than the minimum of 1",
    }
    assert list(refused({"email": "not an address", "seats": 2})) == ["input.email"]
    assert tenant.get("/api/v1/runs", params={"workflow_id": workflow_id}).json() == []


def test_tags_are_kept_with_the_workflow_and_checked(tenant, minimal_graph):
    created = tenant.post(
        "/api/v1/workflows", json={"name": "Tagged", "graph": minimal_graph, "tags": [" crm ", "crm"]}
    )
    assert created.status_code == 201, created.text
    assert created.json()["tags"] == ["crm"]
    updated = tenant.put(f"/api/v1/workflows/{created.json()['id']}", json={"tags": ["onboarding", "email"]})
    assert updated.json()["tags"] == ["onboarding", "email"] and updated.json()["version"] == 1
    assert [w["tags"] for w in tenant.get("/api/v1/workflows").json()] == [["onboarding", "email"]]

    body = _problem(tenant.put(f"/api/v1/workflows/{created.json()['id']}", json={"tags": ["x" * 41]}), 422, "")
    assert body["errors"][0]["path"] == "tags[0]", body
    assert tenant.get(f"/api/v1/workflows/{created.json()['id']}").json()["tags"] == ["onboarding", "email"]
