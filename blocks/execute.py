"""Runs one action for one step: the tenant's connection (checked), its rate limit, the ledger."""

from __future__ import annotations

from typing import Any

from blocks import ledger
from blocks.base import Action, ActionContext, ActionInput
from blocks.connections import load_for_step, throttle
from blocks.registry import block_type


async def run_action(action: Action, ctx: ActionContext, connection_id: str | None, data: ActionInput) -> dict[str, Any]:
    block = None
    if action.needs_connection:
        block, tenant_slug = await load_for_step(ctx, connection_id or "", block_type(action.integration))
        await throttle(tenant_slug, action.integration)
    if not action.side_effect:
        return await action.run(block, data, ctx)
    return await ledger.once(ctx, action.node_type, lambda: action.run(block, data, ctx))
