"""The node type registry. Adding a node type = one module + one line in _MODULES."""

from __future__ import annotations

from typing import Any

from flow_factory.nodes import (
    data_transform,
    http_request,
    logic_approval,
    logic_delay,
    logic_if,
    logic_loop,
    logic_merge,
    logic_switch,
    trigger_data_change,
    trigger_event,
    trigger_manual,
    trigger_schedule,
    trigger_webhook,
    util_log,
)
from flow_factory.nodes.base import NodeType

_MODULES = (
    trigger_manual,
    trigger_webhook,
    trigger_schedule,
    trigger_data_change,
    trigger_event,
    data_transform,
    http_request,
    util_log,
    logic_if,
    logic_switch,
    logic_merge,
    logic_loop,
    logic_delay,
    logic_approval,
)

from flow_factory.nodes import (  # noqa: E402
    crm_actions,
    email_sendgrid,
    sms_twilio,
    social_mastodon,
    social_x,
    sql_query,
)

_MODULES += (email_sendgrid, sms_twilio, social_x, social_mastodon, sql_query)  # integrations (blocks/)

NODE_TYPES: dict[str, NodeType] = {module.NODE_TYPE.type: module.NODE_TYPE for module in _MODULES}
NODE_TYPES.update({node_type.type: node_type for node_type in crm_actions.NODE_TYPES})


def get_node_type(type_name: str) -> NodeType | None:
    return NODE_TYPES.get(type_name)


def describe_all() -> list[dict[str, Any]]:
    """Every node type's public declaration, for GET /api/v1/node-types."""
    return [node_type.describe() for node_type in NODE_TYPES.values()]
