from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ApprovalDecide(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["approve", "reject"] = Field(description="Approve or reject.")
    comment: str | None = Field(None, max_length=2000, description="Why; shown in the run.")


class ApprovalRead(BaseModel):
    id: str
    run_id: str
    node_id: str
    message: str
    status: Literal["pending", "approved", "rejected", "timed_out", "cancelled"]
    expires_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    comment: str | None


ApprovalState = Literal["pending", "approved", "rejected", "timed_out", "cancelled"]


class ApprovalItem(ApprovalRead):
    """An approval with the context its run attached: what the inbox shows."""

    created_at: datetime
    workflow_id: str
    workflow_name: str
    step_label: str = Field(description="The approval step's label in the run's workflow version (else its id).")
    run_status: str = Field(description="The run's status: `waiting` while the approval is pending.")
    run_input: dict[str, Any] = Field(description="The data the run was started with (its trigger's payload).")
    can_decide: bool = Field(description="Whether you may answer it: operators and above, and its named approvers.")


class ApprovalLinkCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approver: str | None = Field(
        None,
        max_length=320,
        description="One of the step's named approvers to issue the link for (operators only); default: you.",
    )


class ApprovalLink(BaseModel):
    url: str = Field(description="The one-time link: whoever opens it answers as `issued_to`. Treat it as a secret.")
    issued_to: str = Field(description="Who answers through the link (recorded as the decider).")
    expires_at: datetime
