"""Workflow files: the document a workflow is exported as and imported from (`flowyard.workflow`, version 1),
the workspace's bundle of them, and the answers of an import. See docs/workflow-files.md."""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from flow_factory.diff import GraphDiff
from flow_factory.graph import Graph
from platform_api.workflows.schemas import MAX_TAGS, TAGS_DESCRIPTION, Tag

FORMAT: Final = "flowyard.workflow"
WORKSPACE_FORMAT: Final = "flowyard.workspace"
FORMAT_VERSION: Final = 1
KEY_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,99}$"
KEY_HINT = "use 1 to 100 lowercase letters, digits, '-' and '_', starting with a letter or digit, e.g. welcome-email"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FileSettings(_Strict):
    """The workflow's run settings (PUT /api/v1/workflows/{id} changes them too)."""

    conflict_policy: Literal["queue", "skip", "parallel"] = Field(
        "parallel", description="When a run is still going as the next starts: queue it, skip it, or run in parallel."
    )
    max_parallel: int | None = Field(
        None, ge=1, le=10_000, description="With parallel: most runs at once; null: no limit."
    )


class FileTemplate(_Strict):
    """The catalog template the workflow was made from; kept on import when the workspace sees that template."""

    slug: str = Field(min_length=1, max_length=80)
    version: int = Field(ge=1)
    parameters: dict[str, Any] = Field(default_factory=dict)


class FileConnection(_Strict):
    """A connection the graph's steps use, by type and name (never its settings or secrets). In the graph a
    step's `config.connection` holds the connection's name; an import maps it to the workspace's connection."""

    type: str = Field(min_length=1, max_length=40, description="The connection type, e.g. sendgrid.")
    name: str = Field(min_length=1, max_length=60, description="The connection's name in the workspace.")


class WorkflowFile(_Strict):
    """One workflow as a file: what GET /api/v1/workflows/{id}/export writes and POST /api/v1/workflows/import
    reads. Secret-looking config values (authorization, password, token, api key...) are exported empty."""

    schema_: str | None = Field(None, alias="$schema", description="This document's JSON Schema (informative).")
    format: Literal["flowyard.workflow"] = Field(FORMAT, description="Always flowyard.workflow.")
    format_version: Literal[1] = Field(FORMAT_VERSION, description="The version of this format.")
    key: str = Field(
        pattern=KEY_PATTERN,
        max_length=100,
        description="Identifies the workflow in its workspace across imports: importing a file whose key exists "
        "updates that workflow.",
    )
    name: str = Field(min_length=1, max_length=200, description="Unique within the workspace.")
    description: str = Field("", max_length=2000)
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS, description=TAGS_DESCRIPTION)
    graph: dict[str, Any] = Field(description="The latest version's graph, canvas positions included.")
    settings: FileSettings = Field(default_factory=FileSettings)
    template: FileTemplate | None = Field(None, description="The template it was made from, if any.")
    connections: list[FileConnection] = Field(
        default_factory=list, description="The connections its steps use, by type and name."
    )


class WorkspaceFile(_Strict):
    """Every workflow of a workspace (GET /api/v1/workspace/export; POST /api/v1/workspace/import)."""

    schema_: str | None = Field(None, alias="$schema")
    format: Literal["flowyard.workspace"] = WORKSPACE_FORMAT
    format_version: Literal[1] = FORMAT_VERSION
    workflows: list[dict[str, Any]] = Field(description="Workflow documents (format flowyard.workflow).")


class SetupStep(BaseModel):
    """Something the workspace lacks for the imported workflow to run; the import goes ahead without it."""

    type: str = Field(description="A connection type (e.g. sendgrid), or `secret` for a config value left empty.")
    name: str = Field(description="The connection's name, or the path of the empty secret value.")
    hint: str


class ImportResult(BaseModel):
    key: str
    action: Literal["create", "update", "unchanged"]
    dry_run: bool
    workflow_id: str | None = Field(description="null for a dry run that would create it.")
    version: int | None = Field(description="The workflow's latest version after the import (dry run: as it would be).")
    diff: GraphDiff | None = Field(
        description="Against the workflow's latest version (for a create: against an empty graph)."
    )
    changed: list[str] = Field(
        default_factory=list, description="With update: what differs, of graph, name, description, tags and settings."
    )
    setup: list[SetupStep] = Field(default_factory=list, description="Connections and secrets to set up.")
    unmapped: list[str] = Field(default_factory=list, description="BPMN only: elements with no Flowyard equivalent.")


class WorkspaceImportResult(BaseModel):
    results: list[ImportResult]


def workflow_file_json_schema(schema_id: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a workflow file, the graph's own schema embedded in it."""
    schema = WorkflowFile.model_json_schema(by_alias=True)
    graph = Graph.model_json_schema()
    defs = {**schema.get("$defs", {}), **graph.pop("$defs", {}), "Graph": graph}
    schema["properties"]["graph"] = {
        "$ref": "#/$defs/Graph",
        "description": schema["properties"]["graph"].get("description", ""),
    }
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": schema_id, **schema, "$defs": defs}
