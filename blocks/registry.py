"""Every integration: its block type (by slug) and its actions (by node type). Adding an integration
is adding its module and one entry in BLOCK_TYPES (or, for block-less actions, in ACTIONS)."""

from __future__ import annotations

from blocks.base import Action, IntegrationBlock
from blocks.crm_actions import ACTIONS as CRM_ACTIONS
from blocks.http_auth import HttpAuthConnection
from blocks.mastodon import MastodonConnection
from blocks.sendgrid import SendGridConnection
from blocks.sql import SqlConnection
from blocks.twilio import TwilioConnection
from blocks.x import XConnection

BLOCK_TYPES: dict[str, type[IntegrationBlock]] = {
    block.slug: block
    for block in (SendGridConnection, TwilioConnection, XConnection, MastodonConnection, SqlConnection, HttpAuthConnection)
}
ACTIONS: dict[str, Action] = {
    action.node_type: action for action in (*CRM_ACTIONS, *(a for b in BLOCK_TYPES.values() for a in b.actions))
}


def block_type(slug: str) -> type[IntegrationBlock] | None:
    return BLOCK_TYPES.get(slug)


def connection_type_of(node_type: str) -> str | None:
    """The connection type a node type's `connection` field must name (None: it takes no connection)."""
    if node_type == "http.request":
        return HttpAuthConnection.slug
    action = ACTIONS.get(node_type)
    return action.integration if action and action.needs_connection else None
