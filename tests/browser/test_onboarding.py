"""The first-run guide of a new workspace: four steps, none ticked; the owner follows the guide's buttons to add
a SendGrid connection, draw a workflow (its steps are saved through the API: drawing with the mouse is
test_builder's), test it and publish it in the editor; back on the workflows list each step is ticked from the
workspace's data. "Hide the guide" dismisses it, a reload keeps it dismissed (per user and workspace, in this
browser), and the header's "Getting started" brings it back."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.helpers import docs_screenshot, new_tenant, sign_in, three_step_graph

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)

STEPS = ["connect", "start", "test", "publish"]


def ticked(guide: Locator) -> list[str]:
    return [s for s in STEPS if guide.locator(f'[data-step="{s}"]').get_attribute("data-done") == "true"]


def expect_ticked(guide: Locator, done: list[str]) -> None:
    expect(guide.get_by_test_id("guide-progress")).to_have_text(f"{len(done)} of 4 done")
    for step in STEPS:
        expect(guide.locator(f'[data-step="{step}"]')).to_have_attribute("data-done", str(step in done).lower())


def back_to_workflows(page: Page) -> Locator:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Workflows", exact=True).click()
    expect(page).to_have_url(re.compile(r"#/$"))
    return page.get_by_role("region", name=re.compile("^(Getting started|You are all set)$"))


def test_a_new_workspace_follows_the_guide(page: Page, app_url: str, fake_services):
    api = new_tenant(app_url)
    user_id, tenant_id = api.signup_body["user"]["id"], api.signup_body["tenant"]["id"]
    sign_in(page, app_url, api)

    # A new workspace: the guide, nothing done, and an empty list that says what to do.
    guide = page.get_by_role("region", name="Getting started")
    expect_ticked(guide, [])
    expect(guide.get_by_role("listitem")).to_have_count(4)
    expect(guide.locator('[data-step="test"]')).to_contain_text("Start a workflow first")
    expect(page.get_by_role("heading", name="Automate your first task")).to_be_visible()
    expect(page.get_by_role("button", name="Getting started")).to_have_count(0)  # the entry shows once dismissed
    docs_screenshot(page, "onboarding-guide.png")

    # 1. Connect an account: the guide's button opens Connections; a SendGrid account is added there.
    guide.get_by_role("link", name="Add a connection").click()
    expect(page).to_have_url(re.compile(r"#/connections$"))
    page.get_by_role("button", name="+ Add connection").click()
    page.get_by_role("dialog", name="Add a connection").get_by_label("Service").select_option(label="SendGrid")
    dialog = page.get_by_role("dialog", name="Add a SendGrid connection")
    dialog.get_by_label("Connection name").fill("Marketing")
    dialog.get_by_label("API key").fill(fake_services.sendgrid.add_key())
    dialog.get_by_label("From email").fill("shop@example.com")
    dialog.get_by_role("button", name="Add connection").click()
    expect(dialog).to_be_hidden(timeout=30_000)  # the credentials are stored as a Prefect block
    guide = back_to_workflows(page)
    expect_ticked(guide, ["connect"])
    expect(guide.locator('[data-step="connect"]').get_by_role("link", name="See connections")).to_be_visible()

    # 2. Draw a workflow: the guide's button opens the name form; Create opens the editor.
    expect(guide.get_by_role("link", name="Browse templates")).to_have_attribute("href", "#/templates")
    guide.get_by_role("button", name="Draw a workflow").click()
    page.get_by_label("Name your workflow").fill("Welcome new leads")
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page).to_have_url(re.compile(r"#/workflows/[^/]+$"))
    workflow_id = page.url.rsplit("/", 1)[1]
    current = api.get(f"/api/v1/workflows/{workflow_id}").json()
    saved = api.put(
        f"/api/v1/workflows/{workflow_id}", json={"graph": three_step_graph(), "base_version": current["version"]}
    )
    assert saved.status_code == 200, saved.text
    guide = back_to_workflows(page)
    expect_ticked(guide, ["connect", "start"])

    # 3. Test it: the guide opens the workflow; a test run from the editor.
    guide.locator('[data-step="test"]').get_by_role("link", name="Open Welcome new leads to test it").click()
    expect(page).to_have_url(re.compile(rf"#/workflows/{workflow_id}$"))
    page.get_by_role("button", name="Test run").click()
    page.get_by_label("Trigger payload (JSON)").fill('{"first_name": "Ada", "email": "ada@example.com"}')
    page.get_by_role("button", name="Run test").click()
    expect(page.get_by_test_id("run-bar").locator(".pill")).to_have_text("Completed", timeout=120_000)
    guide = back_to_workflows(page)
    expect_ticked(guide, ["connect", "start", "test"])
    docs_screenshot(page, "onboarding-guide-progress.png")

    # 4. Publish it, from the editor the guide opens.
    guide.locator('[data-step="publish"]').get_by_role("link", name="Open Welcome new leads to publish it").click()
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".toolbar .pill")).to_have_text("Published", timeout=60_000)
    guide = back_to_workflows(page)
    expect_ticked(guide, STEPS)
    expect(guide.get_by_role("heading", name="You are all set")).to_be_visible()

    # Dismissed: gone, and still gone after a reload; kept for this user in this workspace.
    guide.get_by_role("button", name="Hide the guide").click()
    expect(guide).to_be_hidden()
    reopen = page.get_by_role("button", name="Getting started")
    expect(reopen).to_be_visible()
    page.reload()
    expect(page.get_by_role("link", name=re.compile("^Welcome new leads"))).to_be_visible()
    expect(page.get_by_test_id("getting-started")).to_have_count(0)
    key = f"flowyard:guide-dismissed:{user_id}:{tenant_id}"
    assert page.evaluate("k => localStorage.getItem(k)", key) == "1"

    # "Getting started" brings it back, from any page, with the steps still ticked and focus on it.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Runs", exact=True).click()
    page.get_by_role("button", name="Getting started").click()
    expect(page).to_have_url(re.compile(r"#/$"))
    guide = page.get_by_test_id("getting-started")
    expect_ticked(guide, STEPS)
    expect(guide.get_by_role("heading", name="You are all set")).to_be_focused()
    expect(page.get_by_role("button", name="Getting started")).to_have_count(0)
    assert page.evaluate("k => localStorage.getItem(k)", key) is None


def test_a_new_workspace_s_lists_say_what_to_do_next(page: Page, app_url: str):
    """Each list page of an empty workspace: "Loading …" while its list is read (held back here), then an empty
    state whose heading says so and whose button or link leads to the next step."""
    api = new_tenant(app_url)
    sign_in(page, app_url, api)
    expect(page.get_by_role("heading", name="Automate your first task")).to_be_visible()

    held: list = []
    page.route(re.compile(r"/api/v1/runs\?"), lambda route: held.append(route))
    page.goto(f"{app_url}/#/runs")
    expect(page.get_by_role("status").filter(has_text="Loading the runs…")).to_be_visible()
    expect(page.get_by_role("heading", name="No runs yet")).to_have_count(0)
    page.wait_for_timeout(300)
    for route in held:
        route.continue_()
    page.unroute(re.compile(r"/api/v1/runs\?"))
    expect(page.get_by_role("heading", name="No runs yet")).to_be_visible()
    expect(page.get_by_test_id("loading")).to_have_count(0)

    next_steps = {
        "#/": ("Automate your first task", "Create your first workflow"),
        "#/runs": ("No runs yet", "Open a workflow"),
        "#/connections": ("Connect your first account", "Add a connection"),
        "#/inbox": ("Nothing waits for you", "See waiting runs"),
        "#/notifications": ("No notifications yet", "Set up alerts"),
        "#/publish-requests": ("Nothing waits for approval", "Back to workflows"),
    }
    for path, (heading, action) in next_steps.items():
        page.goto(f"{app_url}/{path}")
        empty = page.locator(".empty").filter(has=page.get_by_role("heading", name=heading))
        expect(empty).to_be_visible()
        expect(empty.get_by_role("button", name=action).or_(empty.get_by_role("link", name=action))).to_be_visible()
        expect(page.get_by_test_id("loading")).to_have_count(0)
