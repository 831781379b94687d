from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from store import ExecutionStatus

RunStatus = Literal["scheduled", "pending", "running", "waiting", "completed", "failed", "cancelled"]

# The API's word for each stored execution status: queued (accepted) and batched (in a batch not yet
# started) are both `pending` to API users.
RUN_STATUS: dict[ExecutionStatus, RunStatus] = {
    ExecutionStatus.QUEUED: "pending",
    ExecutionStatus.BATCHED: "pending",
    ExecutionStatus.RUNNING: "running",
    ExecutionStatus.WAITING: "waiting",
    ExecutionStatus.COMPLETED: "completed",
    ExecutionStatus.FAILED: "failed",
    ExecutionStatus.CANCELLED: "cancelled",
}


def run_status(status: str) -> RunStatus:
    return RUN_STATUS[ExecutionStatus(status)]


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input: dict[str, Any] = Field(default_factory=dict, description="The trigger payload.")
    mode: Literal["live", "test"] = Field(
        "live", description="`live` runs the published version; `test` runs the latest saved version."
    )


class RunAccepted(BaseModel):
    run_id: str
    status: RunStatus


class StepRead(BaseModel):
    node_id: str
    item_index: int | None = Field(None, description="Inside a loop: which item this result is for.")
    status: str
    attempts: int
    handle: str | None = Field(None, description="The output the run left this step by (e.g. `true`, `error`).")
    decision: dict[str, Any] | None = Field(
        None,
        description="For conditions: the expression, the values it read, the result, the branch taken, "
        "and an explanation in words.",
    )
    started_at: datetime | None
    ended_at: datetime | None
    input: Any
    output: Any
    error: dict[str, Any] | None


class LogRead(BaseModel):
    timestamp: datetime
    level: str
    node_id: str | None
    message: str


class RunSummary(BaseModel):
    id: str
    workflow_id: str
    version: int
    mode: str
    status: RunStatus
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    error: dict[str, Any] | None
    waiting_for: dict[str, Any] | None = Field(
        None, description="While `waiting`: the step waited on and when the wait ends at the latest."
    )
    stopped_at: str | None = Field(None, description="When `cancelled`: the step it stopped at, if it had started.")


class RunRead(RunSummary):
    steps: list[StepRead]
    logs: list[LogRead]
    logs_available: bool = Field(description="False when the engine's logs could not be read just now.")
