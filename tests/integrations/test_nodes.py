"""The integration node types as the interpreter sees them: declared from the blocks' actions, configs
rendered from templates and checked before any call, CRM steps idempotent per execution and node."""

from __future__ import annotations

import logging
import uuid

import pytest
from sqlalchemy import func, select

from core.errors import StepFailure
from flow_factory.expressions import make_context, render_value
from flow_factory.nodes import NODE_TYPES, describe_all
from flow_factory.nodes.base import StepContext
from flow_factory.validation import validate_graph
from store import Outbox

INTEGRATION_TYPES = {
    "email.sendgrid",
    "sms.twilio",
    "social.x.post",
    "social.mastodon.post",
    "sql.query",
    "crm.find_contact",
    "crm.create_contact",
    "crm.update_contact",
    "crm.upsert_contact",
    "crm.add_tag",
    "crm.remove_tag",
    "crm.create_deal",
    "crm.move_deal_stage",
    "crm.log_activity",
}


def step_ctx(tenant, node_id="crm", execution_id=None, mode="live") -> StepContext:
    return StepContext(execution_id or str(uuid.uuid4()), tenant.id, node_id, mode, logging.getLogger("flowyard.test"))


async def run_node(type_name, raw_config, ctx, trigger=None, steps=None):
    """Like the interpreter: render the templates, validate into the config model, run."""
    context = make_context(
        trigger=trigger or {},
        steps={node: {"output": output} for node, output in (steps or {}).items()},
        execution_id=ctx.execution_id,
        mode=ctx.mode,
    )
    node_type = NODE_TYPES[type_name]
    return await node_type.run(node_type.parse_config(render_value(raw_config, context)), ctx)


def test_catalog_is_derived_from_the_actions():
    described = {d["type"]: d for d in describe_all()}
    assert INTEGRATION_TYPES <= set(described)
    email = described["email.sendgrid"]
    assert email["category"] == "Integrations" and email["outputs"] == ["default", "error"]
    assert email["config_schema"]["properties"]["connection"]["x-connection-type"] == "sendgrid"
    assert set(email["config_schema"]["required"]) == {"to", "connection"}
    assert NODE_TYPES["email.sendgrid"].extra["output_schema"]["properties"]["message_id"]
    assert "connection" not in described["crm.upsert_contact"]["config_schema"]["properties"]


def _graph(node: dict) -> dict:
    return {
        "nodes": [{"id": "start", "type": "trigger.manual", "config": {}}, {"id": "step", **node}],
        "edges": [{"id": "e", "source": "start", "target": "step"}],
    }


def test_design_time_checks():
    ok = _graph(
        {
            "type": "email.sendgrid",
            "config": {
                "connection": "c1",
                "to": "{{ trigger.email }}",
                "subject": "Hi",
                "text": "Hello {{ trigger.name }}",
            },
        }
    )
    assert validate_graph(ok) == []
    missing = validate_graph(_graph({"type": "sms.twilio", "config": {"body": "hi"}}))
    assert {e.path for e in missing} == {"nodes[1].config.to", "nodes[1].config.connection"}
    templated = validate_graph(
        _graph({"type": "email.sendgrid", "config": {"connection": "{{ trigger.c }}", "to": ["a@b.co"]}})
    )
    assert [e.message for e in templated] == ["the connection cannot come from a template"]
    injected = validate_graph(
        _graph(
            {
                "type": "sql.query",
                "config": {"connection": "c1", "query": "SELECT * FROM t WHERE email = '{{ trigger.email }}'"},
            }
        )
    )
    assert injected[0].path == "nodes[1].config.query" and ":name" in injected[0].hint


async def test_required_field_rendered_empty_is_named(acme):
    with pytest.raises(StepFailure) as caught:
        await run_node(
            "sms.twilio",
            {"connection": "c1", "to": "{{ trigger.phone }}", "body": "hi"},
            step_ctx(acme),
            trigger={"phone": ""},
        )
    assert "required field 'to' is empty" in caught.value.message
    with pytest.raises(StepFailure) as bad:
        await run_node(
            "email.sendgrid",
            {"connection": "c1", "to": "{{ trigger.email }}", "subject": "s", "text": "t"},
            step_ctx(acme),
            trigger={"email": "jane(at)example.com"},
        )
    assert "is not a valid email address" in bad.value.message and not bad.value.retryable


