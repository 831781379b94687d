"""Approval before production in the builder (issue 17 item 2): the owner turns approval on in Settings; an editor
(in a browser of their own) presses Request publish and is told the version was sent for approval, and sees the rule
read-only; the owner opens Changes to approve (a badge counts what waits), sees what the version changes against the
live one side by side, approves with a comment, and the workflow is live at that version; the request page fits a
phone. A request made stale by a direct publish, and one's own request (a rollback that asked for approval), cannot
be approved, and say why. An approval that creates a webhook shows its secret once, to the approver; the requester
is told and rotates it for one of their own."""

from __future__ import annotations

import json
import re
import uuid

import httpx
import pytest
from playwright.sync_api import Page, expect

from platform_api.triggers.signatures import sign
from tests.browser.helpers import (
    browser_as,
    create_workflow,
    new_tenant,
    node,
    open_editor,
    sign_in,
    three_step_graph,
    with_extra_step,
)
from tests.support import member

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


def test_editor_requests_publish_and_owner_approves(page: Page, browser, app_url: str):
    owner = new_tenant(app_url)
    tenant = owner.signup_body["tenant"]
    editor = member(owner, "editor")
    workflow = create_workflow(owner, f"Leads {uuid.uuid4().hex[:6]}", three_step_graph())
    published = owner.post(f"/api/v1/workflows/{workflow['id']}/publish")
    assert published.status_code == 200, published.text
    assert published.json()["published_version"] == 1

    # The owner requires approval in Settings → Workspace.
    sign_in(page, app_url, owner)
    page.goto(f"{app_url}/#/settings/workspace")
    form = page.get_by_role("form", name="Approval before production")
    toggle = form.get_by_label("Require approval before publishing")
    expect(toggle).not_to_be_checked()
    expect(form.get_by_label("Owners")).to_be_checked()
    expect(form.get_by_label("Admins")).to_be_checked()
    toggle.check()
    form.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Publishing now needs approval")).to_be_visible()
    rule = owner.get("/api/v1/tenant").json()
    assert rule["publish_requires_approval"] is True
    assert rule["publish_direct_roles"] == ["owner", "admin"]

    # The editor changes the workflow (version 2) and, in a browser of their own, asks for it to be published.
    saved = editor.put(f"/api/v1/workflows/{workflow['id']}", json={"graph": with_extra_step(three_step_graph())})
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == 2
    with browser_as(browser, app_url, editor, tenant) as theirs:
        open_editor(theirs, app_url, workflow["id"])
        request_button = theirs.get_by_role("button", name="Request publish")
        expect(request_button).to_be_enabled(timeout=20_000)
        request_button.click()
        expect(theirs.get_by_text("Sent for approval: an owner or admin will review version 2").first).to_be_visible()
        expect(theirs.get_by_test_id("pending-banner")).to_be_visible()
        # Settings shows the rule to an editor read-only, and why.
        theirs.goto(f"{app_url}/#/settings/workspace")
        locked = theirs.get_by_role("form", name="Approval before production")
        expect(locked.get_by_label("Require approval before publishing")).to_be_checked()
        expect(locked.get_by_label("Require approval before publishing")).to_be_disabled()
        expect(locked.get_by_test_id("approval-locked")).to_have_text(
            "Only an admin or owner can change the workspace's settings."
        )
        # The editor sees their request, but cannot decide it.
        theirs.goto(f"{app_url}/#/publish-requests")
        theirs.get_by_role("list", name="Publish requests").get_by_role("link").first.click()
        expect(theirs.get_by_test_id("decision-refusal")).to_have_text(
            "Only an owner or admin can approve or reject changes."
        )
        expect(theirs.get_by_role("button", name="Approve and publish")).to_be_disabled()
    assert owner.get(f"/api/v1/workflows/{workflow['id']}").json()["published_version"] == 1  # nothing live yet

    # The owner opens Changes to approve from the navigation: one waits.
    page.goto(f"{app_url}/#/")
    page.reload()  # the owner comes back to the app later (the badge is otherwise read every minute)
    nav = page.locator(".app-header")
    expect(nav.get_by_test_id("approvals-badge")).to_have_text("1")
    nav.get_by_role("link", name=re.compile("Changes to approve")).click()
    expect(page.get_by_role("heading", name="Changes to approve")).to_be_visible()
    requests = page.get_by_role("list", name="Publish requests")
    item = requests.get_by_role("link", name=re.compile(f"{workflow['name']}, version 2"))
    expect(item).to_contain_text(editor.email)
    expect(item.locator("[data-status]").first).to_have_text("Waiting")
    item.click()

    # The request: what version 2 changes against the live version 1, side by side.
    expect(page.get_by_role("heading", name=f"{workflow['name']}: version 2")).to_be_visible()
    expect(page.get_by_role("region", name="Version 1 (live)").locator(".react-flow__node")).to_have_count(3)
    expect(page.get_by_role("region", name="Version 2", exact=True).locator(".react-flow__node")).to_have_count(4)
    changes = page.get_by_test_id("diff-changes")
    expect(changes.locator('[data-kind="steps-added"]')).to_contain_text("Log again")
    expect(changes.locator('[data-kind="steps-changed"]')).to_contain_text("Welcome")

    page.get_by_label("Comment (optional)").fill("Looks right, ship it")
    page.get_by_role("button", name="Approve and publish").click()
    decision = page.get_by_test_id("decision")
    expect(decision).to_contain_text("Approved", timeout=60_000)
    expect(decision).to_contain_text("Looks right, ship it")

    # Live at version 2, through the API; the request says who approved it, with the comment.
    live = owner.get(f"/api/v1/workflows/{workflow['id']}").json()
    assert live["published_version"] == 2
    listed = owner.get("/api/v1/publish-requests", params={"workflow_id": workflow["id"]}).json()
    assert [(r["version"], r["status"], r["comment"]) for r in listed] == [(2, "approved", "Looks right, ship it")]

    # On a phone the request page fits the screen: the graphs stack, nothing runs off the side.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(page.get_by_role("heading", name=f"{workflow['name']}: version 2")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the request page is {width}px wide on a 390px phone"


