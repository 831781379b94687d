"""trigger.manual: a run started by hand (builder "Run" button, API, CLI)."""

from __future__ import annotations

from typing import Any

from jsonschema import ValidationError
from pydantic import BaseModel, ConfigDict, Field

from core.settings import get_settings
from flow_factory.nodes.base import ConfigIssue, NodeType
from flow_factory.schemas import SchemaRefused, schema_issues, validate


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
    the field at fault below `root`: a missing required field is named by its own path. A schema that
    cannot be applied safely (a pattern that runs too long on this payload, a refused keyword) gives
    one violation, with its own hint, instead of a stalled process."""
    if not schema:
        return []
    try:
        errors = validate(
            schema, payload, what="the trigger's schema", seconds=get_settings().limits.input_validation_seconds
        )
    except SchemaRefused as refused:
        return [{"path": _path(root, list(refused.field or ())), "message": refused.message, "hint": refused.hint}]
    return [
        {"path": _path(root, [*error.absolute_path, *_missing_field(error)]), "message": error.message}
        for error in errors
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
    """A trigger's JSON Schema field must itself be a valid schema, and one safe to apply to tenants' data."""
    schema = config.get(field)
    if not schema:
        return []
    return [_schema_issue(field, where, message, hint) for where, message, hint in schema_issues(schema)]


def _schema_issue(field: str, where: str, message: str, hint: str) -> ConfigIssue:
    path = field + (f".{where}" if where else "")
    if message.startswith("not a valid JSON Schema"):
        return path, message, f"fix the schema (draft 2020-12), or remove {field} to accept anything"
    return path, f"not accepted: {message}", hint


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
    is_trigger=True,
    check_config=check_config,
)
