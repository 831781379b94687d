"""Actions (blocks.registry.ACTIONS) as node types: declared once in blocks/, served to the UI and run by
the interpreter through blocks.execute. The config is the action's input plus, for actions that need
credentials, a required `connection`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, create_model

from blocks.base import INTEGRATIONS, Action, ActionContext, ActionInput, FixedField
from blocks.execute import run_action
from flow_factory.nodes.base import CheckConfigFn, ConfigIssue, ConfigModel, NodeType, RunFn, StepContext, fixed_output

CONNECTION_HINT = "Id of the connection (GET /api/v1/connections) whose credentials this step uses."
TEMPLATED_CONNECTION = FixedField(
    "connection",
    "the connection cannot come from a template",
    "choose one of your connections; it is checked when the workflow is published",
)


def node_type_for(action: Action) -> NodeType:
    return NodeType(
        type=action.node_type,
        label=action.label,
        category=action.category,
        description=action.description,
        config_model=_config_model(action),
        run=_runner(action),
        sample_output=action.sample_output,
        extra=_extra(action),
        check_config=_checker(action),
        output_fields=fixed_output(*action.output_model.model_fields) if action.known_output else None,
    )


def _config_model(action: Action) -> ConfigModel:
    if not action.needs_connection:
        return action.input_model
    connection = Field(description=CONNECTION_HINT, json_schema_extra={"x-connection-type": action.integration})
    return create_model(
        f"{action.input_model.__name__}Config", __base__=action.input_model, connection=(str, connection)
    )


def _extra(action: Action) -> dict[str, Any]:
    """What the builder and the template catalog read about an integration's step. The general HTTP step
    (category Actions) belongs to no integration that a template would have to require."""
    if action.category != INTEGRATIONS:
        return {}
    return {
        "output_schema": action.output_schema(),
        "integration": action.integration,
        "connection_type": action.integration if action.needs_connection else None,
    }


def _runner(action: Action) -> RunFn:
    async def run(config: BaseModel, ctx: StepContext) -> dict[str, Any]:
        actx = ActionContext(ctx.tenant_id, ctx.execution_id, _step_key(ctx), ctx.mode, ctx.logger)
        return await run_action(action, actx, getattr(config, "connection", None), _action_input(action, config))

    return run


def _step_key(ctx: StepContext) -> str:
    """The node, and inside a logic.loop the item: each item's step sends once, and only once."""
    loop = ctx.context.get("loop")
    return f"{ctx.node_id}-{loop['index']}" if loop else ctx.node_id


def _action_input(action: Action, config: BaseModel) -> ActionInput:
    if isinstance(config, ActionInput) and type(config) is action.input_model:
        return config  # the config is the input (an optional connection of its own included)
    return action.input_model.model_validate(config.model_dump(exclude={"connection"}, exclude_unset=True))


def _checker(action: Action) -> CheckConfigFn:
    fixed = (*action.fixed_fields, TEMPLATED_CONNECTION) if action.takes_connection else action.fixed_fields

    def check(config: dict[str, Any]) -> list[ConfigIssue]:
        from flow_factory.expressions import has_template  # expressions imports the node registry

        return [
            (field.name, field.message, field.hint)
            for field in fixed
            if isinstance(config.get(field.name), str) and has_template(config[field.name])
        ]

    return check
