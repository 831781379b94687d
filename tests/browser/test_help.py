"""The help site from the builder: a failed step's "What to do" opens the page of its kind of failure, a step's
"Learn more" opens the page of its node type beside the settings' inline help, and the site's search works
offline. The pictures of docs/getting-started.md are taken here, following the guide's own steps."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import (
    connect,
    create_workflow,
    docs_screenshot,
    drag_from_palette,
    expect_no_problems,
    new_tenant,
    node,
    open_editor,
    show_whole_canvas,
    sign_in,
)
from tests.support import RecordingServer, edge, graph, labelled, publish, start_run


@pytest.mark.parametrize("stack", ["sqlite", "postgres"], indirect=True)  # the run page reads both
def test_a_failed_steps_help_link_explains_the_error(page: Page, app_url: str, target_server: RecordingServer):
    api = new_tenant(app_url)
    refused = f"/orders-{uuid.uuid4().hex[:8]}"
    target_server.responses[refused] = (403, {"content-type": "application/json"}, b'{"error": "not your shop"}')
    flow = graph(
        [
            labelled("start", "trigger.manual", "New order"),
            labelled(
                "send", "http.request", "Tell the warehouse", {"method": "POST", "url": target_server.url + refused}
            ),
        ],
        [edge("start", "send")],
    )
    workflow_id = publish(api, "Ship orders", flow)
    run = api.wait_for_run(start_run(api, workflow_id))
    assert run["status"] == "failed", run

    sign_in(page, app_url, api)
    page.goto(f"{app_url}/#/runs/{run['id']}")
    error = page.locator('.step-card[data-node-id="send"]').get_by_role("alert")
    expect(error).to_have_attribute("data-kind", "permission")
    link = error.get_by_role("link", name="What to do")
    expect(link).to_have_attribute("href", "/help/errors/permission/")
    with page.context.expect_page() as opened:
        link.click()
    help_page = opened.value
    help_page.wait_for_load_state()
    assert help_page.url == f"{app_url}/help/errors/permission/"
    expect(help_page.get_by_role("heading", level=1)).to_have_text(re.compile(r"Not allowed \(permission\)"))
    expect(help_page.locator("article")).to_contain_text("The credentials are valid but may not do this (HTTP 403)")

    # The help site's own search, offline: its index is part of the build.
    help_page.locator(".md-search__input").fill("signature rejected")
    result = help_page.locator(".md-search-result__item").first
    expect(result).to_contain_text("Signature rejected", timeout=15_000)
    help_page.locator(".md-search__input").fill("")
    help_page.keyboard.press("Escape")
    docs_screenshot(help_page, "help-site.png")
    help_page.close()

    # In the editor: the step's settings explain themselves, and Learn more opens the step's page.
    open_editor(page, app_url, workflow_id)
    node(page, "send").click()
    panel = page.get_by_label("Step settings")
    url_schema = next(t for t in api.get("/api/v1/node-types").json() if t["type"] == "http.request")["config_schema"]
    expect(panel.locator('[data-field="url"] .help')).to_have_text(url_schema["properties"]["url"]["description"])
    learn_more = panel.get_by_role("link", name="Learn more about HTTP request")
    expect(learn_more).to_have_attribute("href", "/help/nodes/http.request/")
    expect(learn_more).to_have_attribute("target", "_blank")
    with page.context.expect_page() as opened:
        learn_more.click()
    node_page = opened.value
    node_page.wait_for_load_state()
    expect(node_page.get_by_role("heading", level=1)).to_have_text(re.compile(r"HTTP request \(http\.request\)"))
    expect(node_page.locator("article table").first).to_contain_text("fail_on_error_status")


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
def test_the_getting_started_guide_works_as_written(page: Page, app_url: str):
    """docs/getting-started.md, step by step, taking its pictures."""
    api = new_tenant(app_url)
    workflow = create_workflow(api, "Welcome new leads", {"nodes": [], "edges": []})
    sign_in(page, app_url, api)
    open_editor_empty = f"{app_url}/#/workflows/{workflow['id']}"
    page.goto(open_editor_empty)
    expect(page.get_by_test_id("empty-guide")).to_be_visible()

    drag_from_palette(page, "trigger.manual", 140, 300)
    expect(node(page, "manual_trigger")).to_be_visible()
    page.get_by_label("Search steps").fill("transform")
    drag_from_palette(page, "data.transform", 420, 300)
    page.get_by_label("Search steps").fill("")
    drag_from_palette(page, "util.log", 700, 300)
    show_whole_canvas(page)
    connect(page, "manual_trigger", "transform_data")
    connect(page, "transform_data", "log")
    expect(page.locator(".react-flow__edge")).to_have_count(2)
    expect(page.get_by_test_id("problems")).to_have_text(re.compile(r"\d+ problems?"))
    docs_screenshot(page, "getting-started-canvas.png")

    node(page, "transform_data").click()
    panel = page.get_by_label("Step settings")
    fields = panel.locator('[data-field="fields"]')
    expect(fields.locator(".help")).not_to_be_empty()  # each setting says what it does
    fields.get_by_role("button", name="+ Add field").click()
    fields.get_by_label("Field name").fill("name")
    fields.get_by_role("button", name="Insert data").click()
    panel.locator('[data-expression="{{ trigger.first_name }}"]').click()
    expect(panel.get_by_label("Value of name")).to_have_value("{{ trigger.first_name }}")
    expect(panel.get_by_role("link", name="Learn more about Transform data")).to_have_attribute(
        "href", "/help/nodes/data.transform/"
    )
    docs_screenshot(page, "getting-started-settings.png")

    node(page, "log").click()
    message = panel.locator('[data-field="message"]')
    message.get_by_role("button", name="Insert data").click()
    panel.locator('[data-expression="{{ steps.transform_data.output.name }}"]').click()
    message.locator("textarea").press("End")
    message.locator("textarea").type(" joined")
    expect_no_problems(page)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_test_id("save-state")).to_have_text(re.compile(r"Version \d+"))

    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".toolbar .pill")).to_have_text("Published", timeout=60_000)
    page.get_by_role("button", name="Test run").click()
    page.get_by_label("Trigger payload (JSON)").fill('{"first_name": "Ada", "email": "ada@example.com"}')
    page.get_by_role("button", name="Run test").click()
    for node_id in ("manual_trigger", "transform_data", "log"):
        expect(node(page, node_id).locator(".step-node")).to_have_attribute("data-status", "completed", timeout=120_000)
    node(page, "log").click()
    expect(page.get_by_test_id("json-output")).to_contain_text("Ada joined")
    docs_screenshot(page, "getting-started-test-run.png")
