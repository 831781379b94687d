"""Connections through the public API without the workflow engine: a delete refused while workflows use the
connection names each of them, with its id, so that the builder can link to them."""

from __future__ import annotations

import copy

from store import Connection
from store.db import get_session_factory
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
