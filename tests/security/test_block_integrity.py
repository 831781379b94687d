"""A connection is bound to where it may be sent: whoever can edit its block document in Prefect cannot
point it elsewhere. On `flowyard up` (both databases): a tenant's connections are saved through the API,
then their block documents are edited through Prefect's own API, as an attacker with Prefect access
would. The step and the connection test fail with a clear message and the attacker's server receives
nothing; saving the connection again through Flowyard puts it back. An editor cannot repoint an http
connection without entering its secret again."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support import Api, edge, graph, node, prefect_http, steps_by_node

pytestmark = [pytest.mark.stack, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

CHANGED = "were changed outside Flowyard, so its secrets were not used."
SAVE_AGAIN = "Open it in Settings → Connections and save it again."


def _edit_block(stack, block_name: str, type_slug: str, **changes: Any) -> None:
    with prefect_http(stack) as prefect:
        found = prefect.get(
            f"/block_types/slug/flowyard-{type_slug}/block_documents/name/{block_name}",
            params={"include_secrets": "true"},
        )
        assert found.status_code == 200, found.text
        document = found.json()
        edited = prefect.patch(
            f"/block_documents/{document['id']}",
            json={"data": {**document["data"], **changes}, "merge_existing_data": False},
        )
        assert edited.status_code == 204, edited.text
        after = prefect.get(f"/block_documents/{document['id']}", params={"include_secrets": "true"}).json()
        assert all(after["data"][name] == value for name, value in changes.items())


def _connect(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    created = api.post("/api/v1/connections", json=body)
    assert created.status_code == 201, created.text
    return created.json()


def _test_run(api: Api, step: dict[str, Any]) -> dict[str, Any]:
    """A test run of a workflow with one step after a manual trigger: the run and that step."""
    workflow = api.post(
        "/api/v1/workflows",
        json={
            "name": f"Uses a connection {uuid.uuid4().hex[:6]}",
            "graph": graph([node("start", "trigger.manual"), step], [edge("start", step["id"])]),
        },
    )
    assert workflow.status_code == 201, workflow.text
    accepted = api.post(f"/api/v1/workflows/{workflow.json()['id']}/runs", json={"mode": "test", "input": {}})
    assert accepted.status_code == 202, accepted.text
    run = api.wait_for_run(accepted.json()["run_id"])
    return {"run": run, "step": steps_by_node(run)[step["id"]]}


def _assert_refused(result: dict[str, Any], connection_name: str) -> None:
    assert result["run"]["status"] == "failed", result["run"]
    error = result["step"]["error"]
    assert error["message"] == f"The stored settings of connection '{connection_name}' {CHANGED}", error
    assert error["hint"] == SAVE_AGAIN and error["retryable"] is False


def _assert_test_refused(api: Api, connection: dict[str, Any]) -> None:
    tested = api.post(f"/api/v1/connections/{connection['id']}/test")
    assert tested.status_code == 200, tested.text
    assert tested.json() == {
        "ok": False,
        "message": f"The stored settings of connection '{connection['name']}' {CHANGED}",
        "hint": SAVE_AGAIN,
    }


def test_a_mastodon_connection_repointed_in_prefect_sends_its_token_nowhere(stack, fake_services, target_server):
    alice = Api(stack.api_url).signup()
    token = fake_services.mastodon.add_token(f"alice{uuid.uuid4().hex[:6]}")
    connection = _connect(
        alice,
        {
            "type": "mastodon",
            "name": "Fediverse",
            "config": {"instance_url": fake_services.mastodon.url},
            "secrets": {"access_token": token},
        },
    )
    _edit_block(stack, connection["block_name"], "mastodon", instance_url=target_server.url)
    seen_before = len(target_server.requests)

    toot = node("toot", "social.mastodon.post", {"connection": connection["id"], "status": "Spring sale!"})
    _assert_refused(_test_run(alice, toot), "Fediverse")  # a test run checks the token: it would have sent it
    _assert_test_refused(alice, connection)
    assert target_server.requests[seen_before:] == []
    assert all(token not in str(r.headers) for r in target_server.requests)

    saved = alice.request("PATCH", f"/api/v1/connections/{connection['id']}", json={})  # saved again in Flowyard
    assert saved.status_code == 200, saved.text
    assert saved.json()["config"]["instance_url"] == fake_services.mastodon.url
    assert alice.post(f"/api/v1/connections/{connection['id']}/test").json()["ok"] is True
    assert _test_run(alice, toot)["run"]["status"] == "completed"
    assert target_server.requests[seen_before:] == []


def test_a_sendgrid_connection_edited_in_prefect_sends_nothing_until_saved_again(stack, fake_services):
    alice = Api(stack.api_url).signup()
    key = fake_services.sendgrid.add_key()
    connection = _connect(
        alice,
        {
            "type": "sendgrid",
            "name": "Marketing",
            "config": {"from_email": "hello@alice-bakery.com"},
            "secrets": {"api_key": key},
        },
    )
    _edit_block(stack, connection["block_name"], "sendgrid", from_email="billing@attacker.example")
    received = len(fake_services.sendgrid.received())

    subject = f"Fresh bread {uuid.uuid4().hex[:6]}"
    email = node(
        "mail",
        "email.sendgrid",
        {"connection": connection["id"], "to": "rosa@example.com", "subject": subject, "text": "Out of the oven."},
    )
    _assert_refused(_test_run(alice, email), "Marketing")
    _assert_test_refused(alice, connection)
    assert len(fake_services.sendgrid.received()) == received  # SendGrid never saw the key

    assert alice.request("PATCH", f"/api/v1/connections/{connection['id']}", json={}).status_code == 200
    assert _test_run(alice, email)["run"]["status"] == "completed"
    (sandboxed,) = [m for m in fake_services.sendgrid.sandboxed if m.get("subject") == subject]
    assert sandboxed["from"]["email"] == "hello@alice-bakery.com"  # the sender Flowyard recorded


def test_an_editor_cannot_repoint_an_http_connection_without_its_secret(stack):
    owner = Api(stack.api_url).signup()
    connection = _connect(
        owner,
        {
            "type": "http",
            "name": "Orders",
            "config": {"base_url": "https://orders.example.com/v1", "auth": "bearer"},
            "secrets": {"token": "orders-token"},
        },
    )
    key = owner.post("/api/v1/api-keys", json={"name": "editor", "role": "editor"})
    assert key.status_code == 201, key.text
    editor = Api(stack.api_url, key.json()["key"])
    path = f"/api/v1/connections/{connection['id']}"

    refused = editor.request("PATCH", path, json={"config": {"base_url": "https://attacker.example"}})
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    body = refused.json()
    assert [e["path"] for e in body["errors"]] == ["config.base_url"]
    assert "secrets.token" in body["hint"]
    assert owner.get(path).json()["config"]["base_url"] == "https://orders.example.com/v1"

    entered = editor.request(
        "PATCH", path, json={"config": {"base_url": "https://orders.example.com/v2"}, "secrets": {"token": "t2"}}
    )
    assert entered.status_code == 200, entered.text
