"""logic.merge: joins parallel branches once every branch that can arrive has arrived."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.errors import Permanent
from flow_factory.nodes.base import NodeResult, NodeType, StepContext, fixed_output


class MergeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["all", "first", "count"] = Field(
        "all",
        description="`all`: combine every branch that arrived; `first`: keep the branch that finished "
        "first; `count`: go on only if at least `count` branches arrived.",
    )
    count: int = Field(2, ge=1, le=100, description="With mode `count`: how many branches must arrive.")


def _combined(outputs: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for output in outputs:
        if isinstance(output, dict):
            merged.update(output)
    return merged


async def run(config: MergeConfig, ctx: StepContext) -> NodeResult:
    arrived: list[tuple[str, Any]] = ctx.context.get("arrived", [])  # (node id, output) in order of finishing
    if config.mode == "count" and len(arrived) < config.count:
        raise Permanent(
            f"only {len(arrived)} of the {config.count} required branches arrived",
            hint="lower `count`, or check why the other branches were not taken",
        )
    kept = arrived[:1] if config.mode == "first" else arrived
    return NodeResult(
        output={
            "branches": dict(kept),
            "merged": _combined([output for _, output in kept]),
            "arrived": [node_id for node_id, _ in arrived],
        }
    )


NODE_TYPE = NodeType(
    output_fields=fixed_output("branches", "merged", "arrived"),
    type="logic.merge",
    label="Merge",
    category="Logic",
    description="Waits for the parallel branches leading into it and combines their outputs.",
    config_model=MergeConfig,
    run=run,
    sample_output={
        "branches": {"email": {"sent": True}, "sms": {"sid": "SM1"}},
        "merged": {"sent": True, "sid": "SM1"},
        "arrived": ["email", "sms"],
    },
)
