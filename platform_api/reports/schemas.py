from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Bucket = Literal["hour", "day"]


class ReportQuery(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_: AwareDatetime | None = Field(
        None, alias="from", description="Start (ISO 8601 with a zone); 7 days before `to`."
    )
    to: AwareDatetime | None = Field(None, description="End, exclusive (ISO 8601 with a zone); now if left out.")
    bucket: Bucket = Field("day", description="`day` buckets follow the workspace's time zone.")
    format: Literal["json", "csv"] = Field("json", description="`csv`: the series, one row per bucket.")


class Totals(BaseModel):
    runs: int
    completed: int
    failed: int
    cancelled: int
    success_rate: float | None = Field(description="Completed runs over runs; null without runs.")
    p50_ms: int | None
    p95_ms: int | None


class Point(Totals):
    start: datetime


class StepStats(BaseModel):
    node_id: str
    label: str
    runs: int
    failures: int
    p95_ms: int | None


class WorkflowStats(BaseModel):
    workflow_id: str
    name: str
    runs: int
    failed: int
    success_rate: float | None
    p95_ms: int | None


class Outcomes(BaseModel):
    emails_sent: int = 0
    sms_sent: int = 0
    posts: int = 0
    crm_writes: int = 0
    http_calls: int = 0


class Report(BaseModel):
    """Live runs that ended in [from, to), from the hourly rollups."""

    model_config = ConfigDict(populate_by_name=True)

    from_: datetime = Field(alias="from")
    to: datetime
    bucket: Bucket
    workflow_id: str | None
    totals: Totals
    series: list[Point] = Field(description="One point per bucket, empty ones included.")
    steps: list[StepStats] = Field(description="Per step (a workflow's report), most failures first.")
    workflows: list[WorkflowStats] = Field(description="Per workflow (the workspace's report), most runs first.")
    outcomes: Outcomes


class FailureGroup(BaseModel):
    node_id: str
    label: str
    kind: str = Field(description="The failure's kind (see /help/errors).")
    status_code: int | None = Field(description="The service's HTTP status, when it answered one.")
    runs: int
    first_at: datetime
    last_at: datetime
    summary: str = Field(description="e.g. \"37 runs failed at 'Send SMS' with 401 since 09:12\".")
    message: str = Field(description="The latest failure's message.")
    hint: str | None
    docs_url: str | None
    latest_run_id: str
