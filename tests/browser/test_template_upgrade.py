"""Templates in the builder, issue 16 item 5: a workspace saves a workflow as a private template (version 1);
the template's page draws its graph on a read-only canvas; the instantiate form makes a workflow of it that
starts by a webhook instead; the workflow is edited so that it conflicts with the template's version 2; the
editor's "update available" banner opens the merge screen, which shows the changes, the two conflicts and the
merged graph on a read-only canvas (the added step and the conflicting ones marked, following the choices);
one is resolved each way and the merge is applied as a new draft version, which the API confirms."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import docs_screenshot, new_tenant, sign_in
from tests.support import Api

pytestmark = pytest.mark.parametrize("stack", ["sqlite", "postgres"], indirect=True)  # the pages read both


def greeting_graph(subject: str, message: str, *, audit: bool = False) -> dict:
    nodes = [
        {
            "id": "start",
            "type": "trigger.manual",
            "label": "New customer",
            "config": {"sample": {"email": "a@example.com"}},
        },
        {
            "id": "shape",
            "type": "data.transform",
            "label": "Write the greeting",
            "config": {"fields": {"subject": subject, "email": "{{ trigger.email }}"}},
        },
        {"id": "say", "type": "util.log", "label": "Log it", "config": {"message": message}},
    ]
    edges = [
        {"id": "e1", "source": "start", "source_handle": None, "target": "shape"},
        {"id": "e2", "source": "shape", "source_handle": None, "target": "say"},
    ]
    if audit:
        nodes.append({"id": "audit", "type": "util.log", "label": "Audit", "config": {"message": "audited"}})
        edges.append({"id": "e3", "source": "say", "source_handle": None, "target": "audit"})
    for index, node in enumerate(nodes):
        node["position"] = {"x": 280 * index, "y": 0}
    return {"nodes": nodes, "edges": edges}


def saved_workflow(api: Api, name: str, graph: dict) -> dict:
    created = api.post("/api/v1/workflows", json={"name": name, "graph": graph})
    assert created.status_code == 201, created.text
    return created.json()


def test_preview_instantiate_with_a_webhook_and_upgrade_through_the_merge_screen(page: Page, app_url: str):
    api = new_tenant(app_url)
    source = saved_workflow(api, "Greeting source", greeting_graph("Hello", "Sent: {{ steps.shape.output.subject }}"))
    saved = api.post(
        "/api/v1/templates",
        json={
            "workflow_id": source["id"],
            "title": "Greet new customers",
            "description": "Greets every new customer by email.",
            "category": "operations",
        },
    )
    assert saved.status_code == 201, saved.text
    slug = saved.json()["slug"]
    sign_in(page, app_url, api)

    # The preview: the template's steps on a read-only canvas (the editor's step nodes), and as a list.
    page.goto(f"{app_url}/#/templates/{slug}")
    expect(page.get_by_role("heading", name="Greet new customers", level=1)).to_be_visible()
    canvas = page.get_by_test_id("template-canvas")
    for node_id, label in (("start", "New customer"), ("shape", "Write the greeting"), ("say", "Log it")):
        step = canvas.locator(f'.react-flow__node[data-id="{node_id}"]')
        expect(step).to_be_visible(timeout=30_000)
        expect(step).to_contain_text(label)
    expect(canvas.locator(".react-flow__node")).to_have_count(3)
    expect(canvas.locator(".react-flow__edge")).to_have_count(2)
    expect(canvas.locator(".react-flow__node.draggable")).to_have_count(0)  # read-only
    page.get_by_text("The 3 steps as a list").click()
    expect(page.get_by_role("list", name="Steps").get_by_role("listitem")).to_have_count(3)
    before = len(api.get("/api/v1/workflows").json())

    # A schedule whose cron is not one: refused, the reason under the trigger choice, nothing made.
    form = page.get_by_role("form", name="Use this template")
    trigger = form.get_by_role("group", name="How it starts")
    trigger.get_by_role("radio", name=re.compile("^Schedule")).check()
    trigger.get_by_label("Cron expression").fill("every day")
    expect(trigger.get_by_label("Time zone")).to_have_value("")
    with page.expect_response(lambda r: r.url.endswith(f"/api/v1/templates/{slug}/instantiate")) as refused:
        form.get_by_role("button", name="Use this template").click()
    assert refused.value.status == 422, refused.value.text()
    expect(trigger.locator(".field-error")).to_contain_text("schedules[0].cron")
    assert len(api.get("/api/v1/workflows").json()) == before
    docs_screenshot(page, "template-preview.png", full_page=True)

    # Instantiate it, starting by a webhook with a bearer token instead of by hand (keyboard only for the trigger).
    form.get_by_label("Workflow name").fill("Greetings")
    trigger.get_by_role("radio", name=re.compile("^As the template says")).check()
    trigger.get_by_role("radio", name=re.compile("^As the template says")).focus()
    page.keyboard.press("ArrowDown")  # radios of one name: arrows move the choice
    expect(trigger.get_by_role("radio", name=re.compile("^Webhook"))).to_be_checked()
    trigger.get_by_label("How deliveries prove they are yours").select_option("bearer")
    with page.expect_response(lambda r: r.url.endswith(f"/api/v1/templates/{slug}/instantiate")) as answered:
        form.get_by_role("button", name="Use this template").click()
    assert answered.value.status == 201, answered.value.text()
    sent = json.loads(answered.value.request.post_data)
    assert sent["trigger_overrides"] == {"type": "trigger.webhook", "config": {"auth": "bearer"}}
    workflow_id = answered.value.json()["workflow"]["id"]
    expect(page.get_by_role("heading", name="“Greetings” is ready as a draft")).to_be_visible()
    start = api.get(f"/api/v1/workflows/{workflow_id}").json()["graph"]["nodes"][0]
    assert (start["type"], start["config"]["auth"]) == ("trigger.webhook", "bearer")

    # The workspace changes its workflow; then the template gets a version 2 that changes the same settings.
    mine = api.get(f"/api/v1/workflows/{workflow_id}").json()["graph"]
    steps = {n["id"]: n for n in mine["nodes"]}
    steps["shape"]["config"]["fields"]["subject"] = "Hi there"
    steps["say"]["config"]["message"] = "Mine: {{ steps.shape.output.subject }}"
    assert api.put(f"/api/v1/workflows/{workflow_id}", json={"graph": mine}).status_code == 200
    newer = saved_workflow(
        api,
        "Greeting source v2",
        greeting_graph("Hello and welcome", "Greeted: {{ steps.shape.output.subject }}", audit=True),
    )
    published = api.post(
        f"/api/v1/templates/{slug}/versions",
        json={"workflow_id": newer["id"], "changes": "Warmer greeting; an audit step."},
    )
    assert published.status_code == 201, published.text

    # The workflows list says an update is available; so does the editor, whose banner opens the merge screen.
    page.goto(f"{app_url}/#/")
    expect(page.get_by_role("link", name="Update available for Greetings", exact=True)).to_be_visible(timeout=30_000)
    expect(page.get_by_role("link", name="Update available for Greeting source", exact=True)).to_have_count(0)
    page.goto(f"{app_url}/#/workflows/{workflow_id}")
    banner = page.get_by_test_id("upgrade-banner")
    expect(banner).to_contain_text("Update available: version 2 of the template “Greet new customers”", timeout=30_000)
    banner.get_by_role("link", name="Review the update").click()
    expect(page).to_have_url(re.compile(rf"#/upgrade/{workflow_id}$"))
    expect(page.get_by_role("heading", name="Update from the template: Greetings", level=1)).to_be_visible()
    expect(page.get_by_text("template v1 → v2")).to_be_visible()
    expect(page.get_by_text("v2 (", exact=False)).to_contain_text("Warmer greeting; an audit step.")
    changes = page.get_by_role("list", name="Changes")
    expect(changes.locator('[data-path="nodes.audit"]')).to_contain_text("Added")
    expect(changes.locator('[data-path="nodes.audit"]')).to_contain_text("Step “audit”")
    expect(page.get_by_role("heading", name="Conflicts to resolve (2)")).to_be_visible()
    subject = page.get_by_role("group", name="Step “Write the greeting” › config › fields")
    message = page.get_by_role("group", name="Step “Log it” › config › message")
    expect(subject).to_contain_text("Hi there")
    expect(subject).to_contain_text("Hello and welcome")
    expect(message).to_contain_text("Mine: {{ steps.shape.output.subject }}")
    expect(message).to_contain_text("Greeted: {{ steps.shape.output.subject }}")
    expect(subject.get_by_role("radio", name=re.compile("^Keep yours"))).to_be_checked()  # yours by default

    # The merged graph on a read-only canvas: the template's new step added, the two steps in conflict marked.
    merged = page.get_by_test_id("merge-canvas")
    for node_id, label in (
        ("start", "New customer"),
        ("shape", "Write the greeting"),
        ("say", "Log it"),
        ("audit", "Audit"),
    ):
        expect(merged.locator(f'.react-flow__node[data-id="{node_id}"]')).to_contain_text(label, timeout=30_000)
    expect(merged.locator(".react-flow__node")).to_have_count(4)
    expect(merged.locator(".react-flow__edge")).to_have_count(3)
    expect(merged.locator(".react-flow__node.draggable")).to_have_count(0)  # read-only
    audit = merged.locator('.react-flow__node[data-id="audit"]')
    expect(audit).to_have_class(re.compile(r"\bmerge-added\b"))
    expect(audit.locator(".diff-badge")).to_have_text("Added")
    expect(merged.locator(".react-flow__edge.merge-edge-added")).to_have_count(1)  # say -> audit
    expect(merged.locator('.react-flow__node[data-id="shape"] .diff-badge')).to_have_text("Conflict · yours")
    expect(merged.locator('.react-flow__node[data-id="say"] .diff-badge')).to_have_text("Conflict · yours")
    expect(merged.locator('.react-flow__node[data-id="start"] .diff-badge')).to_have_count(0)  # unchanged
    docs_screenshot(page, "template-merge.png", full_page=True)

    # Resolve: the template's greeting, but keep our message. The diff follows the choice.
    with page.expect_response(lambda r: r.url.endswith(f"/api/v1/workflows/{workflow_id}/upgrade")) as previewed:
        subject.get_by_role("radio", name=re.compile("^Take the template's")).check()
    assert json.loads(previewed.value.request.post_data) == {
        "resolutions": {"nodes.shape.config.fields": "template"},
        "dry_run": True,
    }
    expect(changes.locator('[data-path="nodes.shape.config.fields"]')).to_contain_text("Hello and welcome")
    expect(merged.locator('.react-flow__node[data-id="shape"] .diff-badge')).to_have_text("Conflict · template's")
    expect(merged.locator('.react-flow__node[data-id="say"] .diff-badge')).to_have_text("Conflict · yours")
    expect(merged.locator(".react-flow__node")).to_have_count(4)
    assert api.get(f"/api/v1/workflows/{workflow_id}").json()["version"] == 2  # nothing saved yet
    with page.expect_response(
        lambda r: r.url.endswith(f"/api/v1/workflows/{workflow_id}/upgrade")
        and '"dry_run":false' in (r.request.post_data or "")
    ) as applied:
        page.get_by_role("button", name="Apply as a new draft version").click()
    assert applied.value.status == 200, applied.value.text()
    assert json.loads(applied.value.request.post_data)["resolutions"] == {
        "nodes.shape.config.fields": "template",
        "nodes.say.config.message": "workflow",
    }
    expect(page.get_by_role("heading", name="Saved as draft version 3")).to_be_visible()

    # Through the API: a new draft version with the resolved values, the webhook kept, the lineage at version 2.
    workflow = api.get(f"/api/v1/workflows/{workflow_id}").json()
    assert workflow["version"] == 3 and workflow["status"] == "draft"
    nodes = {n["id"]: n for n in workflow["graph"]["nodes"]}
    assert nodes["shape"]["config"]["fields"]["subject"] == "Hello and welcome"
    assert nodes["say"]["config"]["message"] == "Mine: {{ steps.shape.output.subject }}"
    assert "audit" in nodes and nodes["start"]["type"] == "trigger.webhook"
    assert workflow["template"]["version"] == 2
    assert api.get("/api/v1/templates/updates").json()["updates"] == []

    # Back in the editor: no banner any more; the merge screen now says there is nothing to update.
    page.get_by_role("link", name="Open the workflow").click()
    expect(page.get_by_test_id("save-state")).to_have_text("Version 3", timeout=30_000)
    expect(page.get_by_test_id("upgrade-banner")).to_have_count(0)
    page.goto(f"{app_url}/#/upgrade/{workflow_id}")
    expect(page.get_by_role("heading", name="Nothing to update")).to_be_visible()
