"""API shapes of publish requests (approval before production)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from flow_factory.diff import GraphDiff

RequestStatus = Literal["pending", "approved", "rejected", "stale"]


class PublishPending(BaseModel):
    """POST /workflows/{id}/publish's 202: the workflow needs approval, so its latest version waits for it."""

    status: Literal["pending_approval"] = "pending_approval"
    request_id: str = Field(description="GET /api/v1/publish-requests/{request_id} shows it.")
    version: int = Field(description="The version that goes live when the request is approved.")


class PublishRequestRead(BaseModel):
    id: str
    workflow_id: str
    workflow_name: str
    version: int = Field(description="Exactly this version goes live when approved, even if newer ones exist.")
    status: RequestStatus = Field(
        description="`stale`: another version was published after it was made; it can no longer be approved."
    )
    requested_by: str | None = Field(description="Email of who asked, when known.")
    created_at: datetime
    decided_by: str | None = Field(None, description="Email of who approved or rejected it.")
    decided_at: datetime | None = None
    comment: str | None = Field(None, description="The decider's comment.")
    live_version: int | None = Field(None, description="The workflow's version live now.")


class PublishRequestDetail(PublishRequestRead):
    diff: GraphDiff = Field(description="From the version live now (or an empty graph) to the requested version.")
    has_webhook: bool = Field(
        False,
        description="The workflow has a live webhook endpoint. Its signing secret is shown once only: to the approver "
        "whose approval created it, or to whoever rotates it (POST /api/v1/workflows/{id}/webhook/rotate).",
    )


class PublishApproved(PublishRequestDetail):
    """The answer of an approval: the request, and the webhook's secret when this approval created it."""

    webhook_secret: str | None = Field(
        None,
        description="Only when this approval created the workflow's webhook endpoint: its signing secret, in this "
        "answer only (sent with Cache-Control: no-store), to the approver. Flowyard keeps it encrypted and never "
        "shows it again; the requester is told to rotate it in the trigger panel to get one of their own.",
    )


class PublishDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str | None = Field(None, max_length=2000, description="Why; the requester is told.")
