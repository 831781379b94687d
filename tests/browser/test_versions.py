"""Versions in the builder: comparing two versions (both graphs side by side, steps coloured by what happened to
them, the changes field by field) and restoring an old one as a new, published version (a rollback)."""

from __future__ import annotations

import copy
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import create_workflow, new_tenant, open_editor, sign_in, three_step_graph, with_extra_step

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)

GREEN = "rgb(22, 163, 74)"  # --completed
AMBER = "rgb(217, 119, 6)"  # --waiting


def second_version(graph: dict) -> dict:
    """The log step's message changed, a step added after it, the transform step moved."""
    changed = with_extra_step(graph)
    next(n for n in changed["nodes"] if n["id"] == "shape")["position"] = {"x": 300, "y": 160}
    return changed


def save(api, workflow_id: str, graph: dict, base_version: int) -> dict:
    response = api.put(f"/api/v1/workflows/{workflow_id}", json={"graph": graph, "base_version": base_version})
    assert response.status_code == 200, response.text
    return response.json()


def publish(api, workflow_id: str) -> dict:
    response = api.post(f"/api/v1/workflows/{workflow_id}/publish")
    assert response.status_code == 200, response.text
    return response.json()


def open_versions(page: Page):
    page.get_by_role("button", name="Versions").click()
    menu = page.get_by_role("dialog", name="Versions")
    expect(menu.locator("li[data-version]").first).to_be_visible()
    return menu


def logical(graph: dict) -> tuple:
    nodes = sorted(
        (n["id"], n["type"], n["label"], repr(n["config"]), n["position"]["x"], n["position"]["y"])
        for n in graph["nodes"]
    )
    edges = sorted((e["id"], e["source"], e.get("source_handle"), e["target"]) for e in graph["edges"])
    return nodes, edges


def test_compare_then_restore_an_older_version(page: Page, app_url: str):
    api = new_tenant(app_url)
    first = three_step_graph()
    workflow = create_workflow(api, "Lead follow-up", first)
    publish(api, workflow["id"])
    save(api, workflow["id"], second_version(first), base_version=1)
    assert publish(api, workflow["id"])["published_version"] == 2

    sign_in(page, app_url, api)
    open_editor(page, app_url, workflow["id"])
    menu = open_versions(page)
    expect(menu.locator('li[data-version="2"]')).to_contain_text("live")
    menu.locator('li[data-version="1"]').get_by_role("button", name="Compare").click()

    dialog = page.get_by_role("dialog", name="Compare versions")
    expect(dialog).to_be_visible()
    before, after = dialog.locator(".diff-before"), dialog.locator(".diff-after")
    expect(before).to_contain_text("version 1")
    expect(after).to_contain_text("version 2")

    added = after.locator('.react-flow__node[data-id="extra"]')
    expect(added).to_have_class(re.compile(r"\bdiff-added\b"))
    expect(added.locator(".step-node")).to_have_css("border-color", GREEN)
    expect(added).to_contain_text("Added")
    for side in (before, after):
        changed = side.locator('.react-flow__node[data-id="say"]')
        expect(changed).to_have_class(re.compile(r"\bdiff-changed\b"))
        expect(changed.locator(".step-node")).to_have_css("border-color", AMBER)
        expect(side.locator('.react-flow__node[data-id="shape"]')).to_have_class(re.compile(r"\bdiff-moved\b"))
        expect(side.locator('.react-flow__node[data-id="start"]')).not_to_have_class(re.compile(r"\bdiff-"))
    expect(before.locator('.react-flow__node[data-id="extra"]')).to_have_count(0)
    expect(dialog.locator(".diff-legend")).to_contain_text("Added")

    changes = dialog.get_by_test_id("diff-changes")
    field = changes.locator('.diff-step[data-node-id="say"] li[data-path="config.message"]')
    expect(field).to_contain_text("config.message")
    expect(field).to_contain_text("Hello {{ steps.shape.output.name }} → Welcome {{ steps.shape.output.name }}")
    expect(changes.locator('[data-kind="steps-added"]')).to_contain_text("Log again")
    expect(changes.locator('[data-kind="steps-moved"]')).to_contain_text("Shape the lead")
    expect(changes).to_contain_text("Log it → Log again")
    expect(dialog.get_by_test_id("trigger-change")).to_have_count(0)

    # Picking the other side: version 2 against itself says so, back to 1 shows the changes again.
    dialog.get_by_label("Before").select_option("2")
    expect(dialog).to_contain_text("Pick two different versions")
    dialog.get_by_label("Before").select_option("1")
    expect(changes.locator('li[data-path="config.message"]')).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()

    # Roll back to version 1: saved as version 3 and published.
    menu.locator('li[data-version="1"]').get_by_role("button", name="Restore").click()
    confirm = page.get_by_role("dialog", name="Restore version 1")
    expect(confirm).to_contain_text("Restore version 1 as a new version and publish it")
    confirm.get_by_label("Message (optional)").fill("Back to the short greeting")
    confirm.get_by_role("button", name="Restore and publish").click()
    expect(page.locator(".toast").filter(has_text="Version 1 restored as version 3 and published")).to_be_visible()
    expect(confirm).to_be_hidden()

    current = api.get(f"/api/v1/workflows/{workflow['id']}").json()
    assert current["version"] == 3 and current["published_version"] == 3
    assert logical(current["graph"]) == logical(first)
    versions = {v["version"]: v for v in api.get(f"/api/v1/workflows/{workflow['id']}/versions").json()}
    assert versions[3]["message"] == "Back to the short greeting" and versions[3]["published"]

    # The editor follows: version 3 on the canvas, live, and in the menu.
    expect(page.get_by_test_id("save-state")).to_have_text("Version 3 · live: v3")
    expect(page.locator('.canvas .react-flow__node[data-id="extra"]')).to_have_count(0)
    expect(menu.locator('li[data-version="3"]')).to_contain_text("live")
    expect(menu.locator('li[data-version="3"]')).to_contain_text("Back to the short greeting")


