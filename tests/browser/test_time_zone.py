"""Dates in the workspace's time zone, not the browser's: in a browser set to New York, a run's start time reads
in UTC (a new workspace's zone); the owner sets the workspace's zone to Asia/Tokyo on the Settings page, and the
same run's start now reads in Tokyo time, with the zone's name (GMT+9). Times typed into the audit log's filter
read in Tokyo time too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.helpers import new_tenant, sign_in, three_step_graph
from tests.support import publish, start_run

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A browser whose own zone is New York: neither UTC nor Tokyo."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, timezone_id="America/New_York", locale="en-US"
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def time_pattern(instant: datetime, zone: str) -> re.Pattern[str]:
    """The time of day of `instant` in `zone`, on a 12- or 24-hour clock, seconds included."""
    local = instant.astimezone(ZoneInfo(zone))
    hours = {f"{local.hour:02d}", f"{(local.hour % 12) or 12:02d}"}
    return re.compile(rf"\b({'|'.join(hours)}):{local.minute:02d}:{local.second:02d}\b")


def test_a_run_start_reads_in_the_workspace_time_zone(page: Page, app_url: str):
    api = new_tenant(app_url)
    workflow_id = publish(api, "Welcome new leads", three_step_graph())
    run = api.wait_for_run(start_run(api, workflow_id, {"first_name": "Ada"}))
    started = datetime.fromisoformat(run["started_at"] or run["created_at"])
    assert api.get("/api/v1/tenant").json()["time_zone"] == "UTC"
    assert page.evaluate("() => Intl.DateTimeFormat().resolvedOptions().timeZone") == "America/New_York"

    sign_in(page, app_url, api)
    page.goto(f"{app_url}/#/runs/{run['id']}")
    shown = page.get_by_test_id("run-started")
    expect(shown).to_have_text(time_pattern(started, "UTC"))
    expect(shown).to_contain_text("UTC")

    # Settings → Workspace: the time zone, saved.
    page.goto(f"{app_url}/#/settings/workspace")
    form = page.get_by_role("form", name="Workspace settings")
    form.get_by_label("Time zone").fill("Asia/Tokyo")
    form.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Workspace settings saved")).to_be_visible()
    assert api.get("/api/v1/tenant").json()["time_zone"] == "Asia/Tokyo"

    # The same run: Tokyo time (not UTC, not the browser's New York), with the zone's name.
    page.goto(f"{app_url}/#/runs/{run['id']}")
    expect(shown).to_have_text(time_pattern(started, "Asia/Tokyo"))
    expect(shown).to_contain_text("GMT+9")
    expect(shown).not_to_have_text(time_pattern(started, "America/New_York"))
    tokyo_day = started.astimezone(ZoneInfo("Asia/Tokyo"))
    expect(shown).to_contain_text(str(tokyo_day.year))
    expect(shown).to_contain_text(re.compile(rf"\b{tokyo_day.day}\b"))

    # The timeline's axis starts at the first step's start, in the same zone.
    first_step = min(datetime.fromisoformat(s["started_at"]) for s in run["steps"] if s["started_at"])
    expect(page.locator(".timeline-axis span").first).to_have_text(time_pattern(first_step, "Asia/Tokyo"))

    # A time typed into the audit filter is Tokyo's wall clock: "from 5 minutes ago in Tokyo" finds the change just
    # saved (read as New York's wall clock, it would be 14 hours from now and find nothing).
    tokyo_before = (datetime.now(ZoneInfo("Asia/Tokyo")) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    page.goto(f"{app_url}/#/settings/audit")
    filters = page.get_by_role("form", name="Audit filters")
    filters.get_by_label("Action").fill("settings.changed")
    filters.get_by_label("From").fill(tokyo_before)
    filters.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("table", name="Audit events").locator('tr[data-action="settings.changed"]')).to_have_count(
        1
    )
