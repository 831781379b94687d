"""Credentials for http.request from an `http` connection (none, basic, bearer, API key header,
OAuth 2 client credentials): the tenant is checked and the secrets opened inside the task."""

from __future__ import annotations

from blocks.base import ActionContext
from blocks.http_auth import auth_headers
from flow_factory.nodes.base import StepContext

CONNECTION_DESCRIPTION = (
    "Id of an http connection (GET /api/v1/connections?type=http) whose credentials are sent: "
    "basic, bearer, an API key header or OAuth 2 client credentials."
)


async def connection_headers(ctx: StepContext, connection_id: str) -> dict[str, str]:
    actx = ActionContext(ctx.tenant_id, ctx.execution_id, ctx.node_id, ctx.mode, ctx.logger)
    return await auth_headers(actx, connection_id)
