"""Workflow files: export and import by key, within a workspace and across workspaces (no engine needed)."""

from __future__ import annotations

import copy
import json
import uuid

import jsonschema
import yaml

from flow_factory.graph import Graph
from store import Connection, ConnectionStatus
from store.db import get_session_factory
from tests.platform_api.test_audit import _events
from tests.platform_api.test_auth import _problem


def _add_connection(db_url: str, api, kind: str, name: str) -> str:
    """A connection row of the workspace (its block would live in Prefect, which these tests do without)."""
    with get_session_factory(db_url).begin() as db:
        row = Connection(
            tenant_id=api.signup_body["tenant"]["id"],
            type=kind,
            name=name,
            block_name=f"test-{uuid.uuid4().hex}",
            config={},
            secrets_set={"api_key": True},
            status=ConnectionStatus.OK,
        )
        db.add(row)
        db.flush()
        return row.id


def _mailing_graph(connection: str) -> dict:
    return {
        "nodes": [
            {"id": "start", "type": "trigger.manual", "label": "Start", "config": {}, "position": {"x": 0, "y": 0}},
            {
                "id": "mail",
                "type": "email.sendgrid",
                "label": "Welcome mail",
                "config": {"connection": connection, "to": "{{ trigger.email }}", "subject": "Hi", "text": "Welcome"},
                "position": {"x": 250, "y": 0},
            },
            {
                "id": "tell",
                "type": "http.request",
                "label": "Tell the CRM",
                "config": {
                    "method": "POST",
                    "url": "https://crm.example.com/leads",
                    "headers": {"Authorization": "Bearer s3cret-value", "X-Source": "flowyard"},
                },
                "position": {"x": 500, "y": 0},
            },
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "mail"},
            {"id": "e2", "source": "mail", "target": "tell"},
        ],
    }


def _document(key: str, graph: dict, **more) -> dict:
    return {"format": "flowyard.workflow", "format_version": 1, "key": key, "name": key.title(), "graph": graph, **more}


def _import(api, document, *, dry_run: bool = False, expect: int = 200, path: str = "/api/v1/workflows/import"):
    response = api.post(path, params={"dry_run": str(dry_run).lower()}, json=document)
    assert response.status_code == expect, response.text
    return response.json()


def _export(api, workflow_id: str, fmt: str = "flowyard"):
    response = api.get(f"/api/v1/workflows/{workflow_id}/export", params={"format": fmt})
    assert response.status_code == 200, response.text
    return response


def _without_schema(document: dict) -> dict:
    return {k: v for k, v in document.items() if k != "$schema"}


def test_export_import_round_trip_into_another_workspace(tenant, anonymous, platform_db_url):
    source, target = tenant, anonymous.signup()
    source_mail = _add_connection(platform_db_url, source, "sendgrid", "Main")
    target_mail = _add_connection(platform_db_url, target, "sendgrid", "Main")
    created = source.post(
        "/api/v1/workflows",
        json={"name": "Welcome Leads", "description": "Greets new leads", "graph": _mailing_graph(source_mail)},
    ).json()
    source.put(f"/api/v1/workflows/{created['id']}", json={"conflict_policy": "queue"})

    exported = _export(source, created["id"])
    assert exported.headers["content-type"].startswith("application/json")
    document = exported.json()
    assert document["key"] == "welcome-leads" and document["format"] == "flowyard.workflow"
    assert document["$schema"].endswith("/api/v1/schema/export")
    assert document["connections"] == [{"type": "sendgrid", "name": "Main"}]
    assert document["graph"]["nodes"][1]["config"]["connection"] == "Main"
    assert "s3cret" not in exported.text and document["graph"]["nodes"][2]["config"]["headers"]["Authorization"] == ""
    assert document["settings"] == {"conflict_policy": "queue", "max_parallel": None}
    assert _export(source, created["id"]).json()["key"] == "welcome-leads"  # the key is kept

    # back into its own workspace with tags added: the secret left empty keeps the stored value
    document["tags"] = ["onboarding", "email"]
    again = _import(source, document)
    assert (again["action"], again["changed"], again["version"]) == ("update", ["tags"], 1)
    assert again["setup"] == [] and again["diff"]["unchanged"] is True
    stored = source.get(f"/api/v1/workflows/{created['id']}").json()["graph"]
    assert stored == _mailing_graph(source_mail)

    # into another workspace: same workflow, its own connection, the secret a setup step
    result = _import(target, _export(source, created["id"]).json(), expect=201)
    assert result["action"] == "create" and result["version"] == 1 and result["workflow_id"]
    assert [n["id"] for n in result["diff"]["nodes_added"]] == ["start", "mail", "tell"]
    assert result["setup"] == [
        {
            "type": "secret",
            "name": "graph.nodes[2].config.headers.Authorization",
            "hint": "fill in 'Authorization' of step 'Tell the CRM' in the builder",
        }
    ]
    copied = target.get(f"/api/v1/workflows/{result['workflow_id']}").json()
    assert copied["graph"]["nodes"][1]["config"]["connection"] == target_mail
    assert (copied["name"], copied["description"], copied["conflict_policy"]) == (
        "Welcome Leads",
        "Greets new leads",
        "queue",
    )
    assert _without_schema(_export(target, result["workflow_id"]).json()) == _without_schema(
        _export(source, created["id"]).json()
    )
    assert _import(target, document)["action"] == "unchanged"


