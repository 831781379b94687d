"""data.transform: builds a new object from templates over earlier data."""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from core.errors import Permanent
from core.settings import get_settings
from flow_factory.nodes.base import ConfigIssue, NodeType, StepContext
from flow_factory.schemas import SchemaRefused, schema_issues, validate


class TransformConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fields: dict[Annotated[str, StringConstraints(min_length=1)], Any] = Field(
        min_length=1,
        description="Output field name -> value; values may be templates like {{ trigger.email }}.",
    )
    required: list[str] = Field(
        default_factory=list,
        description="Output fields that must not be empty; the step fails if one is.",
    )
    output_schema: dict[str, Any] | None = Field(
        None,
        description="A JSON Schema the output must match (types, formats, required fields); "
        "the step fails naming the first field that does not.",
    )


async def run(config: TransformConfig, ctx: StepContext) -> dict[str, Any]:
    output = dict(config.fields)
    for name in config.required:
        if _is_empty(output.get(name)):
            raise Permanent(
                f"required field '{name}' is empty",
                hint=f"check that the data '{name}' is built from exists in the trigger "
                "payload or the earlier step's output",
                details={"field": name},
            )
    if config.output_schema:
        await _check_schema(output, config.output_schema)
    return output


async def _check_schema(output: dict[str, Any], schema: dict[str, Any]) -> None:
    """Off the event loop (a big output or a complex schema is CPU work), within the step's budget."""
    seconds = get_settings().limits.step_cpu_seconds
    try:
        violations = await asyncio.wait_for(
            asyncio.to_thread(validate, schema, output, what="the output schema", seconds=seconds, formats=False),
            timeout=seconds + 1,  # validate stops itself at `seconds`; this is the backstop
        )
    except SchemaRefused as refused:
        field = _join(refused.field or ()) or "(the output)"
        raise Permanent(
            f"field '{field}': {refused.message}",
            hint=refused.hint,
            details={"field": field, "schema": refused.schema_path},
        ) from None
    except TimeoutError:
        raise Permanent(
            f"checking the output against the output schema took longer than {seconds:g}s",
            hint="simplify output_schema or produce less data",
            details={"field": "(the output)"},
        ) from None
    violation = next(iter(violations), None)
    if violation is None:
        return
    missing = re.match(r"'([^']+)' is a required property", violation.message)
    field = missing.group(1) if missing else _join(violation.absolute_path) or "(the output)"
    raise Permanent(
        f"field '{field}' " + ("is missing" if missing else f"does not match the output schema: {violation.message}"),
        hint="check the trigger payload or the earlier step that should provide it",
        details={"field": field},
    )


def check_config(config: dict[str, Any]) -> list[ConfigIssue]:
    fields = config.get("fields", {})
    schema = config.get("output_schema")
    if schema is not None:
        issues = [
            ("output_schema" + (f".{where}" if where else ""), message, hint)
            for where, message, hint in schema_issues(schema)
        ]
        if issues:
            return issues
    return [
        (f"required[{index}]", f"'{name}' is not one of the fields", f"fields are: {', '.join(fields)}")
        for index, name in enumerate(config.get("required", []))
        if name not in fields
    ]


def _join(parts: Any) -> str:
    return ".".join(map(str, parts))


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


NODE_TYPE = NodeType(
    output_fields=lambda config: set(config.get("fields") or {}) or None,
    type="data.transform",
    label="Transform data",
    category="Data",
    description="Builds a new object whose fields are computed from the trigger and earlier steps.",
    config_model=TransformConfig,
    run=run,
    sample_output={"full_name": "Jane Doe", "email": "jane@example.com"},
    check_config=check_config,
)
