"""logic.if: routes each execution down its `true` or `false` path by a condition."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Literal, NoReturn, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.errors import Permanent
from core.settings import get_settings
from flow_factory.conditions import Condition, Decision, compile_condition, evaluate, explain
from flow_factory.nodes.base import NodeResult, NodeType, StepContext, fixed_output

T = TypeVar("T")
UNDECIDABLE_HINT = "check that the fields the condition reads exist and have the expected type"


class ConditionConfig(BaseModel):
    """Either a rule set built in the UI, or a raw CEL expression."""

    model_config = ConfigDict(extra="forbid")
    condition: Condition | None = Field(
        None, description="Rules: {field, operator, value}, grouped with {all: [...]} (AND) and {any: [...]} (OR)."
    )
    expression: str | None = Field(
        None, max_length=4096, description="A CEL expression instead of rules, e.g. trigger.amount > 100."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> ConditionConfig:
        if (self.condition is None) == (self.expression is None):
            raise ValueError("give either `condition` (rules) or `expression` (CEL), not both or neither")
        return self

    def cel(self, time_zone: str) -> str:
        if self.expression is not None:
            return self.expression
        assert self.condition is not None  # _exactly_one
        return compile_condition(self.condition, time_zone)


class IfConfig(ConditionConfig):
    on_error: Literal["false", "error"] = Field(
        "false",
        description="When the condition cannot be checked (missing field, wrong type): "
        "take the `false` path, or fail the step (its error path if it has one).",
    )


def decide(
    config: ConditionConfig, ctx: StepContext, *, branch_if_true: str, branch_if_false: str, on_error: str
) -> tuple[bool | None, str, dict[str, Any]]:
    """Evaluate and record the decision; raise when an undecidable condition must fail the step."""
    decision = evaluate(config.cel(ctx.time_zone), ctx.context)
    if decision.exhausted:
        raise_exhausted(decision)
    if decision.error and on_error == "error":
        branch = "error"
    elif decision.error:
        branch = branch_if_false
    else:
        branch = branch_if_true if decision.result else branch_if_false
    record = decision.as_dict(branch=branch, explanation=explain(decision, rules=config.condition, branch=branch))
    if branch == "error":
        raise Permanent(
            f"The condition could not be checked: {decision.error}", hint=UNDECIDABLE_HINT, details={"decision": record}
        )
    return decision.result, branch, record


def raise_exhausted(decision: Decision) -> NoReturn:
    """A condition that ran out of time fails its step whatever on_error says: it is the condition, not the
    data, that is wrong, and taking a branch would hide it."""
    raise Permanent(
        f"The condition {_clip(decision.expression)} ran out of time: {decision.error}",
        hint="simplify the condition's regular expressions (matches) or the data it reads",
        details={"expression": decision.expression},
    )


async def off_the_loop(function: Callable[[], T], what: str) -> T:
    """Run a CPU-heavy evaluation in a thread, within the step's budget, so other runs keep going."""
    seconds = get_settings().limits.step_cpu_seconds
    try:
        return await asyncio.wait_for(asyncio.to_thread(function), timeout=seconds + 1)  # +1: it stops itself
    except TimeoutError:
        raise Permanent(
            f"{what} took longer than {seconds:g}s",
            hint="simplify the condition or the data it reads",
            details={"expression": what},
        ) from None


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


async def run(config: IfConfig, ctx: StepContext) -> NodeResult:
    result, branch, record = await off_the_loop(
        lambda: decide(config, ctx, branch_if_true="true", branch_if_false="false", on_error=config.on_error),
        f"the condition {_clip(config.cel(ctx.time_zone))}",
    )
    return NodeResult(output={"result": result}, handle=branch, decision=record)


def cel_expressions(config: dict[str, Any]) -> list[tuple[str, str]]:
    parsed = IfConfig.model_validate(config)
    return [("expression" if parsed.expression is not None else "condition", parsed.cel("UTC"))]


NODE_TYPE = NodeType(
    output_fields=fixed_output("result"),
    type="logic.if",
    label="If / else",
    category="Logic",
    description="Sends each run down the `true` or `false` path depending on a condition.",
    config_model=IfConfig,
    run=run,
    sample_output={"result": True},
    outputs=("true", "false"),
    cel_expressions=cel_expressions,
)
