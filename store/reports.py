"""Rollups behind the reports: per workflow and hour (and day), the live runs that ended in it and their steps.

`engine.rollups` folds each ended execution in once (`executions.rolled_up`); the reports read these rows
only, so a month's report reads at most 720 rows per workflow whatever the number of runs. Durations
are kept as histograms with buckets 25% apart (`Histogram`), so percentiles merge across hours and are
right within about 12%."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, TenantOwnedMixin

GROWTH = 1.25  # each duration bucket is 25% wider than the last
OUTCOMES = ("emails_sent", "sms_sent", "posts", "crm_writes", "http_calls")


class Grain(StrEnum):
    HOUR = "hour"
    DAY = "day"  # a day in the workspace's time zone when the runs ended


class RunRollup(TenantOwnedMixin, Base):
    """The live runs of one workflow that ended in one hour, or in one day: a month's report by day reads
    30 rows per workflow, not 720."""

    __tablename__ = "run_rollups"
    __table_args__ = (Index("ix_run_rollups_tenant_grain_start", "tenant_id", "grain", "start"),)
    tenant_index = False  # the tenant report's index, or the primary key's workflow
    workflow_id: Mapped[str] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"), primary_key=True)
    grain: Mapped[str] = mapped_column(String(4), primary_key=True)
    start: Mapped[datetime] = mapped_column(primary_key=True)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    cancelled: Mapped[int] = mapped_column(Integer, default=0)
    durations: Mapped[dict[str, Any]]  # Histogram of run durations in ms
    outcomes: Mapped[dict[str, Any]]  # OUTCOMES -> count


class StepRollup(TenantOwnedMixin, Base):
    """One step of one workflow, over the live runs that ended in one hour."""

    __tablename__ = "step_rollups"
    tenant_index = False  # read by workflow
    workflow_id: Mapped[str] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    durations: Mapped[dict[str, Any]]


def duration_bucket(milliseconds: float) -> int:
    return 0 if milliseconds < 1 else 1 + int(math.log(milliseconds, GROWTH))


def merge(*histograms: dict[str, Any]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for histogram in histograms:
        total.update({bucket: int(count) for bucket, count in histogram.items()})
    return dict(total)


def histogram(milliseconds: Iterable[float]) -> dict[str, int]:
    return dict(Counter(str(duration_bucket(ms)) for ms in milliseconds))


def percentile(histogram: dict[str, Any], fraction: float) -> int | None:
    """The duration (ms) below which `fraction` of the counted ones fall: the middle of its bucket."""
    counts = sorted((int(bucket), int(count)) for bucket, count in histogram.items() if count)
    total = sum(count for _, count in counts)
    if not total:
        return None
    seen = 0
    for bucket, count in counts:
        seen += count
        if seen >= fraction * total:
            return 0 if bucket == 0 else round(GROWTH ** (bucket - 0.5))
    return None  # unreachable: seen reaches total
