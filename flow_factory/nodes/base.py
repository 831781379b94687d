"""What a node type is: its declaration (served to the UI) and how it runs."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from core.errors import ErrorKind, Permanent, help_url


@dataclass(frozen=True)
class StepContext:
    """What a running step knows about where it runs."""

    execution_id: str
    tenant_id: str
    node_id: str
    mode: str  # an ExecutionMode
    logger: logging.Logger | logging.LoggerAdapter[Any]
    time_zone: str = "UTC"  # the tenant's IANA time zone
    context: dict[str, Any] = field(default_factory=dict)  # trigger, steps, execution (read-only)


@dataclass(frozen=True)
class Wait:
    """The execution leaves its batch until `until` (a delay), or until a person answers (an approval)."""

    until: datetime
    kind: str  # "delay" or "approval"


@dataclass(frozen=True)
class NodeResult:
    """What a step produced: its output, the handle it leaves by, and for conditions the decision."""

    output: dict[str, Any]
    handle: str | None = None  # None: the default output
    decision: dict[str, Any] | None = None
    wait: Wait | None = None


RunFn = Callable[[Any, StepContext], Awaitable["dict[str, Any] | NodeResult"]]
# Resumes a step that waited (a delay whose time came, an approval answered or timed out).
ResumeFn = Callable[[dict[str, Any] | None, StepContext], Awaitable["NodeResult"]]
# Outgoing handles that depend on the config (a switch's case names).
HandlesFn = Callable[[dict[str, Any]], tuple[str, ...]]
# Expressions in the config other than Jinja templates (CEL): (path below config, expression).
ExpressionsFn = Callable[[dict[str, Any]], list[tuple[str, str]]]
# The top-level fields a configured node's output is known to have (None: unknown, not checked).
OutputFieldsFn = Callable[[dict[str, Any]], "set[str] | None"]

# (path below the node's config, message, hint), e.g. ("input_schema.type", "...", "...")
ConfigIssue = tuple[str, str, str]
# Checks a raw (unrendered) config beyond its JSON Schema; called only if the schema passes.
CheckConfigFn = Callable[[dict[str, Any]], list[ConfigIssue]]


ConfigModel = type[BaseModel]  # named here: inside NodeType, `type` is a field


def fixed_output(*names: str) -> OutputFieldsFn:
    """For node types whose output always has the same top-level fields."""
    return lambda _config: set(names)


async def _settled_by_the_interpreter(config: Any, ctx: StepContext) -> dict[str, Any]:
    raise RuntimeError("a trigger is not run: the interpreter passes the execution's input on as its output")


@dataclass(frozen=True, kw_only=True)
class NodeType:
    """One node type, declared once and served to the UI at GET /api/v1/node-types. A trigger declares
    no `run`: the interpreter settles it by passing the execution's input on."""

    type: str
    label: str
    category: str  # Triggers, Actions, Logic, Integrations, Delays, Data, Utilities
    description: str
    config_model: ConfigModel
    run: RunFn = _settled_by_the_interpreter
    sample_output: dict[str, Any]
    docs_url: str | None = None  # None: its page of the help site, nodes/<type>/ (made from this declaration)
    is_trigger: bool = False
    outputs: tuple[str, ...] = ("default",)
    can_fail_to_error_edge: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    check_config: CheckConfigFn | None = None
    resume: ResumeFn | None = None
    config_handles: HandlesFn | None = None
    cel_expressions: ExpressionsFn | None = None
    output_fields: OutputFieldsFn | None = None

    def __post_init__(self) -> None:
        if not self.is_trigger and self.run is _settled_by_the_interpreter:
            raise TypeError(f"node type {self.type} is not a trigger and declares no run")

    @property
    def inputs(self) -> tuple[str, ...]:
        return () if self.is_trigger else ("default",)

    @property
    def handles(self) -> tuple[str, ...]:
        """The source_handle values an outgoing edge may carry ("default" = None)."""
        if self.can_fail_to_error_edge and not self.is_trigger:
            return (*self.outputs, "error")
        return self.outputs

    def known_output_fields(self, config: dict[str, Any]) -> set[str] | None:
        return self.output_fields(config) if self.output_fields else None

    def handles_for(self, config: dict[str, Any]) -> tuple[str, ...]:
        """The handles of one configured node: a switch adds one per case."""
        extra = self.config_handles(config) if self.config_handles else ()
        return (*extra, *self.handles)

    def config_schema(self) -> dict[str, Any]:
        return self.config_model.model_json_schema()

    def parse_config(self, rendered_config: dict[str, Any]) -> BaseModel:
        """The config_model for a config whose expressions are filled in; a `Permanent` names each wrong field."""
        try:
            return self.config_model.model_validate(rendered_config)
        except ValidationError as exc:
            problems = [
                f"config.{'.'.join(map(str, error['loc'])) or 'config'} is invalid: {error['msg']}"
                for error in exc.errors(include_url=False)
            ]
            raise Permanent(
                f"After filling in expressions, {'; '.join(problems)}",
                hint="Check the expression feeding this field and the values it received.",
                details={"errors": problems},
                kind=ErrorKind.EXPRESSION,
            ) from None

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
            "docs_url": self.docs_url or help_url(f"nodes/{self.type}/"),
            "is_trigger": self.is_trigger,
            **self.extra,
        }
