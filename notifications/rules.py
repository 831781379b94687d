"""A workspace's alert rules (`tenants.alert_rules`; empty: these defaults, every rule on)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class AlertRule(StrEnum):
    FAILURE_RATE = "failure_rate"
    SLOW_RUNS = "slow_runs"
    QUEUE_AGE = "queue_age"
    INTEGRATION_FAILING = "integration_failing"
    MISSED_SCHEDULE = "missed_schedule"


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = True


class FailureRate(_Rule):
    percent: float = Field(20, gt=0, le=100, description="Alert when more than this share of a workflow's runs fail.")
    window_hours: int = Field(1, ge=1, le=24, description="Over the runs that ended in the last hours (this one too).")
    min_runs: int = Field(5, ge=1, description="Fewer runs than this in the window never alert.")


class SlowRuns(_Rule):
    factor: float = Field(2, gt=1, le=100, description="Alert when a workflow's p95 duration is this many times its "
                          "7-day baseline.")  # fmt: skip
    window_hours: int = Field(1, ge=1, le=24)
    min_runs: int = Field(5, ge=1)


class QueueAge(_Rule):
    minutes: int = Field(10, ge=1, le=1440, description="Alert when a run has waited this long to start.")


class IntegrationFailing(_Rule):
    failures: int = Field(5, ge=2, description="Alert when an integration step failed this many times in the "
                          "window without one success.")  # fmt: skip
    window_hours: int = Field(1, ge=1, le=24)


class MissedSchedule(_Rule):
    """A scheduled run Prefect marked Late: its tick came and nothing started it."""


class AlertRules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    failure_rate: FailureRate = Field(default_factory=FailureRate)
    slow_runs: SlowRuns = Field(default_factory=SlowRuns)
    queue_age: QueueAge = Field(default_factory=QueueAge)
    integration_failing: IntegrationFailing = Field(default_factory=IntegrationFailing)
    missed_schedule: MissedSchedule = Field(default_factory=MissedSchedule)
