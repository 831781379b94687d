"""util.log: records a message in the step's output, for debugging a workflow. The message is rendered from
the run's data, so the run's log (kept by Prefect) says only that one was recorded and how long it is."""

from __future__ import annotations

import json
import logging
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from flow_factory.nodes.base import NodeType, StepContext, fixed_output

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class LogConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(description="What to log; may be a template like {{ steps.fetch.output }}.")
    level: Literal["debug", "info", "warning", "error"] = Field(default="info", description="Log level of the message.")

    @field_validator("message", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        # A message that is a single {{ expression }} renders to its native value (a dict, a number).
        return value if isinstance(value, str) else json.dumps(value, default=str)


async def run(config: LogConfig, ctx: StepContext) -> dict[str, Any]:
    ctx.logger.log(
        _LEVELS[config.level], "logged a message of %d characters (in this step's output)", len(config.message)
    )
    return {"message": config.message}


NODE_TYPE = NodeType(
    output_fields=fixed_output("message"),
    type="util.log",
    label="Log",
    category="Utilities",
    description="Records a message in the step's output, for debugging a workflow.",
    config_model=LogConfig,
    run=run,
    sample_output={"message": "Order 1042 received"},
)
