from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from store import ExecutionStatus

RunStatus = Literal["scheduled", "pending", "running", "waiting", "needs_attention", "completed", "failed", "cancelled"]

# The API's word for each stored execution status: queued (accepted) and batched (in a batch not yet
# started) are both `pending` to API users.
RUN_STATUS: dict[ExecutionStatus, RunStatus] = {
    ExecutionStatus.QUEUED: "pending",
    ExecutionStatus.BATCHED: "pending",
    ExecutionStatus.RUNNING: "running",
    ExecutionStatus.WAITING: "waiting",
    ExecutionStatus.NEEDS_ATTENTION: "needs_attention",
    ExecutionStatus.COMPLETED: "completed",
    ExecutionStatus.FAILED: "failed",
    ExecutionStatus.CANCELLED: "cancelled",
}


def run_status(status: str) -> RunStatus:
    return RUN_STATUS[ExecutionStatus(status)]


def stored_statuses(statuses: list[RunStatus]) -> list[ExecutionStatus]:
    """The stored statuses behind the API's words (`pending` is queued or batched)."""
    return [stored for stored, word in RUN_STATUS.items() if word in statuses]


TriggerKind = Literal["manual", "webhook", "schedule", "data_change", "event", "retry", "replay"]


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
    trigger: str = Field(description="What started it: manual, webhook, schedule, data_change, event, retry or replay.")
    retry_of: str | None = Field(None, description="The run this one retries or replays.")


class Eta(BaseModel):
    p50: datetime = Field(description="When it likely ends: the version's median step times for what is left.")
    p90: datetime = Field(description="When it ends at the latest, in 9 runs out of 10.")
    based_on_runs: int = Field(description="Completed runs of this version the estimate learned from.")


class QueuePlace(BaseModel):
    position: int = Field(description="1: the next of the workspace's runs to start.")
    held_by: Literal["conflict_policy", "quota", "workers_busy", "starting"]
    detail: str


class Progress(BaseModel):
    current_steps: list[str] = Field(description="The steps running now (or the one waited on).")
    eta: Eta | None = Field(None, description="While running, when the version has completed runs to learn from.")
    waiting_until: datetime | None = Field(None, description="While waiting: when the wait ends at the latest.")
    queue: QueuePlace | None = Field(None, description="While pending: its place in the queue and what holds it.")


class RunRead(RunSummary):
    progress: Progress | None = Field(None, description="While the run is active: where it is and when it ends.")
    steps: list[StepRead]
    logs: list[LogRead]
    logs_available: bool = Field(description="False when the engine's logs could not be read just now.")


class RunFilters(BaseModel):
    """The runs list's filters (query parameters); each one narrows the list, times are ISO 8601 with a zone."""

    status: list[RunStatus] = Field(default_factory=list, description="Any of these statuses (repeat the parameter).")
    workflow_id: str | None = None
    version: int | None = Field(None, ge=1)
    mode: Literal["live", "test"] | None = None
    trigger: TriggerKind | None = Field(None, description="What started the run.")
    created_after: AwareDatetime | None = Field(None, description="Created at or after this time.")
    created_before: AwareDatetime | None = Field(None, description="Created before this time.")
    ended_after: AwareDatetime | None = Field(None, description="Ended at or after this time.")
    ended_before: AwareDatetime | None = Field(None, description="Ended before this time.")
    search: str | None = Field(
        None,
        min_length=1,
        max_length=500,
        description="Runs whose input holds exactly this value (case aside) in one of the workspace's search fields "
        "(e.g. a customer's email), found through keyed-hash indexes: new runs are searchable within a second.",
    )
    search_field: str | None = Field(None, max_length=64, description="Look in this search field only.")


class RunsQuery(RunFilters):
    """The runs list's query parameters: the filters and the page (one model: FastAPI reads it as query
    parameters only when it is the route's only one)."""

    limit: int = Field(50, ge=1, le=500, description="Runs per page, at most 500; newest first.")
    cursor: str | None = Field(
        None, max_length=512, description="Where the page starts: the previous page's X-Next-Cursor header."
    )