def test_compare_on_a_phone_stacks_the_canvases_and_calls_out_the_trigger(phone: Page, app_url: str):
    api = new_tenant(app_url)
    first = three_step_graph()
    workflow = create_workflow(api, "Web leads", first)
    changed = copy.deepcopy(first)
    changed["nodes"][0] = {
        "id": "start",
        "type": "trigger.webhook",
        "label": "Form posted",
        "config": {},
        "position": {"x": 0, "y": 0},
    }
    save(api, workflow["id"], changed, base_version=1)

    sign_in(phone, app_url, api)
    open_editor(phone, app_url, workflow["id"])
    menu = open_versions(phone)
    menu.locator('li[data-version="2"]').get_by_role("button", name="Compare").click()  # nothing live: 1 with 2
    dialog = phone.get_by_role("dialog", name="Compare versions")
    expect(dialog.get_by_test_id("trigger-change")).to_contain_text(
        "What starts this workflow changed: Manual trigger → Webhook"
    )
    before, after = dialog.locator(".diff-before .diff-canvas"), dialog.locator(".diff-after .diff-canvas")
    expect(after.locator('.react-flow__node[data-id="start"]')).to_have_class(re.compile(r"\bdiff-changed\b"))
    top, bottom = before.bounding_box(), after.bounding_box()
    assert bottom["y"] >= top["y"] + top["height"], "the canvases are stacked on a narrow screen"
    assert top["width"] > 250 and top["x"] + top["width"] <= 390


def test_a_restore_whose_publish_fails_is_kept_as_a_draft(page: Page, app_url: str):
    api = new_tenant(app_url)
    broken = three_step_graph()
    broken["nodes"][2]["config"] = {}  # the log step without its message: saved, but not publishable
    workflow = create_workflow(api, "Half done", broken)
    save(api, workflow["id"], three_step_graph(), base_version=1)
    publish(api, workflow["id"])

    sign_in(page, app_url, api)
    open_editor(page, app_url, workflow["id"])
    menu = open_versions(page)
    menu.locator('li[data-version="1"]').get_by_role("button", name="Restore").click()
    confirm = page.get_by_role("dialog", name="Restore version 1")
    confirm.get_by_role("button", name="Restore and publish").click()
    problem = confirm.get_by_role("alert")
    expect(problem).to_contain_text("message")  # the problem's detail names the field, and its hint follows
    hint = api.post("/api/v1/graphs/validate", json={"graph": broken}).json()["errors"][0]["hint"]
    expect(problem).to_contain_text(hint)
    expect(confirm).to_contain_text("It was saved as version 3, but not published")
    expect(confirm.get_by_role("button", name="Restore and publish")).to_have_count(0)

    current = api.get(f"/api/v1/workflows/{workflow['id']}").json()
    assert current["version"] == 3 and current["published_version"] == 2
    expect(page.get_by_test_id("save-state")).to_have_text("Version 3 · live: v2")
