"""Operating one run from its page: cancel a running run (it stops at the slow step it was in and says so) and
replay it (its steps only read: nothing is sent again); retry a failed run from the failed step once the service
is fixed (the confirmation names the steps that act outside Flowyard again and the steps reused; the new run
completes and links back to the one it retries)."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import new_tenant, sign_in
from tests.fakes.base import Delay
from tests.support import RecordingServer, edge, graph, labelled, publish, sendgrid_connection, start_run

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


def test_cancel_a_running_run_from_its_page(page: Page, app_url: str, target_server: RecordingServer):
    api = new_tenant(app_url)
    held, after = f"/held-{uuid.uuid4().hex[:8]}", f"/after-{uuid.uuid4().hex[:8]}"
    flow = graph(
        [
            labelled("start", "trigger.manual", "New order"),
            labelled(
                "call",
                "http.request",
                "Ask the slow warehouse",
                {"url": f"{target_server.url}{held}?sleep=5", "timeout_seconds": 60},
            ),
            labelled("next", "http.request", "Tell the shop", {"url": f"{target_server.url}{after}"}),
        ],
        [edge("start", "call"), edge("call", "next")],
    )
    run_id = start_run(api, publish(api, "Ship orders", flow))
    sign_in(page, app_url, api)
    page.goto(f"{app_url}/#/runs/{run_id}")

    expect(page.locator('.step-card[data-node-id="call"]')).to_have_attribute("data-status", "running", timeout=60_000)
    expect(page.get_by_role("button", name="Retry from failed step")).to_have_count(0)
    page.get_by_role("button", name="Cancel run").click()

    expect(page.locator(".page-head .pill")).to_have_text("Cancelled")
    expect(page.get_by_test_id("stopped-at")).to_contain_text("Stopped at Ask the slow warehouse")
    expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)
    expect(page.get_by_role("button", name="Replay")).to_be_visible()  # an ended run can be replayed
    run = api.wait_for_run(run_id)
    assert run["status"] == "cancelled" and run["stopped_at"] == "call"
    assert "next" not in {step["node_id"] for step in run["steps"]}

    # Replayed: its steps only read (HTTP GET), so nothing is sent again; the new run links back to this one.
    page.get_by_role("button", name="Replay").click()
    dialog = page.get_by_role("dialog", name="Replay this run")
    expect(dialog.get_by_label("Version")).to_have_value("1")
    expect(dialog.get_by_test_id("side-effects")).to_contain_text("Nothing is sent again")
    dialog.get_by_role("button", name="Start the replay").click()
    lineage = page.get_by_test_id("retry-of")
    expect(lineage).to_contain_text("Replay of")
    expect(lineage.get_by_role("link")).to_have_attribute("href", f"#/runs/{run_id}")
    replay = api.wait_for_run(page.url.rsplit("/", 1)[-1])
    assert replay["trigger"] == "replay" and replay["retry_of"] == run_id


def test_retry_a_failed_run_from_the_failed_step(page: Page, app_url: str, target_server: RecordingServer):
    api = new_tenant(app_url)
    tag = uuid.uuid4().hex[:8]
    save, notify = f"/save-{tag}", f"/notify-{tag}"
    target_server.responses[notify] = (422, {"content-type": "application/json"}, b'{"error": "bad lead"}')
    post = {"method": "POST", "json_body": {"lead": "{{ trigger.email }}"}}
    flow = graph(
        [
            labelled("start", "trigger.manual", "New lead"),
            labelled("save", "http.request", "Save the lead", {**post, "url": target_server.url + save}),
            labelled("notify", "http.request", "Notify the sales team", {**post, "url": target_server.url + notify}),
        ],
        [edge("start", "save"), edge("save", "notify")],
    )
    original = api.wait_for_run(start_run(api, publish(api, "Route leads", flow), {"email": "ada@example.com"}))
    assert original["status"] == "failed", original
    sign_in(page, app_url, api)
    page.goto(f"{app_url}/#/runs/{original['id']}")
    expect(page.locator(".page-head .pill")).to_have_text("Failed")
    expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)
    expect(page.get_by_role("button", name="Retry from start")).to_be_visible()

    del target_server.responses[notify]  # the service is fixed
    page.get_by_role("button", name="Retry from failed step").click()
    dialog = page.get_by_role("dialog", name="Retry from the failed step")
    expect(dialog.get_by_test_id("side-effects")).to_contain_text("These steps will run again")
    expect(dialog.get_by_test_id("side-effects")).to_contain_text("Notify the sales team — HTTP POST")
    expect(dialog.get_by_test_id("side-effects")).not_to_contain_text("Save the lead")
    expect(dialog.get_by_test_id("reused-steps")).to_contain_text("Save the lead")
    dialog.get_by_role("button", name="Start the retry").click()

    expect(dialog).to_be_hidden()
    expect(page).not_to_have_url(re.compile(re.escape(original["id"])))
    expect(page.locator(".page-head .pill")).to_have_text("Completed", timeout=120_000)
    lineage = page.get_by_test_id("retry-of")
    expect(lineage).to_contain_text("Retry of")
    expect(lineage.get_by_role("link")).to_have_attribute("href", f"#/runs/{original['id']}")
    retried_id = page.url.rsplit("/", 1)[-1]
    retried = api.get(f"/api/v1/runs/{retried_id}").json()
    assert retried["retry_of"] == original["id"] and retried["trigger"] == "retry"

    lineage.get_by_role("link").click()  # back to the run it retries
    expect(page.locator(".page-head .pill")).to_have_text("Failed")


def test_answer_a_run_whose_email_may_have_gone_out(page: Page, app_url: str, fake_services):
    """SendGrid took the email and never answered: the run page asks whether it arrived instead of guessing."""
    api = new_tenant(app_url)
    connection = sendgrid_connection(api, fake_services)
    to = f"slow-{uuid.uuid4().hex[:8]}@example.com"
    fake_services.sendgrid.script(lambda r: to in r.text(), Delay(25))  # longer than the client's 20 s
    mail = {"connection": connection, "to": to, "subject": "Your order", "text": "Hi"}
    flow = graph(
        [
            labelled("start", "trigger.manual", "New order"),
            labelled("email", "email.sendgrid", "Confirm the order", mail),
            labelled("after", "util.log", "Note it", {"message": "confirmed"}),
        ],
        [edge("start", "email"), edge("email", "after")],
    )
    run_id = start_run(api, publish(api, "Confirm orders", flow))
    sign_in(page, app_url, api)
    page.goto(f"{app_url}/#/runs/{run_id}")

    panel = page.get_by_test_id("needs-attention")
    expect(panel).to_contain_text("Confirm the order may already have been sent", timeout=90_000)
    expect(page.locator(".page-head .pill")).to_have_text("Needs attention")
    panel.get_by_role("button", name="It arrived: mark as sent").click()

    expect(page.locator(".page-head .pill")).to_have_text("Completed", timeout=60_000)
    expect(panel).to_have_count(0)
    expect(page.locator('.step-card[data-node-id="after"]')).to_have_attribute("data-status", "completed")
    assert len(fake_services.sendgrid.received(lambda r: to in r.text())) == 1  # marked as sent, not sent again