def test_update_shows_the_diff_and_dry_runs_write_nothing(tenant, minimal_graph):
    document = _document("greeter", minimal_graph, description="says hi")
    would = _import(tenant, document, dry_run=True)
    assert (would["action"], would["dry_run"], would["workflow_id"], would["version"]) == ("create", True, None, 1)
    assert tenant.get("/api/v1/workflows").json() == []

    created = _import(tenant, document, expect=201)
    assert _import(tenant, document) | {"diff": None} == {
        **created,
        "action": "unchanged",
        "diff": None,
        "changed": [],
    }

    edited = copy.deepcopy(document)
    edited["graph"]["nodes"][1]["config"]["message"] = "hello {{ trigger.name }}"
    edited["graph"]["nodes"].append(
        {"id": "bye", "type": "util.log", "label": "Bye", "config": {"message": "bye"}, "position": {"x": 400, "y": 0}}
    )
    edited["graph"]["edges"].append({"id": "e2", "source": "say", "target": "bye"})
    preview = _import(tenant, edited, dry_run=True)
    assert (preview["action"], preview["version"], preview["changed"]) == ("update", 2, ["graph"])
    assert [n["id"] for n in preview["diff"]["nodes_added"]] == ["bye"]
    assert preview["diff"]["nodes_changed"][0]["fields"] == [
        {
            "path": "config.message",
            "before": "hi {{ trigger.name }}",
            "after": "hello {{ trigger.name }}",
            "secret": False,
        }
    ]
    assert tenant.get(f"/api/v1/workflows/{created['workflow_id']}").json()["version"] == 1

    updated = _import(tenant, edited)
    assert (updated["action"], updated["version"], updated["workflow_id"]) == ("update", 2, created["workflow_id"])
    assert tenant.get(f"/api/v1/workflows/{created['workflow_id']}").json()["graph"] == edited["graph"]
    assert _import(tenant, edited)["action"] == "unchanged"
    audited = [(e["action"], e["detail"]) for e in _events(tenant, target=f"workflow:{created['workflow_id']}")]
    assert audited == [
        ("workflow.updated", {"version": 2, "changed": ["graph"], "from_file": "greeter"}),
        ("workflow.created", {"name": "Greeter", "from_file": "greeter"}),
    ]


def test_a_missing_connection_is_a_setup_step_and_publishing_waits_for_it(tenant, platform_db_url):
    document = _document(
        "welcome", _mailing_graph("Marketing"), connections=[{"type": "sendgrid", "name": "Marketing"}]
    )
    document["graph"]["nodes"].pop()
    document["graph"]["edges"].pop()
    result = _import(tenant, document, expect=201)
    assert [(s["type"], s["name"]) for s in result["setup"]] == [("sendgrid", "Marketing")]
    assert "POST /api/v1/connections" in result["setup"][0]["hint"]
    body = _problem(tenant.post(f"/api/v1/workflows/{result['workflow_id']}/publish"), 422, "/invalid-graph")
    assert body["errors"][0]["path"] == "graph.nodes[1].config.connection"

    connection = _add_connection(platform_db_url, tenant, "sendgrid", "Marketing")  # set up, then import again
    again = _import(tenant, document)
    assert (again["action"], again["setup"]) == ("update", [])
    assert again["diff"]["nodes_changed"][0]["fields"][0]["after"] == connection


