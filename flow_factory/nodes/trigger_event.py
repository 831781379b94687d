"""trigger.event: your own systems send a named event (POST /api/v1/events) that starts the workflow."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from flow_factory.nodes.base import NodeType, fixed_output
from flow_factory.nodes.trigger_manual import check_schema_config


class EventTriggerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,99}$", description="The event name, e.g. `order.paid`.")
    payload_schema: dict[str, Any] | None = Field(None, description="JSON Schema the payload must match.")
    sample: dict[str, Any] = Field(default_factory=dict, description="Example payload for test runs.")


NODE_TYPE = NodeType(
    type="trigger.event",
    label="Event",
    category="Triggers",
    description="Starts the workflow when your system sends the named event to POST /api/v1/events.",
    config_model=EventTriggerConfig,
    sample_output={"event": "order.paid", "id": "ord_42", "payload": {"order_id": 42, "total": 99.5}},
    is_trigger=True,
    check_config=lambda config: check_schema_config(config, "payload_schema"),
    output_fields=fixed_output("event", "id", "payload"),
)
