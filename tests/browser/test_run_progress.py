"""A run's page while it runs and after: the step running now and when the run should finish (learned from the
version's earlier runs), what a waiting run waits for, a pending run's place in the queue and what holds it, a
timeline with one bar per step once it ended (on a phone too), and a failed step's error with its kind, what to do
and a working link to the help page."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import eventually, new_tenant, sign_in
from tests.browser.test_mobile import assert_fits_width
from tests.support import RecordingServer, edge, graph, labelled, publish, start_run

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


def test_a_running_run_says_when_it_should_finish_and_shows_its_timeline(
    page: Page, app_url: str, target_server: RecordingServer
):
    api = new_tenant(app_url)
    slow = f"/slow-{uuid.uuid4().hex[:8]}"
    flow = graph(
        [
            labelled("start", "trigger.manual", "New order"),
            labelled("call", "http.request", "Ask the slow warehouse", {"url": f"{target_server.url}{slow}?sleep=4"}),
            labelled("log", "util.log", "Note it", {"message": "done"}),
        ],
        [edge("start", "call"), edge("call", "log")],
    )
    workflow_id = publish(api, "Ship orders", flow)
    first = api.wait_for_run(start_run(api, workflow_id))
    assert first["status"] == "completed", first

    second = start_run(api, workflow_id)  # learns from the first
    sign_in(page, app_url, api)
    page.goto(f"{app_url}/#/runs/{second}")
    expect(page.get_by_test_id("current-steps")).to_contain_text("Ask the slow warehouse", timeout=60_000)
    eta = page.get_by_test_id("eta")
    expect(eta).to_have_text(
        re.compile(r"Should finish in about \d+ s \(by \d\d:\d\d:\d\d\), at the latest \d\d:\d\d:\d\d|Taking longer")
    )

    expect(page.locator(".page-head .pill")).to_have_text("Completed", timeout=60_000)
    expect(page.get_by_test_id("run-progress")).to_have_count(0)  # nothing left to wait for
    steps = api.get(f"/api/v1/runs/{second}").json()["steps"]
    timeline = page.get_by_role("region", name="Timeline")
    rows = timeline.locator(".timeline-row")
    expect(rows).to_have_count(len(steps))
    call = timeline.locator('.timeline-row[data-node-id="call"]')
    expect(call).to_contain_text("Ask the slow warehouse")
    expect(call).to_have_attribute("data-status", "completed")
    # The slow step's bar takes most of the axis; the others are slivers.
    track = call.locator(".timeline-track").bounding_box()
    bar = call.locator(".timeline-bar").bounding_box()
    assert bar and track and bar["width"] > 0.6 * track["width"], (bar, track)
    log_bar = timeline.locator('.timeline-row[data-node-id="log"] .timeline-bar').bounding_box()
    assert log_bar and log_bar["x"] >= bar["x"] + bar["width"] - 2  # after the slow step, on the same axis


def test_a_waiting_run_says_until_when(page: Page, app_url: str):
    api = new_tenant(app_url)
    flow = graph(
        [
            labelled("start", "trigger.manual", "New lead"),
            labelled("pause", "logic.delay", "Give them a day", {"mode": "duration", "seconds": 3600}),
            labelled("log", "util.log", "Follow up", {"message": "hi"}),
        ],
        [edge("start", "pause"), edge("pause", "log")],
    )
    run_id = start_run(api, publish(api, "Follow up leads", flow))
    sign_in(page, app_url, api)
    page.goto(f"{app_url}/#/runs/{run_id}")
    waiting = page.get_by_test_id("waiting-until")
    expect(waiting).to_contain_text("Waiting at Give them a day", timeout=60_000)
    expect(waiting).to_contain_text("Waiting until")
    assert api.post(f"/api/v1/runs/{run_id}/cancel").status_code == 200


def test_a_failed_step_says_what_kind_of_failure_and_what_to_do(
    page: Page, app_url: str, target_server: RecordingServer
):
    api = new_tenant(app_url)
    welcome = f"/welcome-{uuid.uuid4().hex[:8]}"
    target_server.responses[welcome] = (401, {"content-type": "application/json"}, b'{"error": "bad key"}')
    flow = graph(
        [
            labelled("start", "trigger.manual", "New customer"),
            labelled("send", "http.request", "Send welcome", {"method": "POST", "url": target_server.url + welcome}),
        ],
        [edge("start", "send")],
    )
    run = api.wait_for_run(start_run(api, publish(api, "Welcome customers", flow)))
    assert run["status"] == "failed", run
    sign_in(page, app_url, api)
    page.goto(f"{app_url}/#/runs/{run['id']}")
    expect(page.locator(".page-head .pill")).to_have_text("Failed")

    step = page.locator('.step-card[data-node-id="send"]')
    error = step.get_by_role("alert")
    expect(error.get_by_test_id("error-kind")).to_have_text("Credentials rejected")
    expect(error).to_have_attribute("data-kind", "auth")
    expect(error).to_contain_text("How to fix it:")
    expect(page.get_by_role("region", name="Timeline").locator('.timeline-row[data-node-id="send"]')).to_have_attribute(
        "data-status", "failed"
    )
    link = error.get_by_role("link", name="What to do")
    expect(link).to_have_attribute("href", "/help/errors/auth/")
    with page.context.expect_page() as opened:
        link.click()
    help_page = opened.value
    help_page.wait_for_load_state()
    assert help_page.url.endswith("/help/errors/auth/")
    expect(help_page.get_by_role("heading", name=re.compile("Credentials rejected"))).to_be_visible()


def test_a_queued_run_says_its_place_and_what_holds_it(phone: Page, app_url: str, target_server: RecordingServer):
    api = new_tenant(app_url)
    slow = f"/slow-{uuid.uuid4().hex[:8]}"
    flow = graph(
        [
            labelled("start", "trigger.manual", "New order"),
            labelled("call", "http.request", "Ask the slow warehouse", {"url": f"{target_server.url}{slow}?sleep=5"}),
        ],
        [edge("start", "call")],
    )
    workflow_id = publish(api, "Ship orders one at a time", flow)
    assert api.put(f"/api/v1/workflows/{workflow_id}", json={"conflict_policy": "queue"}).status_code == 200
    first = start_run(api, workflow_id)

    def running() -> None:
        assert api.get(f"/api/v1/runs/{first}").json()["status"] == "running"

    eventually(running, timeout=60)
    second = start_run(api, workflow_id)

    sign_in(phone, app_url, api)
    phone.goto(f"{app_url}/#/runs/{second}")
    queue = phone.get_by_test_id("queue")
    expect(queue).to_have_text(
        "Number 1 in the queue — The workflow runs 1 at a time (queue); it starts when one ends."
    )
    expect(queue).to_have_attribute("data-held-by", "conflict_policy")

    expect(phone.get_by_test_id("current-steps")).to_contain_text("Ask the slow warehouse", timeout=60_000)
    expect(phone.locator(".page-head .pill")).to_have_text("Completed", timeout=60_000)
    rows = phone.get_by_role("region", name="Timeline").locator(".timeline-row")
    expect(rows.first).to_be_visible()
    assert_fits_width(phone)
