from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class RunCancelled(BaseModel):
    run_id: str
    status: Literal["cancelled"] = "cancelled"
    stopped_at: str | None = Field(
        description="The step the run stopped at: the one it was running or waiting in; null if it had not started."
    )


class RunsCancelled(BaseModel):
    cancelled: int = Field(description="How many queued, waiting or running runs of the workflow were cancelled.")
