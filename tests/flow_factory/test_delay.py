"""When a delay ends: durations, date-times and local times of day in the workspace's zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.errors import StepFailure
from flow_factory.nodes.logic_delay import DelayConfig, resume_time

NOW = datetime(2026, 3, 28, 22, 0, tzinfo=UTC)  # Saturday 23:00 in Berlin, the night DST starts


def test_duration_adds_up_every_unit():
    config = DelayConfig(mode="duration", days=1, hours=2, minutes=3, seconds=4)
    assert resume_time(config, NOW, "UTC") == datetime(2026, 3, 30, 0, 3, 4, tzinfo=UTC)


def test_until_without_zone_is_local_to_the_workspace():
    config = DelayConfig(mode="until", until="2026-04-01T09:00")
    assert resume_time(config, NOW, "Europe/Berlin") == datetime(2026, 4, 1, 7, 0, tzinfo=UTC)


def test_time_of_day_is_the_next_local_occurrence_across_a_dst_change():
    config = DelayConfig(mode="time_of_day", time_of_day="09:00")
    # Next 09:00 in Berlin is Sunday, after clocks went forward: 07:00 UTC, not 08:00.
    assert resume_time(config, NOW, "Europe/Berlin") == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    assert resume_time(config, NOW, "America/New_York") == datetime(2026, 3, 29, 13, 0, tzinfo=UTC)


def test_bad_dates_and_delays_over_a_year_fail_clearly():
    with pytest.raises(StepFailure, match="not a date-time"):
        resume_time(DelayConfig(mode="until", until="next tuesday"), NOW, "UTC")
    with pytest.raises(StepFailure, match="longer than a year"):
        resume_time(DelayConfig(mode="duration", days=400), NOW, "UTC")
