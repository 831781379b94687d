"""Template parameters: a JSON Schema with defaults and help, and `${name}` placeholders in the graph.

A string that is exactly `${name}` becomes the parameter's value with its type (a number stays a
number, a list a list); a placeholder inside a longer string is replaced by the value as text.
`$${` writes a literal `${`. Runtime templates (`{{ trigger.email }}`) are left alone.
"""

from __future__ import annotations

import json
import re
from typing import Any

from jsonschema import ValidationError

from core.settings import get_settings
from flow_factory.schemas import SchemaRefused, validate

PLACEHOLDER = re.compile(r"(?<!\$)\$\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}")
_WHOLE = re.compile(r"^\$\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}$")


class ParameterError(Exception):
    """Parameters that do not fit the template; `errors` are [{path, message, hint}]."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__(errors[0]["message"])
        self.errors = errors


def placeholders(value: Any) -> set[str]:
    """Every parameter name a value (a graph, a config) refers to."""
    if isinstance(value, str):
        return set(PLACEHOLDER.findall(value))
    if isinstance(value, dict):
        return set().union(*(placeholders(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(placeholders(v) for v in value)) if value else set()
    return set()


_MALFORMED = re.compile(r"(?<!\$)\$\{(?!\s*[A-Za-z_][A-Za-z0-9_]*\s*\})")


def malformed(value: Any) -> list[str]:
    """Strings with a `${` that is not a placeholder (a typo that would stay in the workflow)."""
    if isinstance(value, str):
        return [value] if _MALFORMED.search(value) else []
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [text for item in items for text in malformed(item)]


def substitute(value: Any, parameters: dict[str, Any]) -> Any:
    """A copy of `value` with every placeholder replaced (names must be in `parameters`)."""
    if isinstance(value, dict):
        return {key: substitute(item, parameters) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, parameters) for item in value]
    if not isinstance(value, str):
        return value
    whole = _WHOLE.match(value)
    if whole:
        return parameters[whole.group(1)]
    text = PLACEHOLDER.sub(lambda match: _as_text(parameters[match.group(1)]), value)
    return text.replace("$${", "${")


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and all(isinstance(item, (str, int, float)) for item in value):
        return ", ".join(_as_text(item) for item in value)
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def defaults(schema: dict[str, Any]) -> dict[str, Any]:
    return {name: spec["default"] for name, spec in schema.get("properties", {}).items() if "default" in spec}


def _violations(schema: dict[str, Any], values: dict[str, Any], prefix: str) -> list[ValidationError]:
    """Through flow_factory.schemas: a template's author (a tenant, for private templates) wrote the schema."""
    try:
        return validate(
            schema,
            values,
            what="the parameter schema",
            seconds=get_settings().limits.input_validation_seconds,
            formats=False,
        )
    except SchemaRefused as refused:
        field = ".".join(map(str, refused.field or ()))
        raise ParameterError(
            [{"path": f"{prefix}.{field}" if field else prefix, "message": refused.message, "hint": refused.hint}]
        ) from None


def resolve(schema: dict[str, Any], given: dict[str, Any] | None, *, prefix: str = "parameters") -> dict[str, Any]:
    """The parameters to use: the given ones over the defaults, checked against the schema."""
    given = given or {}
    properties = schema.get("properties", {})
    errors = [
        {
            "path": f"{prefix}.{name}",
            "message": f"unknown parameter '{name}'",
            "hint": f"this template's parameters are: {', '.join(properties) or 'none'}",
        }
        for name in given
        if name not in properties
    ]
    values = {**defaults(schema), **{k: v for k, v in given.items() if k in properties}}
    for error in _violations(schema, values, prefix):
        path = ".".join([prefix, *map(str, error.absolute_path)])
        missing = re.match(r"'([^']+)' is a required property", error.message)
        name = missing.group(1) if missing else (error.absolute_path[0] if error.absolute_path else "")
        help_text = properties.get(name, {}).get("description") or properties.get(name, {}).get("title")
        errors.append(
            {
                "path": f"{prefix}.{name}" if missing else path,
                "message": error.message,
                "hint": f"{name}: {help_text}" if help_text else "see the template's parameter schema",
            }
        )
    if errors:
        raise ParameterError(errors)
    return values
