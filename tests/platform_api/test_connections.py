"""Connections through the public API without the workflow engine: a delete refused while workflows use the
connection names each of them, with its id, so that the builder can link to them. Block documents are kept
in a stand-in for Prefect's (`prefect_blocks`): whoever changes where a connection's secrets are sent must
be an admin or enter them again, and a block edited outside Flowyard is put back by saving it."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from blocks.base import IntegrationBlock
from blocks.crypto import tenant_cipher
from blocks.http import HttpAuthConnection
from platform_api.connections import service
from store import Connection
from store.db import get_session_factory
from tests.conftest import InProcessApi
from tests.platform_api.test_auth import _problem


def _saved_connection(db_url: str, tenant_id: str, name: str) -> str:
    """A connection row as POST /connections leaves it (its Prefect block is never read by a refused delete)."""
    with get_session_factory(db_url).begin() as db:
        row = Connection(
            tenant_id=tenant_id,
            type="sendgrid",
            name=name,
            block_name=f"t-{tenant_id[:8]}-sendgrid-{name}",
            config={},
            secrets_set={"api_key": True},
            status="ok",
        )
        db.add(row)
        db.flush()
        return row.id


def _emailing(graph: dict, connection_id: str) -> dict:
    graph = copy.deepcopy(graph)
    graph["nodes"].append(
        {
            "id": "mail",
            "type": "email.sendgrid",
            "label": "Email them",
            "config": {"connection": connection_id},
            "position": {"x": 400, "y": 0},
        }
    )
    graph["edges"].append({"id": "e2", "source": "say", "target": "mail"})
    return graph


def _workflow(tenant, name: str, graph: dict) -> dict:
    created = tenant.post("/api/v1/workflows", json={"name": name, "graph": graph, "allow_invalid": True})
    assert created.status_code == 201, created.text
    return created.json()


def test_deleting_a_connection_in_use_names_each_workflow_using_it(tenant, platform_db_url, minimal_graph):
    connection_id = _saved_connection(platform_db_url, tenant.signup_body["tenant"]["id"], "marketing")
    welcome = _workflow(tenant, "Welcome", _emailing(minimal_graph, connection_id))
    digest = _workflow(tenant, "Digest", _emailing(minimal_graph, connection_id))
    _workflow(tenant, "Unrelated", minimal_graph)
    switched = _workflow(tenant, "Switched", _emailing(minimal_graph, connection_id))
    assert (
        tenant.put(f"/api/v1/workflows/{switched['id']}", json={"graph": minimal_graph, "base_version": 1}).status_code
        == 200
    )

    body = _problem(tenant.delete(f"/api/v1/connections/{connection_id}"), 409, "/connection-in-use")
    assert body["detail"] == "Workflows use this connection: Digest, Welcome."
    assert body["hint"] == "Switch those workflows' steps to another connection first."
    assert body["errors"] == [
        {
            "path": "graph.nodes[2].config.connection",
            "message": "step 'Email them' of 'Digest' uses it",
            "hint": "Open the workflow and choose another connection in that step, or remove the step.",
            "workflow_id": digest["id"],
            "workflow_name": "Digest",
        },
        {
            "path": "graph.nodes[2].config.connection",
            "message": "step 'Email them' of 'Welcome' uses it",
            "hint": "Open the workflow and choose another connection in that step, or remove the step.",
            "workflow_id": welcome["id"],
            "workflow_name": "Welcome",
        },
    ]
    assert tenant.get(f"/api/v1/connections/{connection_id}").status_code == 200


def test_another_workspace_cannot_learn_which_workflows_use_a_connection(
    tenant, anonymous, platform_db_url, minimal_graph
):
    connection_id = _saved_connection(platform_db_url, tenant.signup_body["tenant"]["id"], "alerts")
    _workflow(tenant, "Welcome", _emailing(minimal_graph, connection_id))
    _problem(anonymous.signup().delete(f"/api/v1/connections/{connection_id}"), 404, "/not-found")


class BlockDocuments:
    """Prefect's block documents, as JSON data by name (what someone with Prefect access could edit)."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, Any]] = {}

    def save(self, settings, block: IntegrationBlock, name: str) -> None:
        self.data[name] = json.loads(json.dumps(block.model_dump(mode="json", context={"include_secrets": True})))

    def read(self, settings, block_type: type[IntegrationBlock], name: str) -> IntegrationBlock:
        return block_type.model_validate(copy.deepcopy(self.data[name]))


@pytest.fixture
def prefect_blocks(monkeypatch) -> BlockDocuments:
    documents = BlockDocuments()
    monkeypatch.setattr(service, "save_block", documents.save)
    monkeypatch.setattr(service, "read_block", documents.read)
    return documents


