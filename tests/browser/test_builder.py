"""The builder's main story in a real browser: sign up, draw trigger -> transform -> log by dragging
from the palette and connecting handles, watch validation, save, publish, test run, read a step."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import (
    PASSWORD,
    connect,
    create_workflow,
    drag,
    drag_from_palette,
    edge_count,
    expect_no_problems,
    new_tenant,
    node,
    open_editor,
    show_whole_canvas,
    sign_in,
    three_step_graph,
)

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


def sign_up(page: Page, app_url: str) -> str:
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    page.goto(app_url + "/#/signup")
    page.get_by_label("Company or team name").fill(f"Bakery {uuid.uuid4().hex[:6]}")
    page.get_by_label("Work email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create workspace").click()
    expect(page.get_by_role("heading", name="Automate your first task")).to_be_visible()
    return email


def test_build_validate_save_publish_and_test_run(page: Page, app_url: str):
    email = sign_up(page, app_url)
    page.get_by_role("button", name="Create your first workflow").click()
    page.get_by_label("Name your workflow").fill("Welcome new leads")
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.get_by_test_id("empty-guide")).to_be_visible()

    # Draw the three steps by dragging them from the palette.
    drag_from_palette(page, "trigger.manual", 140, 300)
    expect(node(page, "manual_trigger")).to_be_visible()
    expect(page.get_by_test_id("empty-guide")).to_be_hidden()
    page.get_by_label("Search steps").fill("transform")
    expect(page.locator(".palette-item")).to_have_count(1)
    drag_from_palette(page, "data.transform", 420, 300)
    page.get_by_label("Search steps").fill("")
    drag_from_palette(page, "util.log", 700, 300)
    for node_id in ("transform_data", "log"):
        expect(node(page, node_id)).to_be_visible()

    # A transform without fields and a log without a message: the server says so on the nodes.
    expect(page.get_by_test_id("problems")).to_have_text(re.compile(r"\d+ problems"))
    expect(node(page, "transform_data").locator(".step-badge")).to_be_visible()
    expect(node(page, "log").locator(".step-badge")).to_be_visible()

    # Connect the handles; a connection into the trigger is refused with the reason.
    show_whole_canvas(page)
    connect(page, "manual_trigger", "transform_data")
    connect(page, "transform_data", "log")
    expect(page.locator(".react-flow__edge")).to_have_count(2)
    log_out = node(page, "log").locator('.react-flow__handle.source[data-handleid="default"]')
    box = log_out.bounding_box()
    trigger = node(page, "manual_trigger").bounding_box()
    drag(
        page, (box["x"] + 6, box["y"] + 6), (trigger["x"] + trigger["width"] / 2, trigger["y"] + trigger["height"] / 2)
    )
    expect(
        page.get_by_role("alert").filter(has_text="A trigger starts the workflow, so it cannot have inputs")
    ).to_be_visible()
    assert edge_count(page) == 2

    # Configure the transform with the expression helper: its field error disappears.
    node(page, "transform_data").click()
    panel = page.get_by_label("Step settings")
    expect(panel.locator('[data-field="fields"] .field-error')).to_be_visible()
    fields = panel.locator('[data-field="fields"]')
    fields.get_by_role("button", name="+ Add field").click()
    fields.get_by_label("Field name").fill("name")
    fields.get_by_role("button", name="Insert data").click()
    panel.locator('[data-expression="{{ trigger.first_name }}"]').click()
    expect(panel.get_by_label("Value of name")).to_have_value("{{ trigger.first_name }}")
    expect(panel.locator('[data-field="fields"] .field-error')).to_be_hidden()
    expect(node(page, "transform_data").locator(".step-badge")).to_be_hidden()

    # The log's message: the error is on the field, and goes away once the message is filled in.
    node(page, "log").click()
    message = panel.locator('[data-field="message"]')
    expect(message.locator(".field-error")).to_contain_text("required")
    expect(page.get_by_role("button", name="Publish")).to_be_disabled()
    expect(page.locator("#publish-reason")).to_contain_text("Fix 1 problem first")
    message.get_by_role("button", name="Insert data").click()
    panel.locator('[data-expression="{{ steps.transform_data.output.name }}"]').click()
    message.locator("textarea").press("End")
    message.locator("textarea").type(" joined")
    expect(message.locator(".field-error")).to_be_hidden()
    expect_no_problems(page)

    # Save: a new version, with who saved it.
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_test_id("save-state")).to_have_text("Version 2")
    page.get_by_role("button", name="Versions").click()
    expect(page.get_by_role("dialog", name="Versions").locator('[data-version="2"]')).to_contain_text(email)
    page.get_by_role("button", name="Versions").click()

    # Publish, then a test run: every node turns green.
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".toolbar .pill")).to_have_text("Published", timeout=60_000)  # creates its Prefect deployment
    page.get_by_role("button", name="Test run").click()
    payload = page.get_by_label("Trigger payload (JSON)")
    expect(payload).to_have_value(re.compile("first_name"))
    payload.fill('{"first_name": "Ada", "email": "ada@example.com"}')
    with page.expect_request(re.compile(r"/api/v1/runs/[^/]+/events$"), timeout=120_000) as events:  # followed live
        page.get_by_role("button", name="Run test").click()
    assert events.value.headers["accept"] == "text/event-stream"
    for node_id in ("manual_trigger", "transform_data", "log"):
        expect(node(page, node_id).locator(".step-node")).to_have_attribute("data-status", "completed", timeout=120_000)
    expect(page.get_by_test_id("run-bar").locator(".pill")).to_have_text("Completed", timeout=30_000)

    # Clicking a step shows what it received and produced.
    node(page, "log").click()
    expect(page.get_by_test_id("step-details")).to_be_visible()
    expect(page.get_by_test_id("json-output")).to_contain_text("Ada joined")
    expect(page.get_by_test_id("json-input")).to_be_visible()


def test_a_failed_step_turns_red_and_says_how_to_fix_it(page: Page, app_url: str):
    api = new_tenant(app_url)
    graph = three_step_graph()
    graph["nodes"][1]["config"] = {"fields": {"email": "{{ trigger.email | default('') }}"}, "required": ["email"]}
    workflow = create_workflow(api, "Needs an email", graph)
    sign_in(page, app_url, api)
    open_editor(page, app_url, workflow["id"])

    page.get_by_role("button", name="Test run").click()
    page.get_by_label("Trigger payload (JSON)").fill('{"first_name": "Ada"}')
    page.get_by_role("button", name="Run test").click()
    expect(node(page, "shape").locator(".step-node")).to_have_attribute("data-status", "failed", timeout=120_000)
    expect(node(page, "start").locator(".step-node")).to_have_attribute("data-status", "completed")
    expect(page.get_by_test_id("run-bar").locator(".pill")).to_have_text("Failed", timeout=30_000)
    node(page, "shape").click()
    details = page.get_by_test_id("step-details")
    expect(details.get_by_role("alert")).to_contain_text("required field 'email' is empty")
    expect(details.get_by_role("alert")).to_contain_text("How to fix it:")
