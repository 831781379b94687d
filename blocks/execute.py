"""Runs one action for one step: the tenant's connection (checked), its rate limit, the ledger."""

from __future__ import annotations

from typing import Any

from blocks import ledger
from blocks.base import Action, ActionContext, ActionInput
from blocks.connections import load_for_step, throttle
from blocks.registry import block_type


async def run_action(
    action: Action, ctx: ActionContext, connection_id: str | None, data: ActionInput
) -> dict[str, Any]:
    """`connection_id` is required when the action needs a connection, and loaded whenever it is given."""
    block = None
    if action.needs_connection or connection_id:
        kind = block_type(action.integration)
        if kind is None:
            raise LookupError(
                f"action {action.node_type} names an integration with no block type: {action.integration}"
            )
        block, tenant_slug = await load_for_step(ctx, connection_id or "", kind)
        await throttle(tenant_slug, action.integration)
    if not action.side_effect:
        return await action.run(block, data, ctx)
    return await ledger.once(ctx, action.node_type, lambda: action.run(block, data, ctx))