def _with_role(tenant, role: str) -> InProcessApi:
    created = tenant.post("/api/v1/api-keys", json={"name": role, "role": role})
    assert created.status_code == 201, created.text
    return InProcessApi(tenant.http, created.json()["key"])


def _api_connection(tenant, prefect_blocks) -> dict:
    created = tenant.post(
        "/api/v1/connections",
        json={
            "type": "http",
            "name": "Orders API",
            "config": {"base_url": "https://orders.example.com/v1", "auth": "bearer"},
            "secrets": {"token": "orders-token"},
        },
    )
    assert created.status_code == 201, created.text
    assert prefect_blocks.data[created.json()["block_name"]]["settings_mac"].startswith("fym2.")
    return created.json()


def _stored_token(tenant, prefect_blocks, connection: dict) -> str | None:
    """The token as a step would open it from the stored block."""
    settings = tenant.http.app.state.settings
    with get_session_factory(settings.platform_database_url).begin() as db:
        key = settings.master_key.get_secret_value()
        cipher = tenant_cipher(db, tenant.signup_body["tenant"]["id"], master_key=key)
    block = prefect_blocks.read(settings, HttpAuthConnection, connection["block_name"])
    return block.attach(cipher, connection["block_name"]).reveal("token")


def test_an_editor_cannot_point_a_connection_elsewhere_without_entering_its_secrets(tenant, prefect_blocks):
    connection = _api_connection(tenant, prefect_blocks)
    editor, path = _with_role(tenant, "editor"), f"/api/v1/connections/{connection['id']}"

    body = _problem(
        editor.request("PATCH", path, json={"config": {"base_url": "https://attacker.example"}}),
        403,
        "/secrets-needed-to-redirect",
    )
    assert body["errors"] == [
        {
            "path": "config.base_url",
            "message": "changes where the stored secrets are sent",
            "hint": "enter secrets.token again",
        }
    ]
    assert body["hint"] == "Enter secrets.token again in the same request, or ask an owner or admin to make the change."
    blank = editor.request(
        "PATCH", path, json={"config": {"base_url": "https://attacker.example"}, "secrets": {"token": ""}}
    )
    _problem(blank, 403, "/secrets-needed-to-redirect")  # a blank secret keeps the stored one: refused the same
    assert tenant.get(path).json()["config"]["base_url"] == "https://orders.example.com/v1"
    assert _stored_token(tenant, prefect_blocks, connection) == "orders-token"

    # Settings that do not decide where the secrets go, or a new URL with the secret typed again, are fine.
    assert editor.request("PATCH", path, json={"config": {"scope": "orders"}}).status_code == 200
    moved = editor.request(
        "PATCH", path, json={"config": {"base_url": "https://orders-v2.example.com"}, "secrets": {"token": "t2"}}
    )
    assert moved.status_code == 200, moved.text
    assert _stored_token(tenant, prefect_blocks, connection) == "t2"
    # An admin may move it and keep the secret.
    assert (
        tenant.request("PATCH", path, json={"config": {"base_url": "https://orders-v3.example.com"}}).status_code == 200
    )
    assert _stored_token(tenant, prefect_blocks, connection) == "t2"
    _problem(_with_role(tenant, "operator").request("PATCH", path, json={"config": {"scope": "x"}}), 403, "/forbidden")
    _problem(editor.request("PATCH", path, json={"use_for_alerts": True}), 403, "/forbidden")


def test_a_block_edited_outside_flowyard_fails_its_test_until_saved_again(tenant, prefect_blocks):
    connection = _api_connection(tenant, prefect_blocks)
    path = f"/api/v1/connections/{connection['id']}"
    prefect_blocks.data[connection["block_name"]]["base_url"] = "https://attacker.example"

    tested = tenant.post(f"{path}/test")
    assert tested.status_code == 200
    assert tested.json() == {
        "ok": False,
        "message": "The stored settings of connection 'Orders API' were changed outside Flowyard, "
        "so its secrets were not used.",
        "hint": "Open it in Settings → Connections and save it again.",
    }
    assert tenant.get(path).json()["status"] == "failed"

    saved = tenant.request("PATCH", path, json={})  # saving it again puts back what Flowyard recorded
    assert saved.status_code == 200, saved.text
    assert prefect_blocks.data[connection["block_name"]]["base_url"] == "https://orders.example.com/v1"
    assert _stored_token(tenant, prefect_blocks, connection) == "orders-token"
    assert "outside Flowyard" not in tenant.post(f"{path}/test").json()["message"]  # tested as any other
