"""trigger.manual: a run started by hand (builder "Run" button, API, CLI)."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, SchemaError, ValidationError
from pydantic import BaseModel, ConfigDict, Field

from flow_factory.nodes.base import ConfigIssue, NodeType


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


def payload_violations(schema: dict[str, Any] | None, payload: Any, root: str) -> list[dict[str, str]]:
    """Each way `payload` breaks `schema` (formats such as email and date included), with the path of
    the field at fault below `root`: a missing required field is named by its own path."""
    if not schema:
        return []
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    return [
        {"path": _path(root, [*error.absolute_path, *_missing_field(error)]), "message": error.message}
        for error in validator.iter_errors(payload)
    ]


def _missing_field(error: ValidationError) -> list[str]:
    if error.validator != "required":
        return []
    return [name for name in error.validator_value if error.message == f"{name!r} is a required property"][:1]


def _path(root: str, parts: list[Any]) -> str:
    return root + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def input_errors(input_schema: dict[str, Any] | None, payload: Any) -> list[str]:
    """Why `payload` does not match `input_schema` (empty when it does, or when no schema)."""
    violations = payload_violations(input_schema, payload, "")
    return [f"{v['path'].lstrip('.')}: {v['message']}" if v["path"] else v["message"] for v in violations]


def check_schema_config(config: dict[str, Any], field: str) -> list[ConfigIssue]:
    """A trigger's JSON Schema field must itself be a valid schema."""
    schema = config.get(field)
    if not schema:
        return []
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        where = ".".join(map(str, error.absolute_path))
        return [
            (
                field + (f".{where}" if where else ""),
                f"not a valid JSON Schema: {error.message}",
                f"fix the schema (draft 2020-12), or remove {field} to accept anything",
            )
        ]
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


NODE_TYPE = NodeType(
    type="trigger.manual",
    label="Manual trigger",
    category="Triggers",
    description="Starts the workflow when you press Run or call the runs API; its output is the run input.",
    config_model=ManualTriggerConfig,
    sample_output={"email": "jane@example.com", "first_name": "Jane"},
    docs_url="https://docs.flowyard.dev/nodes/trigger.manual",
    is_trigger=True,
    check_config=check_config,
)
