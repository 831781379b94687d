"""logic.delay: a durable wait. The execution leaves its batch and holds no process while it waits."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.errors import Permanent
from flow_factory.nodes.base import NodeResult, NodeType, StepContext, Wait, fixed_output

MAX_DELAY = timedelta(days=366)


class DelayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["duration", "until", "time_of_day"] = Field(
        "duration", description="Wait for a duration, until a date-time, or until a local time of day."
    )
    seconds: float = Field(0, ge=0, description="With `duration`: seconds to wait (added to the others).")
    minutes: float = Field(0, ge=0, description="With `duration`: minutes to wait.")
    hours: float = Field(0, ge=0, description="With `duration`: hours to wait.")
    days: float = Field(0, ge=0, description="With `duration`: days to wait.")
    until: str | None = Field(
        None, description="With `until`: an ISO 8601 date-time; without a zone, the workspace's time zone."
    )
    time_of_day: str | None = Field(
        None,
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="With `time_of_day`: HH:MM in the workspace's time zone; the next such time.",
    )

    @model_validator(mode="after")
    def _complete(self) -> DelayConfig:
        if self.mode == "until" and not self.until:
            raise ValueError("`until` is required with mode 'until'")
        if self.mode == "time_of_day" and not self.time_of_day:
            raise ValueError("`time_of_day` is required with mode 'time_of_day'")
        return self


def resume_time(config: DelayConfig, now: datetime, time_zone: str) -> datetime:
    zone = ZoneInfo(time_zone)
    if config.mode == "duration":
        target = now + timedelta(seconds=config.seconds, minutes=config.minutes, hours=config.hours, days=config.days)
    elif config.mode == "until":
        assert config.until is not None  # _complete requires it in this mode
        try:
            target = datetime.fromisoformat(config.until)
        except ValueError:
            raise Permanent(
                f"'{config.until}' is not a date-time", hint="use ISO 8601, e.g. 2026-12-24T09:00"
            ) from None
        target = target if target.tzinfo else target.replace(tzinfo=zone)
    else:
        assert config.time_of_day is not None  # _complete requires it in this mode
        hour, minute = map(int, config.time_of_day.split(":"))
        local_now = now.astimezone(zone)
        target = datetime.combine(local_now.date(), time(hour, minute), zone)
        if target <= local_now:
            target = datetime.combine(local_now.date() + timedelta(days=1), time(hour, minute), zone)
    if target - now > MAX_DELAY:
        raise Permanent("the delay is longer than a year", hint="use a schedule trigger for things that far ahead")
    return target.astimezone(UTC)


async def run(config: DelayConfig, ctx: StepContext) -> NodeResult:
    now = datetime.now(UTC)
    until = resume_time(config, now, ctx.time_zone)
    output = {"waiting_until": until.isoformat()}
    return NodeResult(output=output, wait=Wait(until, "delay") if until > now else None)


async def resume(previous: dict[str, Any] | None, ctx: StepContext) -> NodeResult:
    return NodeResult(output={**(previous or {}), "resumed_at": datetime.now(UTC).isoformat()})


NODE_TYPE = NodeType(
    output_fields=fixed_output("waiting_until", "resumed_at"),
    type="logic.delay",
    label="Delay",
    category="Delays",
    description="Waits for a duration, until a date-time, or until a time of day, without holding a worker.",
    config_model=DelayConfig,
    run=run,
    resume=resume,
    sample_output={"waiting_until": "2026-12-01T09:00:00+00:00", "resumed_at": "2026-12-01T09:00:01+00:00"},
)
