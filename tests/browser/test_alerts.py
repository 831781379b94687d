"""Alerts in Settings: the open and the resolved ones (written here as the dispatcher's watch would write them,
rather than waiting for its 30 s look), and the rules, which an owner changes and finds saved."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from store import Alert, AlertStatus, utcnow
from store.db import get_session_factory
from tests.browser.helpers import create_workflow, new_tenant, sign_in, three_step_graph
from tests.engine.support import platform_db_url

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


def raise_alerts(stack, tenant_id: str, workflow_id: str) -> None:
    """One open failure-rate alert and one resolved queue alert, as `engine.watch` writes them."""
    now = utcnow()
    with get_session_factory(platform_db_url(stack)).begin() as db:
        db.add(
            Alert(
                tenant_id=tenant_id,
                rule="failure_rate",
                subject=workflow_id,
                workflow_id=workflow_id,
                status=AlertStatus.OPEN,
                title="Welcome new leads: 40% of runs failed",
                detail="4 of 10 runs failed in the last hour (the limit is 20%).",
                value={"percent": 40, "limit": 20},
                created_at=now - timedelta(minutes=5),
            )
        )
        db.add(
            Alert(
                tenant_id=tenant_id,
                rule="queue_age",
                subject="queue",
                workflow_id=None,
                status=AlertStatus.RESOLVED,
                title="Runs waited 12 min to start",
                detail="The oldest run waiting to start had waited 12 minutes (the limit is 10).",
                value={"minutes": 12, "limit": 10},
                created_at=now - timedelta(hours=2),
                resolved_at=now - timedelta(hours=1),
            )
        )


def test_alerts_and_their_rules_in_settings(page: Page, app_url: str, stack):
    api = new_tenant(app_url)
    workflow_id = create_workflow(api, f"Welcome {uuid.uuid4().hex[:6]}", three_step_graph())["id"]
    raise_alerts(stack, api.signup_body["tenant"]["id"], workflow_id)

    sign_in(page, app_url, api)
    page.get_by_role("link", name="Settings", exact=True).click()
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Alerts").click()

    open_alerts = page.get_by_role("list", name="Open alerts")
    expect(open_alerts.get_by_role("listitem")).to_have_count(1)
    alert = open_alerts.locator('li[data-rule="failure_rate"]')
    expect(alert).to_contain_text("Welcome new leads: 40% of runs failed")
    expect(alert).to_contain_text("4 of 10 runs failed in the last hour")
    expect(alert.get_by_role("link", name="Runs")).to_have_attribute("href", f"#/runs?workflow={workflow_id}")
    page.get_by_role("group", name="Alert status").get_by_role("button", name="Resolved").click()
    resolved = page.get_by_role("list", name="Resolved alerts")
    expect(resolved.get_by_role("listitem")).to_have_count(1)
    expect(resolved).to_contain_text("Runs waited 12 min to start")
    expect(resolved).to_contain_text("resolved 1 h ago")

    # The rules: every one on by default; an owner raises the failure rate's limit and turns slow runs off.
    form = page.get_by_role("form", name="Alert rules")
    failure_rate = form.get_by_role("group", name="Failure rate")
    expect(failure_rate.get_by_label("Failed runs above (%)")).to_have_value("20")
    failure_rate.get_by_label("Failed runs above (%)").fill("35")
    failure_rate.get_by_label("Over the last (hours)").fill("3")
    form.get_by_role("group", name="Slow runs").get_by_role("checkbox").uncheck()
    expect(form.get_by_role("group", name="Slow runs").get_by_label("Times slower")).to_be_disabled()
    form.get_by_role("button", name="Save the rules").click()
    expect(page.get_by_role("status").filter(has_text="Alert rules saved")).to_be_visible()

    rules = api.get("/api/v1/alerts/rules").json()
    assert rules["failure_rate"]["percent"] == 35 and rules["failure_rate"]["window_hours"] == 3
    assert rules["slow_runs"]["enabled"] is False and rules["queue_age"]["enabled"] is True

    page.reload()  # saved: read back as changed
    form = page.get_by_role("form", name="Alert rules")
    expect(form.get_by_role("group", name="Failure rate").get_by_label("Failed runs above (%)")).to_have_value("35")
    expect(form.get_by_role("group", name="Slow runs").get_by_role("checkbox")).not_to_be_checked()
