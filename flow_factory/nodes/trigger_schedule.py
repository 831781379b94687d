"""trigger.schedule: cron or interval schedules in a time zone, realised as Prefect deployment schedules.

Daylight-saving policy (Prefect's, which runs the schedules, and the preview shows): a local time
that does not exist (spring forward) fires one hour later by the clock, at the same UTC instant it
would have had before the change; a local time that happens twice (fall back) fires once, at its
first occurrence.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from flow_factory.nodes.base import ConfigIssue, NodeType, fixed_output

if TYPE_CHECKING:
    from prefect.server.schemas.schedules import CronSchedule, IntervalSchedule


class ScheduleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cron: str | None = Field(
        None, max_length=100, description="Cron expression, e.g. `30 9 * * 1-5` (09:30 on weekdays)."
    )
    interval_minutes: float | None = Field(None, ge=1, le=60 * 24 * 366, description="Or: every N minutes.")
    timezone: str | None = Field(None, description="IANA time zone; defaults to the workspace's.")

    @model_validator(mode="after")
    def _one_kind(self) -> ScheduleSpec:
        if (self.cron is None) == (self.interval_minutes is None):
            raise ValueError("give either `cron` or `interval_minutes`")
        return self


class ScheduleTriggerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    schedules: list[ScheduleSpec] = Field(min_length=1, max_length=10, description="When to run; several allowed.")
    sample: dict[str, Any] = Field(default_factory=dict, description="Example input for test runs.")


def prefect_schedule(spec: ScheduleSpec, default_zone: str) -> CronSchedule | IntervalSchedule:
    """The server-side Prefect schedule for one spec (what the scheduler and the preview use)."""
    from prefect.server.schemas.schedules import CronSchedule, IntervalSchedule

    zone = spec.timezone or default_zone
    if spec.cron is not None:
        return CronSchedule(cron=spec.cron, timezone=zone)
    assert spec.interval_minutes is not None  # _one_kind: a cron or an interval
    return IntervalSchedule(interval=timedelta(minutes=spec.interval_minutes), timezone=zone)


def check_config(config: dict[str, Any]) -> list[ConfigIssue]:
    issues = []
    for index, spec in enumerate(ScheduleTriggerConfig.model_validate(config).schedules):
        if spec.timezone and spec.timezone not in available_timezones():
            issues.append(
                (
                    f"schedules[{index}].timezone",
                    f"unknown time zone '{spec.timezone}'",
                    "use an IANA name such as Europe/Berlin",
                )
            )
            continue
        try:
            prefect_schedule(spec, "UTC")
        except (ValidationError, ValueError):
            issues.append(
                (
                    f"schedules[{index}].cron",
                    f"invalid cron expression '{spec.cron}'",
                    "five fields: minute hour day-of-month month day-of-week, e.g. 0 9 * * 1-5",
                )
            )
    return issues


NODE_TYPE = NodeType(
    type="trigger.schedule",
    label="Schedule",
    category="Triggers",
    description="Starts the workflow on a schedule (cron or every N minutes) in your time zone.",
    config_model=ScheduleTriggerConfig,
    sample_output={"scheduled_at": "2026-12-01T09:30:00+01:00", "schedule": "30 9 * * 1-5"},
    is_trigger=True,
    check_config=check_config,
    output_fields=fixed_output("scheduled_at", "schedule"),
)