def test_stale_and_own_requests_cannot_be_approved_and_restore_asks_too(page: Page, app_url: str):
    owner = new_tenant(app_url)
    editor = member(owner, "editor")
    workflow = create_workflow(owner, f"Orders {uuid.uuid4().hex[:6]}", three_step_graph())
    path = f"/api/v1/workflows/{workflow['id']}"
    assert owner.post(f"{path}/publish").status_code == 200
    assert owner.request("PATCH", "/api/v1/tenant", json={"publish_requires_approval": True}).status_code == 200

    # The editor asks for version 2; then the owner publishes version 3 directly: the request is out of date.
    assert editor.put(path, json={"graph": with_extra_step(three_step_graph())}).status_code == 200
    asked = editor.post(f"{path}/publish")
    assert asked.status_code == 202, asked.text
    stale_id = asked.json()["request_id"]
    assert owner.put(path, json={"graph": three_step_graph(spread=False)}).status_code == 200
    published = owner.post(f"{path}/publish")
    assert published.status_code == 200, published.text
    assert published.json()["published_version"] == 3

    sign_in(page, app_url, owner)
    page.goto(f"{app_url}/#/publish-requests?status=stale")
    item = page.get_by_role("list", name="Publish requests").get_by_role("link", name=re.compile("version 2"))
    expect(item.locator("[data-status]").first).to_have_text("Out of date")
    item.click()
    expect(page).to_have_url(re.compile(f"#/publish-requests/{stale_id}$"))
    expect(page.get_by_test_id("stale")).to_contain_text("version 3 was published after this request and is live now")
    expect(page.get_by_test_id("decision-refusal")).to_contain_text("version 3 is live now")
    expect(page.get_by_role("button", name="Approve and publish")).to_be_disabled()
    expect(page.get_by_role("button", name="Reject")).to_be_disabled()

    # Nobody publishes directly now: the owner's rollback asks for approval too, and the owner cannot approve it.
    assert owner.request("PATCH", "/api/v1/tenant", json={"publish_direct_roles": []}).status_code == 200
    open_editor(page, app_url, workflow["id"])
    expect(page.get_by_role("button", name="Request publish")).to_be_visible()
    page.get_by_role("button", name="Versions").click()
    menu = page.get_by_role("dialog", name="Versions")
    menu.locator('li[data-version="1"]').get_by_role("button", name="Restore").click()
    confirm = page.get_by_role("dialog", name="Restore version 1")
    expect(confirm).to_contain_text("go live once an owner or admin approves them")
    confirm.get_by_role("button", name="Restore and request publish").click()
    expect(page.get_by_text("Sent for approval: an owner or admin will review version 4").first).to_be_visible()
    read = owner.get(path).json()
    assert (read["version"], read["published_version"]) == (4, 3)
    pending = owner.get("/api/v1/publish-requests", params={"workflow_id": workflow["id"], "status": "pending"}).json()
    assert [(r["version"], r["requested_by"]) for r in pending] == [(4, owner.signup_body["user"]["email"])]

    page.goto(f"{app_url}/#/publish-requests/{pending[0]['id']}")
    expect(page.get_by_test_id("decision-refusal")).to_have_text(
        "You asked for this one: another owner or admin must review it."
    )
    expect(page.get_by_role("button", name="Approve and publish")).to_be_disabled()
    assert owner.get(path).json()["published_version"] == 3


