from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from flow_factory.diff import GraphDiff

MAX_TAGS = 20
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
TAGS_DESCRIPTION = "Free labels, e.g. onboarding; 1 to 40 characters each, at most 20."
VersionMessage = Field(None, max_length=500, description="A note kept with the version, e.g. what changed and why.")


class WorkflowCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, description="Unique within your workspace.")
    description: str = Field("", max_length=2000)
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS, description=TAGS_DESCRIPTION)
    graph: dict[str, Any] = Field(description="The graph; see GET /api/v1/schema/graph.")
    allow_invalid: bool = Field(False, description="Save a work-in-progress graph that does not validate yet.")


class WorkflowUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    tags: list[Tag] | None = Field(None, max_length=MAX_TAGS, description=TAGS_DESCRIPTION)
    graph: dict[str, Any] | None = Field(None, description="A new graph: saved as a new immutable version.")
    base_version: int | None = Field(
        None, description="The version you edited; if someone saved since, the save answers 409."
    )
    allow_invalid: bool = Field(False, description="Save a work-in-progress graph that does not validate yet.")
    message: str | None = VersionMessage
    conflict_policy: Literal["queue", "skip", "parallel"] | None = Field(
        None,
        description="When a run is still going as the next starts: `queue` it, `skip` it, or run in "
        "`parallel` (up to max_parallel). Takes effect at once.",
    )
    max_parallel: int | None = Field(
        None, ge=1, le=10_000, description="With `parallel`: most runs at once; null for no limit."
    )
    publish_requires_approval: bool | None = Field(
        None,
        description="Whether publishing this workflow needs an owner's or admin's approval; null follows the "
        "workspace's `publish_requires_approval`. Changing it needs the manage_settings permission.",
    )


class GraphErrorRead(BaseModel):
    path: str
    message: str
    hint: str


class WorkflowSummary(BaseModel):
    id: str
    name: str
    slug: str
    description: str
    tags: list[str] = Field(default_factory=list)
    version: int
    status: Literal["draft", "published"]
    published_version: int | None
    created_at: datetime
    updated_at: datetime
    disabled: bool = Field(False, description="Disabled: no trigger starts it and its schedules pause.")


class LineageRead(BaseModel):
    """The template a workflow was made from (POST /api/v1/workflows/{id}/upgrade follows its new versions)."""

    slug: str
    version: int
    parameters: dict[str, Any]


class WorkflowRead(WorkflowSummary):
    graph: dict[str, Any]
    valid: bool
    errors: list[GraphErrorRead]
    warnings: list[GraphErrorRead]
    deployment_name: str | None
    conflict_policy: Literal["queue", "skip", "parallel"]
    max_parallel: int | None
    schedules_paused: bool
    template: LineageRead | None = Field(None, description="The template it was made from, if any.")
    webhook_secret: str | None = Field(
        None,
        description="Only in the answer to the first publish of a webhook workflow: the endpoint's secret. "
        "It is never shown again; rotate it to get a new one.",
    )
    publish_requires_approval: bool | None = Field(
        None, description="This workflow's own approval rule; null: it follows the workspace's."
    )
    approval_required: bool = Field(
        False, description="Whether publishing it needs approval now (its own rule, else the workspace's)."
    )


class VersionRead(BaseModel):
    version: int
    valid: bool
    created_at: datetime
    created_by: str | None = Field(description="Email of who saved it, when known.")
    message: str | None = Field(None, description="The note given when it was saved.")
    published: bool = Field(False, description="It is the version live now.")
    graph: dict[str, Any] | None = None


class VersionDiff(GraphDiff):
    """What changed from version `from_version` to `to_version`; secret config values are never shown."""

    from_version: int
    to_version: int


class VersionRestore(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str | None = VersionMessage
    publish: bool = Field(
        True, description="Publish the restored version at once (a rollback); false saves it as a draft."
    )


class TrashedWorkflow(WorkflowSummary):
    """A deleted workflow in the trash: no trigger starts it, and it can be restored until `purge_after`."""

    deleted_at: datetime
    purge_after: datetime = Field(
        description="When the hourly retention purge deletes it with its runs and its Prefect deployment "
        "(deleted_at + 30 days); it can be restored until then."
    )


class WorkflowDeleted(TrashedWorkflow):
    cancelled_runs: int = Field(description="How many of its queued, waiting or running runs were cancelled.")


class WorkflowRestore(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Restore it under this name instead of its own (when a live workflow has taken its name).",
    )
