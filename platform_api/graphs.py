"""The workflow language as the API serves it: node types, the graph's JSON Schema, validation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from flow_factory.graph import graph_json_schema
from flow_factory.nodes import describe_all
from flow_factory.validation import graph_warnings
from platform_api.deps import CurrentCaller
from platform_api.workflows.schemas import GraphErrorRead
from platform_api.workflows.service import check_graph_size, graph_errors

router = APIRouter(prefix="/api/v1", tags=["workflow language"])


class GraphValidate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    graph: Any = Field(description="The graph to check.")


class ValidationRead(BaseModel):
    valid: bool
    errors: list[GraphErrorRead]
    warnings: list[GraphErrorRead] = Field(
        default_factory=list,
        description="Legal but suspicious, e.g. a reference to an output field that "
        "the upstream step does not produce (with a suggestion).",
    )


@router.get("/node-types")
def node_types(caller: CurrentCaller) -> list[dict[str, Any]]:
    return describe_all()


@router.get("/schema/graph")
def graph_schema() -> dict[str, Any]:
    return graph_json_schema()


@router.post("/graphs/validate", response_model=ValidationRead)
def validate(data: GraphValidate, caller: CurrentCaller) -> ValidationRead:
    check_graph_size(data.graph, prefix="")
    errors = graph_errors(data.graph, prefix="")
    warnings = [w.model_dump() for w in graph_warnings(data.graph)]
    return ValidationRead(valid=not errors, errors=errors, warnings=warnings)
