from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from notifications.rules import AlertRules

__all__ = ["AlertRead", "AlertRules"]


class AlertRead(BaseModel):
    id: str
    rule: str = Field(description="failure_rate, slow_runs, queue_age, integration_failing or missed_schedule.")
    subject: str = Field(description="What it is about: a workflow id, `<workflow id>:<step>`, or `queue`.")
    workflow_id: str | None
    status: Literal["open", "resolved"]
    title: str
    detail: str
    value: dict[str, Any] | None = Field(description="What was measured, and the limit.")
    created_at: datetime
    resolved_at: datetime | None
