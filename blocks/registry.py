"""The one registry of integrations: their block types (by slug) and every action (by node type), from
which flow_factory builds the integration node types. Adding an integration is adding its module and
one entry in BLOCK_TYPES (or, for block-less actions such as the CRM's, in ACTIONS)."""

from __future__ import annotations

from typing import Any

from blocks.base import Action, IntegrationBlock
from blocks.crm_actions import ACTIONS as CRM_ACTIONS
from blocks.http import HTTP_REQUEST, HttpAuthConnection
from blocks.mastodon import MastodonConnection
from blocks.sendgrid import SendGridConnection
from blocks.sql import SqlConnection
from blocks.twilio import TwilioConnection
from blocks.x import XConnection

BLOCK_TYPES: dict[str, type[IntegrationBlock]] = {
    block.slug: block
    for block in (
        SendGridConnection,
        TwilioConnection,
        XConnection,
        MastodonConnection,
        SqlConnection,
        HttpAuthConnection,
    )
}
ACTIONS: dict[str, Action] = {
    action.node_type: action for action in (*(a for b in BLOCK_TYPES.values() for a in b.actions), *CRM_ACTIONS)
}


def block_type(slug: str) -> type[IntegrationBlock] | None:
    return BLOCK_TYPES.get(slug)


def connection_type_of(node_type: str) -> str | None:
    """The connection type a node type's `connection` field must name (None: it takes no connection)."""
    action = ACTIONS.get(node_type)
    return action.integration if action and action.takes_connection else None


SAFE_METHODS = ("GET", "HEAD")


def effect_of(node_type: str, config: dict[str, Any]) -> str | None:
    """What a step of this type and config changes outside Flowyard when it runs (None: nothing), e.g. to
    warn before a replay sends an email again. An HTTP request changes something unless it only reads."""
    if node_type == HTTP_REQUEST.node_type:
        method = str(config.get("method") or "GET").upper()
        return None if method in SAFE_METHODS else f"HTTP {method}"
    action = ACTIONS.get(node_type)
    return action.effect if action else None