def test_invalid_files_are_refused_with_paths_and_hints(tenant, minimal_graph):
    broken = _document("broken", copy.deepcopy(minimal_graph))
    broken["graph"]["nodes"][1]["config"] = {}
    broken["graph"]["edges"].append({"id": "e2", "source": "say", "target": "nowhere"})
    body = _problem(tenant.post("/api/v1/workflows/import", json=broken), 422, "/invalid-workflow-file")
    paths = [e["path"] for e in body["errors"]]
    assert any(p.startswith("graph.nodes[1].config") for p in paths) and any(
        p.startswith("graph.edges[1]") for p in paths
    )
    assert all(e["hint"] for e in body["errors"])

    for key in ("../../etc/passwd", "a/b", "Upper", "", "x" * 101, ".hidden"):
        body = _problem(
            tenant.post("/api/v1/workflows/import", json=_document("x", minimal_graph) | {"key": key}),
            422,
            "/invalid-workflow-file",
        )
        assert body["errors"][0]["path"] == "key" and "lowercase" in body["errors"][0]["hint"]

    body = _problem(
        tenant.post("/api/v1/workflows/import", json=_document("extra", minimal_graph) | {"owner": "me"}),
        422,
        "/invalid-workflow-file",
    )
    assert body["errors"][0]["path"] == "owner"

    workspace = {"format": "flowyard.workspace", "format_version": 1}
    workspace["workflows"] = [_document("fine", minimal_graph), broken]
    body = _problem(tenant.post("/api/v1/workspace/import", json=workspace), 422, "/invalid-workflow-file")
    assert body["errors"][0]["path"].startswith("workflows[1].graph.")
    workspace["workflows"] = [_document("fine", minimal_graph), _document("fine", minimal_graph)]
    body = _problem(tenant.post("/api/v1/workspace/import", json=workspace), 422, "/invalid-workflow-file")
    assert {e["path"] for e in body["errors"]} == {"workflows[1].key", "workflows[1].name"}
    assert tenant.get("/api/v1/workflows").json() == []


def test_a_name_taken_by_another_workflow_is_a_conflict(tenant, minimal_graph):
    tenant.post("/api/v1/workflows", json={"name": "Welcome", "graph": minimal_graph})
    body = _problem(
        tenant.post("/api/v1/workflows/import", json=_document("welcome", minimal_graph)), 409, "/name-taken"
    )
    assert body["errors"][0]["path"] == "name" and "export" in body["hint"]


def test_yaml_is_the_same_document_as_json(tenant, minimal_graph):
    created = _import(tenant, _document("greeter", minimal_graph, tags=["a"]), expect=201)
    as_json = _export(tenant, created["workflow_id"]).json()
    as_yaml = _export(tenant, created["workflow_id"], "yaml")
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(as_yaml.text) == as_json
    assert list(yaml.safe_load(as_yaml.text)) == list(as_json)  # the same order of fields

    sent = tenant.post("/api/v1/workflows/import", content=as_yaml.text, headers={"Content-Type": "application/yaml"})
    assert sent.status_code == 200 and sent.json()["action"] == "unchanged", sent.text
    by_format = tenant.post("/api/v1/workflows/import", params={"format": "yaml"}, content=as_yaml.text)
    assert by_format.json()["action"] == "unchanged"

    bomb = "a: &a [x, x]\nb: &b [*a, *a]\nkey: k\n"
    body = _problem(
        tenant.post("/api/v1/workflows/import", content=bomb, headers={"Content-Type": "application/yaml"}),
        422,
        "/invalid-workflow-file",
    )
    assert "aliases" in body["detail"]
    tagged = "key: k\nname: !!binary aGVsbG8=\n"
    _problem(
        tenant.post("/api/v1/workflows/import", params={"format": "yaml"}, content=tagged),
        422,
        "/invalid-workflow-file",
    )


def test_the_schema_is_served_and_exports_validate_against_it(tenant, anonymous, minimal_graph, platform_db_url):
    schema = anonymous.get("/api/v1/schema/export").json()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    connection = _add_connection(platform_db_url, tenant, "sendgrid", "Main")
    for key, graph in (("small", minimal_graph), ("mailing", _mailing_graph(connection))):
        created = _import(tenant, _document(key, graph), expect=201)
        validator.validate(_export(tenant, created["workflow_id"]).json())
        validator.validate(yaml.safe_load(_export(tenant, created["workflow_id"], "yaml").text))
    assert not validator.is_valid(_document("x", minimal_graph) | {"surprise": 1})
    assert not validator.is_valid(_document("../x", minimal_graph))
    bad_graph = _document("x", {"nodes": [{"id": "a", "type": "util.log", "colour": "red"}]})
    assert not validator.is_valid(bad_graph)


def test_the_workspace_exports_and_imports_as_one_file(tenant, anonymous, minimal_graph):
    _import(tenant, _document("one", minimal_graph), expect=201)
    tenant.post("/api/v1/workflows", json={"name": "Made In The Builder", "graph": minimal_graph})
    exported = tenant.get("/api/v1/workspace/export")
    assert exported.status_code == 200, exported.text
    bundle = exported.json()
    assert bundle["format"] == "flowyard.workspace"
    assert sorted(d["key"] for d in bundle["workflows"]) == ["made-in-the-builder", "one"]

    other = anonymous.signup()
    preview = _import(other, bundle, dry_run=True, path="/api/v1/workspace/import")
    assert [r["action"] for r in preview["results"]] == ["create", "create"]
    assert other.get("/api/v1/workflows").json() == []
    done = _import(other, bundle, path="/api/v1/workspace/import")
    assert all(r["workflow_id"] for r in done["results"])
    again = other.post(
        "/api/v1/workspace/import",
        content=tenant.get("/api/v1/workspace/export", params={"format": "yaml"}).text,
        headers={"Content-Type": "application/yaml"},
    )
    assert [r["action"] for r in again.json()["results"]] == ["unchanged", "unchanged"], again.text


