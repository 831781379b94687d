from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class RunCancelled(BaseModel):
    run_id: str
    status: Literal["cancelled"] = "cancelled"
    stopped_at: str | None = Field(
        description="The step the run stopped at: the one it was running or waiting in; null if it had not started."
    )


class RunsCancelled(BaseModel):
    cancelled: int = Field(description="How many queued, waiting or running runs of the workflow were cancelled.")


class RetryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: Literal["failed_step", "start"] = Field(
        "failed_step",
        alias="from",
        description="`failed_step` reuses the outputs of the steps that completed and runs again from the step "
        "that failed; `start` runs every step again.",
    )


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int | None = Field(
        None, ge=1, description="The version to run the same input on; the run's own if left out."
    )


class SideEffect(BaseModel):
    node_id: str
    label: str
    type: str
    effect: str = Field(description="What it does again outside Flowyard: email, SMS, post, CRM write, HTTP POST...")


class RerunPlan(BaseModel):
    version: int = Field(description="The version the new run runs.")
    reused_steps: list[str] = Field(
        description="Steps whose stored outputs the new run reuses instead of running them."
    )
    side_effects: list[SideEffect] = Field(
        description="Steps of the new run that act outside Flowyard again (with new idempotency keys)."
    )


class RerunAccepted(RerunPlan):
    run_id: str
    retry_of: str
    status: Literal["pending"] = "pending"


class AttentionResolve(BaseModel):
    model_config = ConfigDict(extra="forbid")
    resolution: Literal["mark_sent", "send_again"] = Field(
        description="What checking the service showed: `mark_sent` (it arrived) completes the step without sending; "
        "`send_again` (it did not) sends it once more. Either way the run goes on from there."
    )


class AttentionResolved(BaseModel):
    run_id: str
    node_id: str = Field(description="The step that may have been sent.")
    resolution: Literal["mark_sent", "send_again"]
