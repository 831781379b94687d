"""The dashboard after a few live runs, some failing: the totals show the right numbers, the charts draw bars
and lines, the per-workflow table leads to one workflow's report with its failing step, the CSV downloads, and
the page fits a 390 px wide phone."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import eventually, new_tenant, sign_in, three_step_graph
from tests.browser.test_mobile import assert_fits_width
from tests.support import RecordingServer, edge, graph, node, publish, start_run

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
ADA = {"first_name": "Ada"}


def test_the_dashboard_charts_live_runs(page: Page, phone: Page, app_url: str, target_server: RecordingServer):
    api = new_tenant(app_url)
    broken = f"/broken-{uuid.uuid4().hex[:8]}"
    target_server.responses[broken] = (422, {"content-type": "application/json"}, b'{"error": "no"}')
    welcome = publish(api, "Welcome new leads", three_step_graph())
    sync = publish(
        api,
        "Sync orders",
        graph(
            [
                node("start", "trigger.manual"),
                {**node("push", "http.request", {"url": target_server.url + broken}), "label": "Push the order"},
            ],
            [edge("start", "push")],
        ),
    )
    ids = [start_run(api, welcome, ADA) for _ in range(3)] + [start_run(api, sync, ADA) for _ in range(2)]
    assert sorted(api.wait_for_run(i)["status"] for i in ids) == ["completed"] * 3 + ["failed"] * 2
    test_run = api.post(f"/api/v1/workflows/{welcome}/runs", json={"input": {}, "mode": "test"}).json()["run_id"]
    api.wait_for_run(test_run)  # test runs are not counted

    def folded() -> None:  # the dispatcher folds ended runs into the reports every few seconds
        assert api.get("/api/v1/reports/tenant").json()["totals"]["runs"] == 5

    eventually(folded, timeout=60)
    report = api.get("/api/v1/reports/tenant").json()

    sign_in(page, app_url, api)
    page.get_by_role("navigation").get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    totals = page.get_by_label("Totals")
    expect(totals.locator('[data-tile="runs"] dd')).to_have_text("5")
    expect(totals.locator('[data-tile="success_rate"] dd')).to_have_text("60%")
    expect(totals.locator('[data-tile="p95"] dd')).not_to_have_text("—")
    outcomes = page.get_by_label("Outcomes")
    expect(outcomes.locator('[data-tile="http_calls"] dd')).to_have_text(str(report["outcomes"]["http_calls"]))

    # Stacked bars: completed and failed runs today; the success line and both duration lines are drawn.
    expect(page.locator('[data-chart="runs"] .recharts-bar-rectangle path').first).to_be_visible()
    assert page.locator('[data-chart="runs"] .recharts-bar-rectangle path').count() >= 2
    expect(page.locator('[data-chart="success"] .recharts-line-dots circle').first).to_be_visible()
    expect(page.locator('[data-chart="duration"] .recharts-line')).to_have_count(2)

    table = page.get_by_role("table", name="Runs per workflow")
    expect(table.locator("tbody tr")).to_have_count(2)
    row = table.locator(f'tr[data-workflow-id="{sync}"]')
    expect(row).to_contain_text("Sync orders")
    expect(row.locator("td").nth(2)).to_have_text("2")

    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    assert download.value.suggested_filename == "flowyard-workspace-7d-by-day.csv"
    assert "failed" in open(download.value.path(), encoding="utf-8").readline()

    # One workflow's report: its failing step, with its failures.
    row.get_by_role("button", name="Sync orders").click()
    expect(page.get_by_role("heading", name="Dashboard: Sync orders")).to_be_visible()
    expect(totals.locator('[data-tile="runs"] dd')).to_have_text("2")
    expect(totals.locator('[data-tile="success_rate"] dd')).to_have_text("0%")
    steps = page.get_by_role("table", name="Failures and duration per step")
    push = steps.locator('tr[data-node-id="push"]')
    expect(push).to_contain_text("Push the order")
    expect(push.locator("td").nth(2)).to_have_text("2")

    # By hour: still today's runs.
    page.get_by_label("Workflow").select_option(label="All workflows")
    page.get_by_role("group", name="Bucket").get_by_role("button", name="By hour").click()
    expect(totals.locator('[data-tile="runs"] dd')).to_have_text("5")
    expect(page.locator('[data-chart="runs"] .recharts-bar-rectangle path').first).to_be_visible()

    # On a phone: one column, nothing wider than the screen.
    sign_in(phone, app_url, api)
    phone.goto(f"{app_url}/#/dashboard")
    expect(phone.get_by_label("Totals").locator('[data-tile="runs"] dd')).to_have_text("5")
    expect(phone.locator('[data-chart="runs"] .recharts-bar-rectangle path').first).to_be_visible()
    assert_fits_width(phone)
