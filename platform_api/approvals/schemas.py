from __future__ import annotations

from datetime import datetime
from typing import Literal

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
    status: Literal["pending", "approved", "rejected", "timed_out"]
    expires_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    comment: str | None
