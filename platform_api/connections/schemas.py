from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from store import ConnectionStatus


class ConnectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(
        description="Integration: see GET /api/v1/connection-types (sendgrid, twilio, x, mastodon, sql, http)."
    )
    name: str = Field(min_length=1, max_length=60, description="Unique per type in your workspace, e.g. 'Marketing'.")
    config: dict[str, Any] = Field(
        default_factory=dict, description="Settings that are not secret (the type's config fields)."
    )
    secrets: dict[str, str] = Field(
        default_factory=dict, description="Secrets (the type's secret fields); never shown again."
    )
    use_for_alerts: bool = Field(
        False, description="SendGrid only: email the workspace's admins when a step fails for good."
    )


class ConnectionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config: dict[str, Any] | None = Field(None, description="Settings to change; others keep their values.")
    secrets: dict[str, str | None] | None = Field(
        None,
        description="Secrets to replace; an empty string keeps the saved one (as a form left blank), "
        "null removes an optional one.",
    )
    use_for_alerts: bool | None = Field(None, description="SendGrid only: use this connection for failure alerts.")

    @field_validator("secrets")
    @classmethod
    def _blank_keeps(cls, secrets: dict[str, str | None] | None) -> dict[str, str | None] | None:
        return None if secrets is None else {name: value for name, value in secrets.items() if value != ""}


class ConnectionErrorRead(BaseModel):
    message: str
    hint: str | None = None


class ConnectionRead(BaseModel):
    id: str
    type: str
    name: str
    block_name: str = Field(description="The Prefect block holding the (encrypted) credentials.")
    config: dict[str, Any]
    secrets: dict[str, str] = Field(description="Which secrets are set, masked.")
    status: ConnectionStatus = Field(description="needs_auth: press Connect (an OAuth network) before it can be used.")
    last_error: ConnectionErrorRead | None = Field(
        description="Why the last test or sign-in failed, while status is failed."
    )
    use_for_alerts: bool
    token_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    last_tested_at: datetime | None


class ConnectionTestRead(BaseModel):
    ok: bool
    message: str
    hint: str | None = None


class OAuthStartRead(BaseModel):
    authorize_url: str = Field(
        description="Open it in a browser to grant access; the network redirects back to Flowyard."
    )
    expires_at: datetime


class ConnectionTypeRead(BaseModel):
    type: str
    label: str
    docs_url: str
    config_fields: list[str]
    secret_fields: list[str]
    oauth: bool = Field(description="True when the account is connected through the network's consent page.")
    schema_: dict[str, Any] = Field(alias="schema", description="JSON Schema of the whole configuration.")
    actions: list[str] = Field(description="Node types that use this connection.")


class WorkflowUsingConnection(BaseModel):
    """One error of a refused delete: a workflow whose latest or published version has a step on the connection."""

    path: str = Field(description="The first such step's connection in that workflow's graph.")
    message: str
    hint: str
    workflow_id: str
    workflow_name: str


class ConnectionInUseProblem(BaseModel):
    """409 problem+json (RFC 9457) of DELETE /api/v1/connections/{id} while workflows use the connection."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    hint: str
    errors: list[WorkflowUsingConnection] = Field(description="One per workflow using it, by workflow name.")