async def test_crm_steps_write_once_per_execution_and_node(acme):
    ctx = step_ctx(acme, "upsert")
    address = f"lead-{uuid.uuid4().hex[:6]}@example.com"
    config = {
        "email": "{{ trigger.email }}",
        "first_name": "{{ trigger.name }}",
        "phone": "{{ trigger.phone }}",
        "tags": ["lead"],
    }
    trigger = {"email": address, "name": "Lea", "phone": 4915123456789}  # a number: coerced to text, then checked
    with pytest.raises(StepFailure, match="not a phone number in international format"):
        await run_node("crm.upsert_contact", config, ctx, trigger=trigger)
    trigger["phone"] = "+49 151 23456789"
    first = await run_node("crm.upsert_contact", config, ctx, trigger=trigger)
    again = await run_node("crm.upsert_contact", config, ctx, trigger=trigger)  # a retry of the same step
    assert first == again and first["created"] is True and first["contact"]["phone"] == "+4915123456789"
    contact_id = first["contact"]["id"]
    with acme.sessions()() as db:
        assert db.scalar(select(func.count()).where(Outbox.record_id == contact_id)) == 1

    later = await run_node("crm.upsert_contact", {"email": address, "last_name": "Ng"}, step_ctx(acme, "upsert"))
    assert (
        later["created"] is False and later["contact"]["last_name"] == "Ng" and later["contact"]["first_name"] == "Lea"
    )
    tagged = await run_node("crm.add_tag", {"contact": address, "tag": "VIP"}, step_ctx(acme, "tag"))
    assert tagged["contact"]["tags"] == ["lead", "vip"]
    untagged = await run_node("crm.remove_tag", {"contact": contact_id, "tag": "lead"}, step_ctx(acme, "untag"))
    assert untagged["contact"]["tags"] == ["vip"]
    found = await run_node("crm.find_contact", {"phone": "+4915123456789"}, step_ctx(acme, "find"))
    assert found["found"] and found["contact"]["id"] == contact_id
    none = await run_node("crm.find_contact", {"email": "nobody@example.com"}, step_ctx(acme, "find"))
    assert none == {"found": False, "contact": None}

    deal = await run_node(
        "crm.create_deal", {"title": "Plan", "amount": "1200.50", "contact": address}, step_ctx(acme, "deal")
    )
    assert deal["deal"]["amount"] == 1200.5 and deal["deal"]["contact_id"] == contact_id
    moved = await run_node(
        "crm.move_deal_stage", {"deal_id": deal["deal"]["id"], "stage": "won"}, step_ctx(acme, "move")
    )
    assert (moved["previous_stage"], moved["deal"]["stage"]) == ("lead", "won")
    note = await run_node(
        "crm.log_activity", {"contact": address, "kind": "email", "body": "Sent welcome"}, step_ctx(acme, "note")
    )
    assert note["kind"] == "email" and note["contact_id"] == contact_id
    with acme.sessions()() as db:
        topics = db.scalars(select(Outbox.topic).where(Outbox.tenant_id == acme.id).order_by(Outbox.created_at)).all()
    assert topics == [
        "crm.contact.created",
        "crm.contact.updated",
        "crm.contact.updated",
        "crm.contact.updated",
        "crm.deal.created",
        "crm.deal.updated",
        "crm.activity.created",
    ]


