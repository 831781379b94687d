from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RunStatus = Literal["scheduled", "pending", "running", "waiting", "completed", "failed", "cancelled"]


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
    status: str
    attempts: int
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


class RunRead(RunSummary):
    steps: list[StepRead]
    logs: list[LogRead]
    logs_available: bool = Field(description="False when the engine's logs could not be read just now.")
