"""Integration actions (blocks/) as node types: one declaration, served to the UI and run by the
interpreter. The config is the action's input plus, for actions that need credentials, `connection`."""

from __future__ import annotations

from typing import Any

from pydantic import Field, create_model

from blocks.base import Action, ActionContext
from blocks.execute import run_action
from flow_factory.nodes.base import ConfigIssue, NodeType, StepContext

CONNECTION_HINT = "Id of the connection (GET /api/v1/connections) whose credentials this step uses."


def _step_key(ctx: StepContext) -> str:
    """The node, and inside a logic.loop the item: each item's step sends once, and only once."""
    loop = (getattr(ctx, "context", None) or {}).get("loop")
    return f"{ctx.node_id}-{loop['index']}" if loop else ctx.node_id


def node_type_for(action: Action, *, check_config=None) -> NodeType:
    config_model = action.input_model
    if action.needs_connection:
        config_model = create_model(
            f"{action.input_model.__name__}Config",
            __base__=action.input_model,
            connection=(str, Field(description=CONNECTION_HINT, json_schema_extra={"x-connection-type": action.integration})),
        )

    async def run(config: Any, ctx: StepContext) -> dict[str, Any]:
        connection_id = getattr(config, "connection", None)
        data = action.input_model.model_validate(config.model_dump(exclude={"connection"}, exclude_unset=True))
        actx = ActionContext(ctx.tenant_id, ctx.execution_id, _step_key(ctx), ctx.mode, ctx.logger)
        return await run_action(action, actx, connection_id, data)

    def check(config: dict[str, Any]) -> list[ConfigIssue]:
        from flow_factory.expressions import has_template  # expressions imports the node registry

        issues = check_config(config) if check_config else []
        connection = config.get("connection")
        if isinstance(connection, str) and has_template(connection):
            issues.append(("connection", "the connection cannot come from a template",
                           "choose one of your connections; it is checked when the workflow is published"))
        return issues

    return NodeType(
        type=action.node_type,
        label=action.label,
        category="Integrations",
        description=action.description,
        config_model=config_model,
        run=run,
        sample_output=action.sample_output,
        docs_url=f"https://docs.flowyard.dev/nodes/{action.node_type}",
        extra={"output_schema": action.output_schema(), "integration": action.integration,
               "connection_type": action.integration if action.needs_connection else None},
        check_config=check,
    )