async def test_crm_steps_explain_what_is_missing(acme, globex):
    with pytest.raises(StepFailure) as caught:
        await run_node("crm.add_tag", {"contact": "ghost@example.com", "tag": "x"}, step_ctx(acme))
    assert caught.value.message == "CRM: no contact 'ghost@example.com' in your CRM."
    mine = await run_node("crm.create_contact", {"email": f"a-{uuid.uuid4().hex[:6]}@example.com"}, step_ctx(acme))
    with pytest.raises(StepFailure):  # another tenant's contact does not exist for this tenant
        await run_node("crm.update_contact", {"contact": mine["contact"]["id"], "first_name": "X"}, step_ctx(globex))
    with pytest.raises(StepFailure, match="config.stage is invalid: Input should be 'lead', 'qualified'"):
        await run_node("crm.create_deal", {"title": "t", "stage": "won-ish"}, step_ctx(acme))


async def test_integration_step_with_another_tenants_connection(acme, globex, fake_services):
    from blocks.sendgrid import SendGridConnection

    block = acme.connection(
        SendGridConnection,
        "Mine",
        secrets={"api_key": fake_services.sendgrid.add_key()},
        from_email="shop@acme-shop.com",
    )
    config = {"connection": block.connection_id, "to": "x@example.com", "subject": "s", "text": "t"}
    with pytest.raises(StepFailure) as caught:
        await run_node("email.sendgrid", config, step_ctx(globex, "mail"))
    assert (
        "does not exist in your workspace" in caught.value.message
        and "choose one of your connections" in caught.value.hint
    )
    wrong_type = {"connection": block.connection_id, "to": "+14155550123", "body": "hi"}
    with pytest.raises(StepFailure, match="is a sendgrid connection; this step needs a twilio connection"):
        await run_node("sms.twilio", wrong_type, step_ctx(acme, "sms"))


async def test_http_request_step_sends_its_connections_credentials(acme, globex):
    from blocks.http import HttpAuthConnection
    from tests.support import RecordingServer

    server = RecordingServer().start()
    try:
        block = acme.connection(
            HttpAuthConnection, "Orders", secrets={"token": "orders-token"}, auth="bearer", base_url=server.url
        )
        config = {
            "url": f"{server.url}/orders",
            "connection": block.connection_id,
            "headers": {"Authorization": "Bearer typed-by-hand", "X-Shop": "1"},
        }
        output = await run_node("http.request", config, step_ctx(acme, "call"))
        assert output["status_code"] == 200
        [request] = server.requests
        assert request.headers["Authorization"] == "Bearer orders-token" and request.headers["X-Shop"] == "1"
        with pytest.raises(StepFailure, match="does not exist in your workspace"):
            await run_node("http.request", config, step_ctx(globex, "call"))
        assert len(server.requests) == 1  # a foreign connection sends nothing
    finally:
        server.stop()


def test_node_catalog_serves_each_actions_output_schema():
    described = {d["type"]: d for d in describe_all()}
    assert described["sms.twilio"]["output_schema"]["properties"]["sid"]
    assert described["sms.twilio"]["connection_type"] == "twilio"
    assert described["http.request"]["config_schema"]["properties"]["connection"]["x-connection-type"] == "http"


async def test_each_loop_item_is_its_own_step(acme):
    execution_id = str(uuid.uuid4())
    outputs = []
    for index, name in enumerate(["Ann", "Bo"]):
        ctx = StepContext(
            execution_id,
            acme.id,
            "each",
            "live",
            logging.getLogger("flowyard.test"),
            context={"loop": {"index": index, "item": name}},
        )
        outputs.append(await run_node("crm.create_contact", {"first_name": name}, ctx))
    assert [o["contact"]["first_name"] for o in outputs] == ["Ann", "Bo"]
    assert outputs[0]["contact"]["id"] != outputs[1]["contact"]["id"]


def test_one_registry_of_actions():
    from blocks.registry import ACTIONS, connection_type_of

    assert set(ACTIONS) == INTEGRATION_TYPES | {"http.request"}
    assert {name for name, node_type in NODE_TYPES.items() if node_type.category == "Integrations"} == INTEGRATION_TYPES
    assert connection_type_of("http.request") == "http" and connection_type_of("crm.add_tag") is None
    templated = validate_graph(
        _graph({"type": "http.request", "config": {"url": "https://x.example", "connection": "{{ trigger.c }}"}})
    )
    assert [e.message for e in templated] == ["the connection cannot come from a template"]
