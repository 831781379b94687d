"""The approvals inbox on a 390 px phone (the badge counts the run waiting for an answer; approving with a comment
lets the run go on to the end), and the notification centre (a failed step rings the bell; opening the notification
lands on the failed run and marks it read; email preferences are saved per person). On SQLite and PostgreSQL:
both pages read rows the engine wrote."""

from __future__ import annotations

import time
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import docs_screenshot, new_tenant, sign_in
from tests.browser.test_mobile import assert_fits_width
from tests.support import Api, RecordingServer, edge, graph, labelled, publish, start_run, steps_by_node

pytestmark = pytest.mark.parametrize("stack", ["sqlite", "postgres"], indirect=True)


def wait_for_approval(api: Api, run_id: str, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = api.get("/api/v1/approvals", params={"status": "pending"}).json()
        for approval in pending:
            if approval["run_id"] == run_id:
                return approval
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} never waited for its approval")


def test_approve_from_the_inbox_on_a_phone(phone: Page, app_url: str):
    api = new_tenant(app_url)
    flow = graph(
        [
            labelled("start", "trigger.manual", "New order"),
            labelled(
                "ask",
                "logic.approval",
                "Manager approves the discount",
                {"message": "Give {{ trigger.customer }} 20% off?"},
            ),
            labelled("yes", "util.log", "Apply the discount", {"message": "discount for {{ trigger.customer }}"}),
            labelled("no", "util.log", "Keep the price", {"message": "no discount"}),
        ],
        [edge("start", "ask"), edge("ask", "yes", "approved"), edge("ask", "no", "rejected")],
    )
    run_id = start_run(api, publish(api, "Discounts", flow), {"customer": "Ada Lovelace", "order_total": 180})
    wait_for_approval(api, run_id)

    sign_in(phone, app_url, api)
    inbox = phone.get_by_role("navigation").get_by_role("link", name="Inbox (1 waiting for you)")
    expect(inbox).to_be_visible()
    expect(phone.get_by_test_id("inbox-badge")).to_have_text("1")
    expect(phone.get_by_test_id("notification-bell")).to_be_in_viewport()  # first in the bar on a phone
    inbox.click()
    expect(phone.get_by_role("heading", name="Approvals inbox")).to_be_visible()
    card = phone.locator(f'[data-testid="approval"][data-run-id="{run_id}"]')
    expect(card.get_by_role("heading")).to_have_text("Give Ada Lovelace 20% off?")
    expect(card).to_contain_text("Discounts")
    expect(card).to_contain_text("Manager approves the discount")
    context = card.get_by_label("The run's data")
    expect(context).to_contain_text("customer")
    expect(context).to_contain_text("Ada Lovelace")
    expect(context).to_contain_text("180")
    assert_fits_width(phone)
    docs_screenshot(phone, "inbox-phone.png")

    card.get_by_label("Comment (optional)").fill("Loyal customer")
    phone.keyboard.press("Tab")  # from the comment to Approve, and answered with the keyboard
    expect(card.get_by_role("button", name="Approve")).to_be_focused()
    phone.keyboard.press("Enter")
    expect(phone.get_by_test_id("inbox-empty")).to_be_visible()
    expect(phone.get_by_test_id("inbox-badge")).to_have_count(0)
    assert_fits_width(phone)

    run = api.wait_for_run(run_id)
    assert run["status"] == "completed", run
    steps = steps_by_node(run)
    assert "yes" in steps and "no" not in steps  # the approved path
    assert steps["ask"]["output"]["decision"] == "approved"
    assert steps["ask"]["output"]["comment"] == "Loyal customer"
    phone.goto(f"{app_url}/#/runs/{run_id}")
    expect(phone.locator(".page-head .pill")).to_have_text("Completed", timeout=60_000)


def test_see_and_open_a_failure_notification(page: Page, app_url: str, target_server: RecordingServer):
    api = new_tenant(app_url)
    failing = f"/refuse-{uuid.uuid4().hex[:8]}"
    target_server.responses[failing] = (422, {"content-type": "application/json"}, b'{"error": "bad lead"}')
    flow = graph(
        [
            labelled("start", "trigger.manual", "New lead"),
            labelled("save", "http.request", "Save the lead", {"method": "POST", "url": target_server.url + failing}),
        ],
        [edge("start", "save")],
    )
    run = api.wait_for_run(start_run(api, publish(api, "Route leads", flow), {"email": "ada@example.com"}))
    assert run["status"] == "failed", run

    sign_in(page, app_url, api)
    bell = page.get_by_role("link", name="Notifications (1 unread)")
    expect(bell).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("bell-badge")).to_have_text("1")
    bell.click()
    expect(page.get_by_role("heading", name="Notifications", exact=True)).to_be_visible()
    group = page.locator('.notification-group[data-kind="step_failed"]')
    expect(group.get_by_role("heading")).to_contain_text("Failed steps")
    item = group.locator(".notification").first
    expect(item).to_contain_text("'Route leads' failed at step 'save'")
    expect(item).to_have_attribute("data-unread", "true")
    docs_screenshot(page, "notifications.png")

    item.get_by_role("link", name="Open the run").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{app_url}/#/runs/{run['id']}")
    expect(page.locator(".page-head .pill")).to_have_text("Failed")
    expect(page.get_by_test_id("bell-badge")).to_have_count(0)  # opened: read
    assert api.get("/api/v1/notifications/unread-count").json() == {"unread": 0}

    # Email preferences: this person turns off failure emails; the bell's page keeps the notification.
    page.get_by_role("link", name="Notifications").click()
    expect(page.locator(".notification").first).to_have_attribute("data-unread", "false")
    expect(page.get_by_role("button", name="Mark all read")).to_be_disabled()
    failures = page.get_by_role("checkbox", name="A step failed")
    expect(failures).to_be_checked()
    failures.uncheck()
    page.get_by_role("button", name="Save email preferences").click()
    expect(page.get_by_text("Email preferences saved")).to_be_visible()
    assert api.get("/api/v1/notifications/preferences").json() == {"email": {"step_failed": False, "alerts": True}}
