"""The node type registry: the built-in node types, one module each, and one node type per action of
the blocks' action registry (blocks.registry.ACTIONS), which is the only place integrations declare them.
Adding a built-in node type = one module + one line below; adding an action = blocks/ only."""

from __future__ import annotations

from typing import Any

from blocks.registry import ACTIONS
from flow_factory.nodes import (
    data_transform,
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
    webhook_respond,
)
from flow_factory.nodes.base import NodeType
from flow_factory.nodes.integration import node_type_for

_ACTION_TYPES = {name: node_type_for(action) for name, action in ACTIONS.items()}

# In the order the builder's palette lists them (it groups by category, in order of first appearance).
_ORDER: tuple[NodeType, ...] = (
    trigger_manual.NODE_TYPE,
    trigger_webhook.NODE_TYPE,
    trigger_schedule.NODE_TYPE,
    trigger_data_change.NODE_TYPE,
    trigger_event.NODE_TYPE,
    data_transform.NODE_TYPE,
    _ACTION_TYPES.pop("http.request"),  # the general HTTP step, among the built-in ones
    util_log.NODE_TYPE,
    webhook_respond.NODE_TYPE,
    logic_if.NODE_TYPE,
    logic_switch.NODE_TYPE,
    logic_merge.NODE_TYPE,
    logic_loop.NODE_TYPE,
    logic_delay.NODE_TYPE,
    logic_approval.NODE_TYPE,
    *_ACTION_TYPES.values(),  # the integrations', in the registry's order
)
NODE_TYPES: dict[str, NodeType] = {node_type.type: node_type for node_type in _ORDER}


def get_node_type(type_name: str) -> NodeType | None:
    return NODE_TYPES.get(type_name)


def describe_all() -> list[dict[str, Any]]:
    """Every node type's public declaration, for GET /api/v1/node-types."""
    return [node_type.describe() for node_type in NODE_TYPES.values()]
