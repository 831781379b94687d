"""logic.switch: named cases checked in order; the first that holds wins, else `default`."""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.errors import Permanent
from core.settings import get_settings
from flow_factory.conditions import evaluate, explain
from flow_factory.nodes.base import NodeResult, NodeType, StepContext, fixed_output
from flow_factory.nodes.logic_if import UNDECIDABLE_HINT, ConditionConfig, off_the_loop, raise_exhausted

RESERVED = {"default", "error"}


class Case(ConditionConfig):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$", description="The case's output handle, e.g. `vip`.")


class SwitchConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cases: list[Case] = Field(min_length=1, max_length=50, description="Checked in order; the first match wins.")
    on_error: Literal["default", "error"] = Field(
        "default", description="When a case cannot be checked: skip to the next case / `default`, or fail the step."
    )

    @field_validator("cases")
    @classmethod
    def _unique_names(cls, cases: list[Case]) -> list[Case]:
        names = [case.name for case in cases]
        if len(set(names)) != len(names) or RESERVED & set(names):
            raise ValueError("case names must be unique and not 'default' or 'error'")
        return cases


async def run(config: SwitchConfig, ctx: StepContext) -> NodeResult:
    return await off_the_loop(lambda: _choose(config, ctx), "the switch's cases")


def _choose(config: SwitchConfig, ctx: StepContext) -> NodeResult:
    checked = []
    deadline = time.monotonic() + get_settings().limits.step_cpu_seconds  # for all the cases together
    for case in config.cases:
        decision = evaluate(case.cel(ctx.time_zone), ctx.context, seconds=max(deadline - time.monotonic(), 0))
        if decision.exhausted:
            raise_exhausted(decision)
        checked.append(
            {
                "case": case.name,
                "expression": decision.expression,
                "values": decision.values,
                "result": decision.result,
                "error": decision.error,
            }
        )
        if decision.error and config.on_error == "error":
            raise Permanent(
                f"Case '{case.name}' could not be checked: {decision.error}",
                hint=UNDECIDABLE_HINT,
                details={"decision": {"cases": checked}},
            )
        if decision.result:
            return _result(case.name, checked, explain(decision, rules=case.condition, branch=case.name))
    return _result("default", checked, "No case matched, so the run took the 'default' path.")


def _result(branch: str, checked: list[dict[str, Any]], explanation: str) -> NodeResult:
    return NodeResult(
        output={"case": branch},
        handle=branch,
        decision={"cases": checked, "branch": branch, "explanation": explanation},
    )


def case_handles(config: dict[str, Any]) -> tuple[str, ...]:
    return tuple(case["name"] for case in config.get("cases", []) if isinstance(case, dict) and "name" in case)


def cel_expressions(config: dict[str, Any]) -> list[tuple[str, str]]:
    parsed = SwitchConfig.model_validate(config)
    return [(f"cases[{i}]", case.cel("UTC")) for i, case in enumerate(parsed.cases)]


NODE_TYPE = NodeType(
    output_fields=fixed_output("case"),
    type="logic.switch",
    label="Switch",
    category="Logic",
    description="Checks named cases in order and follows the first that matches, or `default`.",
    config_model=SwitchConfig,
    run=run,
    sample_output={"case": "vip"},
    outputs=("default",),
    config_handles=case_handles,
    cel_expressions=cel_expressions,
)
