"""trigger.manual: a run started by hand (builder "Run" button, API, CLI)."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator, SchemaError
from pydantic import BaseModel, ConfigDict, Field

from flow_factory.nodes.base import ConfigIssue, NodeType, StepContext


class ManualTriggerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input_schema: dict[str, Any] | None = Field(
        default=None,
        description="JSON Schema (draft 2020-12) the run input must match; empty accepts any object.",
    )
    sample: dict[str, Any] = Field(
        default_factory=dict,
        description="Example input used for test runs; templates read it as trigger.<field>.",
    )


async def run(config: ManualTriggerConfig, ctx: StepContext) -> dict[str, Any]:
    # Never called for a real run: the interpreter uses the execution's input as output.
    return {}


def input_errors(input_schema: dict[str, Any] | None, payload: Any) -> list[str]:
    """Why `payload` does not match `input_schema` (empty when it does, or when no schema)."""
    if not input_schema:
        return []
    errors = Draft202012Validator(input_schema).iter_errors(payload)
    return [_describe(error.absolute_path, error.message) for error in errors]


def check_schema_config(config: dict[str, Any], field: str) -> list[ConfigIssue]:
    """A trigger's JSON Schema field must itself be a valid schema."""
    schema = config.get(field)
    if not schema:
        return []
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        where = ".".join(map(str, error.absolute_path))
        return [(
            field + (f".{where}" if where else ""),
            f"not a valid JSON Schema: {error.message}",
            f"fix the schema (draft 2020-12), or remove {field} to accept anything",
        )]
    return []


def check_config(config: dict[str, Any]) -> list[ConfigIssue]:
    issues = check_schema_config(config, "input_schema")
    schema = config.get("input_schema")
    if issues or not schema:
        return issues
    return [
        ("sample", f"sample does not match input_schema: {message}", "make the sample match the schema")
        for message in input_errors(schema, config.get("sample", {}))
    ]


def _describe(path: Any, message: str) -> str:
    where = ".".join(map(str, path))
    return f"{where}: {message}" if where else message


NODE_TYPE = NodeType(
    type="trigger.manual",
    label="Manual trigger",
    category="Triggers",
    description="Starts the workflow when you press Run or call the runs API; its output is the run input.",
    config_model=ManualTriggerConfig,
    run=run,
    sample_output={"email": "jane@example.com", "first_name": "Jane"},
    docs_url="https://docs.flowyard.dev/nodes/trigger.manual",
    is_trigger=True,
    check_config=check_config,
)
