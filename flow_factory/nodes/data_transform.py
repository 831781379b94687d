"""data.transform: builds a new object from templates over earlier data."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from flow_factory.nodes.base import ConfigIssue, NodeType, StepContext, StepError


class TransformConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fields: dict[Annotated[str, StringConstraints(min_length=1)], Any] = Field(
        min_length=1,
        description="Output field name -> value; values may be templates like {{ trigger.email }}.",
    )
    required: list[str] = Field(
        default_factory=list,
        description="Output fields that must not be empty; the step fails if one is.",
    )


async def run(config: TransformConfig, ctx: StepContext) -> dict[str, Any]:
    output = dict(config.fields)
    for name in config.required:
        if _is_empty(output.get(name)):
            raise StepError(
                f"required field '{name}' is empty",
                hint=f"check that the data '{name}' is built from exists in the trigger "
                "payload or the earlier step's output",
                details={"field": name},
            )
    return output


def check_config(config: dict[str, Any]) -> list[ConfigIssue]:
    fields = config.get("fields", {})
    return [
        (f"required[{index}]", f"'{name}' is not one of the fields", f"fields are: {', '.join(fields)}")
        for index, name in enumerate(config.get("required", []))
        if name not in fields
    ]


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


NODE_TYPE = NodeType(
    type="data.transform",
    label="Transform data",
    category="Data",
    description="Builds a new object whose fields are computed from the trigger and earlier steps.",
    config_model=TransformConfig,
    run=run,
    sample_output={"full_name": "Jane Doe", "email": "jane@example.com"},
    docs_url="https://docs.flowyard.dev/nodes/data.transform",
    check_config=check_config,
)
