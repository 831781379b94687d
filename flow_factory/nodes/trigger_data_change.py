"""trigger.data_change: a CRM record created, updated, deleted, or one of its fields changed."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from flow_factory.nodes.base import NodeType, fixed_output


class DataChangeTriggerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    record_type: Literal["contact", "company", "deal", "activity"] = Field(description="Which CRM records.")
    event: Literal["created", "updated", "deleted", "field_changed"] = Field(
        description="What happened to the record; `field_changed` needs `field`."
    )
    field: str | None = Field(None, max_length=64, description="With field_changed: the field, e.g. `stage`.")
    to: Any = Field(None, description="With field_changed: only when the field's new value is this, e.g. `won`.")
    filter: str | None = Field(
        None,
        max_length=2000,
        description="A CEL condition on `record` (the new values) and `before`, e.g. record.amount > 1000.",
    )
    sample: dict[str, Any] = Field(default_factory=dict, description="Example change for test runs.")


def filter_expressions(config: dict[str, Any]) -> list[tuple[str, str]]:
    return [("filter", config["filter"])] if config.get("filter") else []


NODE_TYPE = NodeType(
    type="trigger.data_change",
    label="CRM record changed",
    category="Triggers",
    description="Starts the workflow when a CRM record is created, updated, deleted, or a field changes "
    "(e.g. a deal's stage becomes won). Exactly one run per change.",
    config_model=DataChangeTriggerConfig,
    sample_output={
        "event": "field_changed",
        "record_type": "deal",
        "record_id": "9b1…",
        "record": {"name": "Acme renewal", "stage": "won", "amount": 1200},
        "before": {"stage": "negotiation"},
        "changed_fields": ["stage"],
    },
    is_trigger=True,
    cel_expressions=filter_expressions,
    output_fields=fixed_output("event", "record_type", "record_id", "record", "before", "changed_fields"),
)
