"""What a node type is: its declaration (served to the UI) and how it runs."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from pydantic import BaseModel, ValidationError


class StepError(Exception):
    """A step failed. `retryable` failures (timeouts, 429, 5xx) may be retried."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.retryable = retryable
        self.retry_after = retry_after
        self.details = details or {}

    def as_dict(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "hint": self.hint,
            "retryable": self.retryable,
            **({"details": self.details} if self.details else {}),
        }


@dataclass(frozen=True)
class StepContext:
    """What a running step knows about where it runs."""

    execution_id: str
    tenant_id: str
    node_id: str
    mode: str  # "live" or "test"
    logger: logging.Logger | logging.LoggerAdapter


RunFn = Callable[[Any, StepContext], Awaitable[dict[str, Any]]]

# (path below the node's config, message, hint), e.g. ("input_schema.type", "...", "...")
ConfigIssue = tuple[str, str, str]
# Checks a raw (unrendered) config beyond its JSON Schema; called only if the schema passes.
CheckConfigFn = Callable[[dict[str, Any]], list[ConfigIssue]]


@dataclass(frozen=True)
class NodeType:
    """One node type, declared once and served to the UI at GET /api/v1/node-types."""

    type: str
    label: str
    category: str  # Triggers, Actions, Logic, Integrations, Delays, Data, Utilities
    description: str
    config_model: type[BaseModel]
    run: RunFn
    sample_output: dict[str, Any]
    docs_url: str
    is_trigger: bool = False
    outputs: tuple[str, ...] = ("default",)
    can_fail_to_error_edge: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    check_config: CheckConfigFn | None = None

    @property
    def inputs(self) -> tuple[str, ...]:
        return () if self.is_trigger else ("default",)

    @property
    def handles(self) -> tuple[str, ...]:
        """The source_handle values an outgoing edge may carry ("default" = None)."""
        if self.can_fail_to_error_edge and not self.is_trigger:
            return (*self.outputs, "error")
        return self.outputs

    def config_schema(self) -> dict[str, Any]:
        return self.config_model.model_json_schema()

    def parse_config(self, rendered_config: dict[str, Any]) -> BaseModel:
        """The config_model for a rendered config; a StepError says which field is wrong."""
        try:
            return self.config_model.model_validate(rendered_config)
        except ValidationError as exc:
            problems = [
                f"config.{'.'.join(map(str, error['loc']))}: {error['msg']}"
                for error in exc.errors(include_url=False)
            ]
            raise StepError(
                "; ".join(problems),
                hint="a template rendered a value this field does not accept; check the data it reads",
                details={"errors": problems},
            ) from exc

    def describe(self) -> dict[str, Any]:
        """The public declaration, as GET /api/v1/node-types serves it."""
        return {
            "type": self.type,
            "label": self.label,
            "category": self.category,
            "description": self.description,
            "config_schema": self.config_schema(),
            "inputs": list(self.inputs),
            "outputs": list(self.handles),
            "sample_output": self.sample_output,
            "docs_url": self.docs_url,
            "is_trigger": self.is_trigger,
        }