def test_hostile_requests_are_refused(tenant, anonymous, minimal_graph):
    created = _import(tenant, _document("mine", minimal_graph), expect=201)
    stranger = anonymous.signup()
    _problem(stranger.get(f"/api/v1/workflows/{created['workflow_id']}/export"), 404, "/not-found")
    _problem(anonymous.get(f"/api/v1/workflows/{created['workflow_id']}/export"), 401, "/unauthorized")
    # importing the same key elsewhere touches only the importer's workspace
    assert _import(stranger, _document("mine", minimal_graph), expect=201)["workflow_id"] != created["workflow_id"]

    huge = _document("huge", copy.deepcopy(minimal_graph))
    huge["graph"]["nodes"][1]["config"]["message"] = "x" * 1_100_000
    _problem(tenant.post("/api/v1/workflows/import", content=json.dumps(huge)), 413, "/payload-too-large")
    viewer_key = tenant.post("/api/v1/api-keys", json={"name": "ro", "role": "viewer"}).json()["key"]
    viewer = type(tenant)(tenant.http, viewer_key)
    _problem(viewer.post("/api/v1/workflows/import", json=_document("nope", minimal_graph)), 403, "/forbidden")
    _problem(tenant.post("/api/v1/workflows/import", content=b"\xff\xfe"), 422, "/invalid-workflow-file")
    _problem(tenant.post("/api/v1/workflows/import", content="[" * 100_000), 422, "/invalid-workflow-file")


def test_bpmn_exports_and_imports_as_the_same_workflow(tenant, anonymous, platform_db_url):
    connection = _add_connection(platform_db_url, tenant, "sendgrid", "Main")
    created = _import(tenant, _document("9-lives", _mailing_graph(connection), tags=["t"]), expect=201)
    exported = _export(tenant, created["workflow_id"], "bpmn")
    assert exported.headers["content-type"].startswith("application/xml")
    assert "<bpmn:definitions" in exported.text and "s3cret" not in exported.text

    again = tenant.post("/api/v1/workflows/import", params={"format": "bpmn"}, content=exported.content)
    assert again.status_code == 200, again.text
    assert (again.json()["key"], again.json()["action"]) == ("9-lives", "unchanged")  # tags and secret kept

    other = anonymous.signup()
    copied = other.post("/api/v1/workflows/import", params={"format": "bpmn"}, content=exported.content)
    assert copied.status_code == 201, copied.text
    assert [(s["type"], s["name"]) for s in copied.json()["setup"]] == [
        ("sendgrid", "Main"),
        ("secret", "graph.nodes[2].config.headers.Authorization"),
    ]
    graphs = [
        _export(api, i).json()["graph"]
        for api, i in ((other, copied.json()["workflow_id"]), (tenant, created["workflow_id"]))
    ]
    assert Graph.model_validate(graphs[0]) == Graph.model_validate(graphs[1])
    hostile = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    body = _problem(
        tenant.post("/api/v1/workflows/import", params={"format": "bpmn"}, content=hostile),
        422,
        "/invalid-workflow-file",
    )
    assert body["errors"][0]["path"] == "body" and "DOCTYPE" in body["detail"]


def test_the_template_link_travels_with_the_file(tenant, anonymous, platform_db_url):
    for kind in ("twilio", "sendgrid"):
        _add_connection(platform_db_url, tenant, kind, "Main")
    made = tenant.post(
        "/api/v1/templates/new-lead-welcome-sms-follow-up/instantiate",
        json={"name": "Bakery leads", "parameters": {"wait_days": 3, "business_name": "Alice's Bakery"}},
    )
    assert made.status_code == 201, made.text
    document = _export(tenant, made.json()["workflow"]["id"]).json()
    assert document["template"]["slug"] == "new-lead-welcome-sms-follow-up"
    assert document["template"]["parameters"]["wait_days"] == 3

    other = anonymous.signup()
    copied = _import(other, document, expect=201)
    assert {s["type"] for s in copied["setup"]} <= {"twilio", "sendgrid"} and copied["setup"]
    read = other.get(f"/api/v1/workflows/{copied['workflow_id']}").json()
    assert read["template"] == document["template"]
