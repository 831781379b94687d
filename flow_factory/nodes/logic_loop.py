"""logic.loop: runs the path leaving its `each` output once per item, then continues from `done`.

The interpreter runs the body; this module declares the node and builds its final output from
the per-item results, which the interpreter passes in as `loop_results`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.errors import Permanent
from flow_factory.nodes.base import NodeResult, NodeType, StepContext, fixed_output
from store import StepStatus

EACH, DONE = "each", "done"


class LoopConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[Any] = Field(
        description="The list to go through, usually a template like {{ trigger.contacts }}. "
        "Inside the loop, {{ loop.item }} is the current item and "
        "{{ loop.index }} its position."
    )
    concurrency: int = Field(10, ge=1, le=100, description="How many items run at the same time.")
    max_items: int = Field(1000, ge=1, le=10_000, description="Fail instead of running more items than this.")


async def run(config: LoopConfig, ctx: StepContext) -> NodeResult:
    if "loop_error" in ctx.context:
        raise Permanent(ctx.context["loop_error"]["message"], hint=ctx.context["loop_error"].get("hint"))
    results: list[dict[str, Any]] = ctx.context.get("loop_results", [])
    failed = sum(1 for item in results if item["status"] == StepStatus.FAILED)
    return NodeResult(
        output={"count": len(results), "succeeded": len(results) - failed, "failed": failed, "items": results},
        handle=DONE,
    )


NODE_TYPE = NodeType(
    output_fields=fixed_output("count", "succeeded", "failed", "items"),
    type="logic.loop",
    label="Loop over items",
    category="Logic",
    description="Repeats the steps after `each` for every item of a list, then continues after `done` "
    "with every item's result.",
    config_model=LoopConfig,
    run=run,
    outputs=(EACH, DONE),
    sample_output={
        "count": 2,
        "succeeded": 1,
        "failed": 1,
        "items": [
            {"index": 0, "status": "completed", "output": {"sent": True}, "error": None},
            {"index": 1, "status": "failed", "output": None, "error": {"message": "invalid email"}},
        ],
    },
)
