from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from platform_api.workflows.schemas import GraphErrorRead, WorkflowRead


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TemplateSummary(BaseModel):
    slug: str
    title: str
    description: str
    category: str
    category_label: str
    tags: list[str]
    integrations: list[str] = Field(description="Integrations its steps use, e.g. crm, sendgrid, twilio.")
    version: int
    private: bool = Field(description="A template your workspace saved from one of its workflows.")
    updated_at: datetime


class TemplatePage(BaseModel):
    items: list[TemplateSummary]
    total: int
    page: int
    per_page: int
    pages: int


class CategoryRead(BaseModel):
    slug: str
    label: str
    count: int


class TagCount(BaseModel):
    tag: str
    count: int


class FacetsRead(BaseModel):
    categories: list[CategoryRead]
    tags: list[TagCount] = Field(description="The most used tags.")


class ConnectionChoice(BaseModel):
    id: str
    name: str
    status: str


class IntegrationStatus(BaseModel):
    type: str = Field(description="crm (built in), or a connection type: sendgrid, twilio, x, mastodon, sql.")
    label: str
    built_in: bool = Field(description="Built into Flowyard: nothing to connect.")
    connected: bool = Field(description="Your workspace has a usable connection of this type.")
    connections: list[ConnectionChoice]
    how_to_connect: str | None = Field(None, description="What to do when it is not connected.")
    docs_url: str | None = None


class ChangelogEntryRead(BaseModel):
    version: int
    date: str
    changes: str


class TemplateRead(TemplateSummary):
    parameters: dict[str, Any] = Field(description="JSON Schema of the parameters, with defaults and help.")
    graph: dict[str, Any] = Field(description="The workflow this template makes with the default parameters.")
    required_integrations: list[IntegrationStatus]
    trigger: dict[str, Any] | None = Field(description="The trigger it is meant for (type, description, config).")
    changelog: list[ChangelogEntryRead]
    versions: list[int]


class TriggerOverrides(_Request):
    type: str | None = Field(None, description="Another trigger node type, e.g. trigger.schedule.")
    config: dict[str, Any] | None = Field(None, description="Trigger settings to set (merged over the template's).")


class InstantiateCreate(_Request):
    name: str = Field(min_length=1, max_length=200, description="Name of the new workflow (unique in your workspace).")
    description: str | None = Field(None, max_length=2000, description="Defaults to the template's description.")
    parameters: dict[str, Any] = Field(default_factory=dict, description="Values for the template's parameters.")
    trigger_overrides: TriggerOverrides | None = None
    connections: dict[str, str] = Field(
        default_factory=dict,
        description='Connection to use per type, e.g. {"sendgrid": "<id>"}; otherwise your only one of the type.',
    )


class StepNeedingConnection(BaseModel):
    node_id: str
    connection_type: str


class SetupState(BaseModel):
    integrations: list[IntegrationStatus]
    unbound_steps: list[StepNeedingConnection] = Field(description="Steps that still need a connection chosen.")
    setup_complete: bool
    next_steps: list[str]


class InstantiateRead(SetupState):
    workflow: WorkflowRead
    template: dict[str, Any] = Field(description="Lineage: {slug, version}.")


class SetupCreate(_Request):
    connections: dict[str, str] = Field(
        default_factory=dict,
        description="Connection per type to use in every step of that type; types not "
        "given use your only connection of the type, when there is one.",
    )


class SetupRead(SetupState):
    workflow: WorkflowRead


class PrivateTemplateCreate(_Request):
    workflow_id: str = Field(description="The workflow whose latest version becomes the template.")
    title: str = Field(min_length=3, max_length=200)
    description: str = Field(min_length=10, max_length=4000)
    category: str = Field(description="sales, marketing, customer-service or operations.")
    tags: list[str] = Field(default_factory=list, max_length=12)
    parameters: dict[str, Any] | None = Field(
        None, description="JSON Schema of parameters used as ${name} in the workflow's graph (optional)."
    )


class TemplateVersionCreate(_Request):
    workflow_id: str = Field(description="The workflow whose latest version becomes the new template version.")
    changes: str = Field(min_length=1, max_length=2000, description="What changed, for the changelog.")
    parameters: dict[str, Any] | None = Field(None, description="A new parameter schema (default: unchanged).")


class PublishedRead(BaseModel):
    template: TemplateRead
    notified_tenants: int = Field(description="Workspaces told that workflows of theirs can be upgraded.")


class UpgradeCreate(_Request):
    to_version: int | None = Field(None, description="Default: the template's latest version.")
    resolutions: dict[str, Literal["workflow", "template"]] = Field(
        default_factory=dict,
        description="Per conflict path: keep the workflow's value (the default) or take the template's.",
    )
    dry_run: bool = Field(False, description="Show the merge without saving it.")


class ChangeRead(BaseModel):
    path: str = Field(description="nodes.<id>, nodes.<id>.config.<field>, nodes.<id>.label, edges.<id> ...")
    op: Literal["added", "removed", "changed"]
    before: Any = None
    after: Any = None


class ConflictRead(BaseModel):
    path: str
    base: Any = Field(description="The value in the template version the workflow came from.")
    workflow: Any = Field(description="Your workflow's value.")
    template: Any = Field(description="The new template version's value.")
    resolution: Literal["workflow", "template"]


class UpgradeRead(BaseModel):
    workflow_id: str
    template: str
    from_version: int
    to_version: int
    dry_run: bool
    saved_version: int | None = Field(description="The new draft version; the live version is not changed.")
    changes: list[ChangeRead] = Field(description="What the upgrade changes in your workflow's latest version.")
    conflicts: list[ConflictRead]
    graph: dict[str, Any] = Field(
        default_factory=dict,
        description="The merged graph, with the resolutions applied: what the new draft version holds (or, with "
        "dry_run, would hold).",
    )
    valid: bool
    errors: list[GraphErrorRead]
    notes: list[str]


class UpdateRead(BaseModel):
    workflow_id: str
    workflow_name: str
    template: str
    template_title: str
    current_version: int
    latest_version: int
    changelog: list[ChangelogEntryRead]


class NotificationRead(BaseModel):
    id: str
    title: str
    body: str
    data: dict[str, Any] | None
    created_at: datetime
    read_at: datetime | None


class UpdatesRead(BaseModel):
    updates: list[UpdateRead]
    notifications: list[NotificationRead]