def _signed_delivery(url: str, secret: str) -> int:
    body = json.dumps({"email": "ada@example.com"}).encode()
    headers = {"content-type": "application/json", "X-Flowyard-Signature": sign(secret, body)}
    return httpx.post(url, content=body, headers=headers, timeout=30).status_code


def test_an_approved_webhook_shows_its_secret_once_to_the_approver_and_the_requester_rotates(
    page: Page, browser, app_url: str
):
    owner = new_tenant(app_url)
    tenant = owner.signup_body["tenant"]
    editor = member(owner, "editor")
    assert owner.request("PATCH", "/api/v1/tenant", json={"publish_requires_approval": True}).status_code == 200
    graph = three_step_graph()
    graph["nodes"][0] = {**graph["nodes"][0], "type": "trigger.webhook", "config": {"auth": "hmac"}}
    workflow = create_workflow(editor, f"Hooks {uuid.uuid4().hex[:6]}", graph)
    asked = editor.post(f"/api/v1/workflows/{workflow['id']}/publish")
    assert asked.status_code == 202, asked.text

    # The owner approves: the approval created the webhook, and its secret is shown to them once, "copy it now".
    sign_in(page, app_url, owner)
    page.goto(f"{app_url}/#/publish-requests/{asked.json()['request_id']}")
    page.get_by_role("button", name="Approve and publish").click()
    dialog = page.get_by_role("dialog", name="Copy your webhook secret now")
    expect(dialog).to_contain_text("Copy it now: it is shown only this once.", timeout=60_000)
    expect(dialog).to_contain_text("Your approval created this workflow's webhook")
    secret = dialog.get_by_test_id("webhook-secret").input_value()
    assert secret.startswith("whsec_")
    url = dialog.get_by_label("Webhook URL").input_value()
    assert _signed_delivery(url, secret) == 202  # the endpoint's own secret
    dialog.get_by_role("button", name="I have copied it").click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_test_id("webhook-note")).to_contain_text("shown only once")
    page.reload()  # never shown twice: coming back shows the note, not the secret
    expect(page.get_by_test_id("decision")).to_contain_text("Approved", timeout=30_000)
    expect(page.get_by_test_id("webhook-note")).to_be_visible()
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert secret not in page.content()

    # The requester is told, follows the notification, and rotates to get a secret of their own.
    with browser_as(browser, app_url, editor, tenant) as theirs:
        theirs.goto(f"{app_url}/#/notifications")
        note = theirs.locator('li[data-kind="publish_request_approved"]')
        expect(note).to_contain_text("shown its signing secret once")
        assert secret not in theirs.content()
        note.get_by_role("link", name="Review the change").click()
        expect(theirs.get_by_test_id("webhook-note")).to_be_visible()
        theirs.get_by_test_id("webhook-note").get_by_role("link", name="open the workflow").click()
        expect(theirs).to_have_url(re.compile(r"#/workflows/[^/?]+$"))  # off the request's page and its canvases
        expect(theirs.get_by_test_id("webhook-note")).to_have_count(0)
        expect(node(theirs, "start")).to_be_visible()
        node(theirs, "start").click()
        panel = theirs.get_by_label("Step settings")
        panel.get_by_role("tab", name="Trigger").click()
        panel.get_by_role("button", name="Rotate secret…").click()
        theirs.get_by_role("dialog", name="Rotate the webhook secret").get_by_role("button", name="Rotate now").click()
        shown = theirs.get_by_role("dialog", name="Copy your webhook secret now")
        expect(shown).to_contain_text("The secret was rotated.")
        mine = shown.get_by_test_id("webhook-secret").input_value()
        assert mine.startswith("whsec_") and mine != secret
    assert _signed_delivery(url, secret) == 401  # the approver's copy stops working
    assert _signed_delivery(url, mine) == 202
