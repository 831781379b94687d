"""A workflow's health on the dashboard: its failed live runs grouped when they failed alike ("3 runs failed at
'Send welcome' with 401 since 09:12"), with the failure's kind, what to do, and a link to the latest such run."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import eventually, new_tenant, sign_in
from tests.support import RecordingServer, edge, graph, node, publish, start_run

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


def test_the_dashboard_groups_a_workflows_failures(page: Page, app_url: str, target_server: RecordingServer):
    api = new_tenant(app_url)
    welcome = f"/welcome-{uuid.uuid4().hex[:8]}"
    target_server.responses[welcome] = (401, {"content-type": "application/json"}, b'{"error": "bad key"}')
    flow = graph(
        [
            node("start", "trigger.manual"),
            {
                **node("send", "http.request", {"method": "POST", "url": target_server.url + welcome}),
                "label": "Send welcome",
            },
        ],
        [edge("start", "send")],
    )
    workflow_id = publish(api, "Welcome customers", flow)
    ids = [start_run(api, workflow_id, {"email": f"c{i}@example.com"}) for i in range(3)]
    ended = [api.wait_for_run(i) for i in ids]
    assert [r["status"] for r in ended] == ["failed"] * 3
    latest = max(ended, key=lambda r: r["ended_at"])["id"]

    def grouped() -> None:
        groups = api.get(f"/api/v1/reports/workflows/{workflow_id}/failures").json()
        assert [g["runs"] for g in groups] == [3], groups

    eventually(grouped, timeout=30)

    sign_in(page, app_url, api)
    page.goto(f"{app_url}/#/dashboard?workflow={workflow_id}")
    expect(page.get_by_role("heading", name="Dashboard: Welcome customers")).to_be_visible()
    failures = page.get_by_role("region", name="Health").get_by_role("list", name="Failures")
    item = failures.locator('li[data-node-id="send"]')
    expect(failures.locator("li")).to_have_count(1)
    expect(item.get_by_test_id("failure-summary")).to_have_text(
        re.compile(r"^3 runs failed at 'Send welcome' with 401 since \d\d:\d\d$")
    )
    expect(item).to_contain_text("Credentials rejected")
    expect(item).to_contain_text("How to fix it:")
    expect(item.get_by_role("link", name="What to do")).to_have_attribute("href", "/help/errors/auth/")

    item.get_by_role("link", name="Open the latest run").click()
    expect(page).to_have_url(re.compile(f"#/runs/{latest}$"))
    expect(page.locator(".page-head .pill")).to_have_text("Failed")
