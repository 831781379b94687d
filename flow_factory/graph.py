"""The workflow graph: what the canvas saves and the interpreter runs (format version 1)."""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

GRAPH_FORMAT_VERSION: Final = 1
MAX_NODES = 500
MAX_EDGES = 2000
NODE_ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
GRAPH_SCHEMA_ID = "https://docs.flowyard.dev/schema/graph-v1.json"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Position(_Strict):
    """Where the node sits on the canvas; has no effect on execution."""

    x: float = Field(default=0, description="Horizontal canvas coordinate.")
    y: float = Field(default=0, description="Vertical canvas coordinate.")


class Node(_Strict):
    """One step of the workflow."""

    id: str = Field(
        min_length=1,
        max_length=64,
        pattern=NODE_ID_PATTERN,
        description="Unique within the graph; templates read its output as steps.<id>.output.",
    )
    type: str = Field(min_length=1, max_length=100, description="A node type, e.g. http.request.")
    label: str = Field(default="", max_length=200, description="Name shown on the canvas.")
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="Settings of the node type (its config_schema); strings may hold templates.",
    )
    position: Position = Field(default_factory=Position, description="Canvas position.")
    disabled: bool = Field(
        default=False,
        description="A disabled step does not run: it passes the data it was reached with on, through its first "
        "output (an if node's `true`, a switch's first case, a loop's `done`). A trigger cannot be disabled.",
    )


class Edge(_Strict):
    """Control flows from `source` to `target` when `source` leaves through `source_handle`."""

    id: str = Field(min_length=1, max_length=128, description="Unique within the graph.")
    source: str = Field(min_length=1, description="Id of the node the edge leaves.")
    source_handle: str | None = Field(
        default=None,
        description='Which output of the source: null for its default output, "error" for '
        'its error path, "true"/"false" for an if node, ...',
    )
    target: str = Field(min_length=1, description="Id of the node the edge enters.")


class Graph(_Strict):
    """A workflow: exactly one trigger node and the steps it reaches."""

    version: Literal[1] = Field(default=GRAPH_FORMAT_VERSION, description="Graph format version.")
    nodes: list[Node] = Field(max_length=MAX_NODES, description="The steps, trigger included.")
    edges: list[Edge] = Field(default_factory=list, max_length=MAX_EDGES, description="The connections.")


def graph_json_schema() -> dict[str, Any]:
    """The JSON Schema of a graph, as GET /api/v1/schema/graph serves it."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": GRAPH_SCHEMA_ID,
        **Graph.model_json_schema(),
    }
