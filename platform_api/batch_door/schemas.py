"""What crosses the batch door: the interpreter's `BatchStore` calls, as JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from store.statuses import ExecutionStatus

MOST_IDS = 10_000


class StepRow(BaseModel):
    """A `step_results` row as the interpreter writes it (`store.batches.StepRecord`)."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(max_length=36)
    tenant_id: str = Field(max_length=36)
    execution_id: str = Field(max_length=36)
    node_id: str = Field(max_length=64)
    status: str = Field(max_length=16)
    item_index: int | None = None
    attempts: int = 0
    input: Any = None
    output: Any = None
    error: dict[str, Any] | None = None
    handle: str | None = Field(None, max_length=64)
    decision: dict[str, Any] | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None


class StepWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["insert", "update"]
    rows: list[StepRow]


class Steps(BaseModel):
    model_config = ConfigDict(extra="forbid")
    writes: list[StepWrite]


class Outcome(BaseModel):
    """An execution's columns at the end of the batch (`flow_factory.progress.ExecutionRun.end_of_batch`)."""

    model_config = ConfigDict(extra="forbid")
    status: Literal[
        ExecutionStatus.COMPLETED,
        ExecutionStatus.FAILED,
        ExecutionStatus.CANCELLED,
        ExecutionStatus.WAITING,
        ExecutionStatus.NEEDS_ATTENTION,
    ]
    error: dict[str, Any] | None = None
    resume_at: datetime | None = None
    waiting_node_id: str | None = Field(None, max_length=64)


class Finish(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcomes: dict[str, Outcome] = Field(max_length=MOST_IDS)
    writes: list[StepWrite] = Field(default_factory=list)


class ExecutionIds(BaseModel):
    model_config = ConfigDict(extra="forbid")
    execution_ids: list[str] = Field(max_length=MOST_IDS)


class Fail(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal[ExecutionStatus.FAILED, ExecutionStatus.CANCELLED]
    error: dict[str, Any]
    flow_run_id: str | None = Field(None, max_length=36)


class Resume(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=500)
    flow_run_id: str | None = Field(None, max_length=36)


class Resumed(BaseModel):
    resumed: int
    failed: int
