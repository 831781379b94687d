"""The runs page on a 390 px wide phone: status chips show how many runs each status has, choosing Failed lists
only the failed runs, a new failed run appears by itself (the workspace's change stream), and the workflow
filter narrows the list further; Back from a run returns to the filtered list."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import new_tenant, sign_in, three_step_graph
from tests.browser.test_mobile import assert_fits_width
from tests.support import RecordingServer, edge, graph, node, publish, start_run

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
ADA = {"first_name": "Ada"}


def test_filter_runs_by_status_on_a_phone(phone: Page, app_url: str, target_server: RecordingServer):
    api = new_tenant(app_url)
    broken = f"/broken-{uuid.uuid4().hex[:8]}"
    target_server.responses[broken] = (422, {"content-type": "application/json"}, b'{"error": "no"}')
    welcome = publish(api, "Welcome new leads", three_step_graph())
    sync = publish(
        api,
        "Sync orders",
        graph(
            [node("start", "trigger.manual"), node("push", "http.request", {"url": target_server.url + broken})],
            [edge("start", "push")],
        ),
    )
    ids = [start_run(api, welcome, ADA) for _ in range(3)] + [start_run(api, sync, ADA) for _ in range(2)]
    ended = {run_id: api.wait_for_run(run_id)["status"] for run_id in ids}
    assert sorted(ended.values()) == ["completed"] * 3 + ["failed"] * 2, ended

    sign_in(phone, app_url, api)
    phone.goto(f"{app_url}/#/runs")
    runs = phone.get_by_role("list", name="Runs").locator("[data-run-id]")
    expect(runs).to_have_count(5)
    chips = phone.get_by_role("group", name="Status")
    expect(chips.locator('[data-count="completed"]')).to_have_text("3")
    expect(chips.locator('[data-count="failed"]')).to_have_text("2")
    expect(chips.locator('[data-count="all"]')).to_have_text("5")
    assert_fits_width(phone)

    failed = chips.get_by_role("button", name="Failed")
    failed.click()
    expect(failed).to_have_attribute("aria-pressed", "true")
    expect(runs).to_have_count(2)
    expect(phone.locator('.runs-list a[data-status="failed"]')).to_have_count(2)
    expect(runs.first).to_contain_text("Sync orders")
    expect(chips.locator('[data-count="completed"]')).to_have_text("3")  # the counts stay in view
    assert_fits_width(phone)

    # Back from a run returns to the filtered list.
    runs.first.click()
    expect(phone.locator(".page-head .pill")).to_have_text("Failed")
    phone.go_back()
    expect(chips.get_by_role("button", name="Failed")).to_have_attribute("aria-pressed", "true")
    expect(runs).to_have_count(2)

    # A new failed run shows up by itself, counted too.
    late = start_run(api, sync, ADA)
    expect(phone.locator(f'[data-run-id="{late}"][data-status="failed"]')).to_be_visible(timeout=60_000)
    expect(runs).to_have_count(3)
    expect(chips.locator('[data-count="failed"]')).to_have_text("3")

    # Failed runs of the welcome workflow: none.
    phone.get_by_label("Workflow").select_option(label="Welcome new leads")
    expect(runs).to_have_count(0)
    expect(phone.get_by_role("heading", name="No runs match")).to_be_visible()
    expect(chips.locator('[data-count="failed"]')).to_have_text("0")
    expect(chips.locator('[data-count="completed"]')).to_have_text("3")
    assert_fits_width(phone)
