"""On a 390 px wide phone: sign in, follow a run's progress live, read a step; the editor has no canvas drags
(editing settings and publishing on a phone: test_editor_keys.py)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import PASSWORD, center, create_workflow, drag, new_tenant, node, three_step_graph

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


def assert_fits_width(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide: it scrolls sideways on a phone"


def test_runs_and_run_progress_on_a_phone(phone: Page, app_url: str):
    api = new_tenant(app_url)
    workflow = create_workflow(api, "Welcome new leads from the website form", three_step_graph())
    run_id = api.post(
        f"/api/v1/workflows/{workflow['id']}/runs", json={"input": {"first_name": "Ada"}, "mode": "test"}
    ).json()["run_id"]

    phone.goto(app_url + "/#/login")
    phone.get_by_label("Work email").fill(api.signup_body["user"]["email"])
    phone.get_by_label("Password").fill(PASSWORD)
    phone.get_by_role("button", name="Sign in").click()
    expect(phone.get_by_role("heading", name="Workflows")).to_be_visible()
    assert_fits_width(phone)

    phone.get_by_role("navigation").get_by_role("link", name="Runs").click()
    run = phone.locator(f'[data-run-id="{run_id}"]')
    expect(run).to_contain_text("Welcome new leads")
    assert_fits_width(phone)
    run.click()

    # The run page follows the run live until every step is done.
    expect(phone.locator(".page-head .pill")).to_have_text("Completed", timeout=120_000)
    expect(phone.locator(".step-card")).to_have_count(3)
    expect(phone.locator('.step-card[data-status="completed"]')).to_have_count(3)
    expect(phone.get_by_text("3 of 3 steps")).to_be_visible()
    phone.locator('.step-card[data-node-id="say"] summary').click()
    expect(phone.locator('.step-card[data-node-id="say"]').get_by_test_id("json-output")).to_contain_text("Hello Ada")
    assert_fits_width(phone)

    # The editor says drags need a larger screen: no palette, steps cannot be moved.
    phone.goto(f"{app_url}/#/workflows/{workflow['id']}")
    expect(phone.get_by_test_id("narrow-banner")).to_contain_text("needs a larger screen")
    expect(phone.locator(".palette")).to_have_count(0)

    def offset() -> tuple[float, float]:  # a drag may pan the canvas, but never moves one step
        start, shape = node(phone, "start").bounding_box(), node(phone, "shape").bounding_box()
        return round(shape["x"] - start["x"]), round(shape["y"] - start["y"])

    before = offset()
    x, y = center(node(phone, "start").locator(".step-title"))
    drag(phone, (x, y), (x + 60, y + 60))
    assert offset() == before
    node(phone, "say").click()
    expect(phone.get_by_label("Step settings")).to_contain_text("Log it")
