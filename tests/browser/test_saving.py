"""Saving when it goes wrong: someone else saved first (409: reload or keep both), and a failed save
whose unsaved graph is kept in the browser and offered back."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import create_workflow, new_tenant, node, open_editor, sign_in, three_step_graph

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


def rename_step(page: Page, node_id: str, label: str) -> None:
    node(page, node_id).click()
    page.get_by_label("Step name").fill(label)
    expect(node(page, node_id)).to_contain_text(label)


def someone_else_saves(api, workflow_id: str, label: str) -> None:
    current = api.get(f"/api/v1/workflows/{workflow_id}").json()
    graph = current["graph"]
    graph["nodes"][2]["label"] = label
    response = api.put(f"/api/v1/workflows/{workflow_id}", json={"graph": graph, "base_version": current["version"]})
    assert response.status_code == 200, response.text


def test_conflict_offers_keep_both_and_reload(page: Page, app_url: str):
    api = new_tenant(app_url)
    workflow = create_workflow(api, "Lead follow-up", three_step_graph())
    sign_in(page, app_url, api)
    open_editor(page, app_url, workflow["id"])

    someone_else_saves(api, workflow["id"], "Their log")
    rename_step(page, "shape", "My shaping")
    page.get_by_role("button", name="Save", exact=True).click()
    dialog = page.get_by_role("dialog", name="Someone else saved this workflow")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Keep both").click()
    expect(page.get_by_label("Workflow name")).to_have_value("Lead follow-up (copy)")
    expect(node(page, "shape")).to_contain_text("My shaping")
    names = sorted(w["name"] for w in api.get("/api/v1/workflows").json())
    assert names == ["Lead follow-up", "Lead follow-up (copy)"]
    theirs = api.get(f"/api/v1/workflows/{workflow['id']}").json()
    assert theirs["version"] == 2 and theirs["graph"]["nodes"][2]["label"] == "Their log"

    # Back on the original: another conflict, this time reload their version.
    open_editor(page, app_url, workflow["id"])
    someone_else_saves(api, workflow["id"], "Their second log")
    rename_step(page, "shape", "Mine again")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_role("dialog").get_by_role("button", name="Reload their version").click()
    expect(page.get_by_test_id("save-state")).to_have_text("Version 3")
    expect(node(page, "say")).to_contain_text("Their second log")
    expect(node(page, "shape")).to_contain_text("Shape the lead")


def test_unsaved_graph_survives_a_failed_save(page: Page, app_url: str):
    api = new_tenant(app_url)
    workflow = create_workflow(api, "Newsletter", three_step_graph())
    sign_in(page, app_url, api)
    open_editor(page, app_url, workflow["id"])

    def refuse_saves(route):
        if route.request.method == "PUT":
            route.fulfill(
                status=503,
                content_type="application/problem+json",
                body='{"type": "about:blank", "title": "Unavailable", "detail": "The server is restarting."}',
            )
        else:
            route.continue_()

    page.route("**/api/v1/workflows/*", refuse_saves)
    rename_step(page, "say", "Kept in the browser")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("alert").filter(has_text="Could not save")).to_contain_text("kept in this browser")
    page.unroute("**/api/v1/workflows/*")

    page.reload()
    banner = page.get_by_test_id("draft-banner")
    expect(banner).to_be_visible()
    expect(node(page, "say")).to_contain_text("Log it")
    banner.get_by_role("button", name="Restore them").click()
    expect(node(page, "say")).to_contain_text("Kept in the browser")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_test_id("save-state")).to_have_text("Version 2")
    page.reload()
    expect(node(page, "say")).to_contain_text("Kept in the browser")
    expect(page.get_by_test_id("draft-banner")).to_have_count(0)
