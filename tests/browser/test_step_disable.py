"""Disable a step on a 390 px phone: the step list's switch turns it off, the canvas dims it, the step panel
shows the same switch; published and run, the step is skipped (disabled) and the next step gets the data
passed through it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import create_workflow, new_tenant, node, open_editor, sign_in, three_step_graph

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


def test_disable_a_step_on_a_phone_publish_run_and_see_it_skipped(phone: Page, app_url: str):
    api = new_tenant(app_url)
    graph = three_step_graph()
    graph["nodes"][1]["config"] = {"fields": {"first_name": "Shaped {{ trigger.first_name }}"}}
    graph["nodes"][2]["config"] = {"message": "Hello {{ steps.shape.output.first_name }}"}
    workflow = create_workflow(api, "Quiet leads", graph)
    sign_in(phone, app_url, api)
    open_editor(phone, app_url, workflow["id"])

    steps = phone.get_by_role("navigation", name="Steps")
    expect(steps.get_by_role("switch")).to_have_count(2)  # the trigger has none: it cannot be disabled
    switch = steps.get_by_role("switch", name="Run Shape the lead")
    expect(switch).to_be_checked()
    switch.click()
    expect(switch).not_to_be_checked()
    expect(node(phone, "shape").locator(".step-node")).to_have_class(re.compile(r"\bstep-disabled\b"))
    expect(node(phone, "say").locator(".step-node")).not_to_have_class(re.compile(r"\bstep-disabled\b"))
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the editor is {width}px wide: it scrolls sideways on a phone"

    # The step panel shows the same switch, off.
    steps.get_by_role("button", name="Shape the lead").click()
    panel = phone.get_by_label("Step settings")
    expect(panel.get_by_role("switch", name="Run Shape the lead")).not_to_be_checked()
    expect(panel).to_contain_text("Disabled: skipped when the workflow runs")
    panel.get_by_role("button", name="Close panel").click()

    expect(phone.get_by_test_id("problems")).to_have_text("No problems", timeout=10_000)
    phone.get_by_role("button", name="Publish").click()
    expect(phone.locator(".toolbar .pill")).to_have_text("Published", timeout=60_000)
    saved = api.get(f"/api/v1/workflows/{workflow['id']}").json()
    assert saved["published_version"] == saved["version"] == 2
    assert [n.get("disabled", False) for n in saved["graph"]["nodes"]] == [False, True, False]

    # Run it from the workflows list; the run page shows the step skipped and the data passed through.
    phone.goto(f"{app_url}/#/workflows")
    phone.get_by_role("button", name="Run Quiet leads now").click()
    phone.get_by_role("dialog").get_by_role("button", name="Run now", exact=True).click()
    expect(phone).to_have_url(re.compile(r"#/runs/[0-9a-f-]{36}$"))
    expect(phone.locator(".page-head .pill")).to_have_text("Completed", timeout=120_000)
    shape = phone.locator('.step-card[data-node-id="shape"]')
    expect(shape).to_have_attribute("data-status", "skipped")
    expect(shape.locator("summary .pill")).to_have_text("Skipped (disabled)")
    expect(phone.get_by_text("3 of 3 steps")).to_be_visible()
    say = phone.locator('.step-card[data-node-id="say"]')
    say.locator("summary").click()
    expect(say.get_by_test_id("json-output")).to_contain_text("Hello Ada")
    expect(say.get_by_test_id("json-output")).not_to_contain_text("Shaped")
