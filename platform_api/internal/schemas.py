from __future__ import annotations

from pydantic import BaseModel, Field


class Backlog(BaseModel):
    backlog: int = Field(
        ge=0,
        description="Flow runs of the work pool that are due and not started: Scheduled (Late and AwaitingRetry "
        "included) or Pending, with a next scheduled start time before now. Prefect clears that time when a run "
        "leaves Scheduled, so a Pending run (one a worker already holds) is not counted.",
    )
