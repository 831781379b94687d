"""A workflow's own settings in the editor (the toolbar's Workflow settings dialog): the owner makes one workflow
always need approval and queue overlapping runs; the API has both, with no new version; an editor (in a browser of
their own) sees the approval choice locked with the reason, still changes what happens to overlapping runs, and is
asked to request publishing."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import browser_as, create_workflow, new_tenant, open_editor, sign_in, three_step_graph
from tests.support import member

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


def test_owner_sets_approval_and_queue_editor_sees_approval_locked(page: Page, browser, app_url: str):
    owner = new_tenant(app_url)
    tenant = owner.signup_body["tenant"]
    editor = member(owner, "editor")
    workflow = create_workflow(owner, f"Leads {uuid.uuid4().hex[:6]}", three_step_graph())
    path = f"/api/v1/workflows/{workflow['id']}"
    before = owner.get(path).json()
    assert before["conflict_policy"] == "parallel"
    assert before["publish_requires_approval"] is None

    # The owner opens Workflow settings from the editor's toolbar.
    sign_in(page, app_url, owner)
    open_editor(page, app_url, workflow["id"])
    page.get_by_role("button", name="Workflow settings").click()
    dialog = page.get_by_role("dialog", name="Workflow settings")
    expect(dialog.get_by_label("Run in parallel")).to_be_checked()
    expect(dialog.get_by_label("Follow the workspace")).to_be_checked()
    expect(dialog.get_by_test_id("workspace-rule")).to_have_text("Now the workspace publishes without approval.")
    expect(dialog.get_by_role("button", name="Save")).to_be_disabled()  # nothing changed yet

    dialog.get_by_label("Always require approval").check()
    dialog.get_by_label("Queue it").check()
    dialog.get_by_label("Queue it").check()
    dialog.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Workflow settings saved")).to_be_visible()
    expect(dialog).to_be_hidden()

    # The API has both; the graph was not saved again (still version 1).
    after = owner.get(path).json()
    assert after["publish_requires_approval"] is True
    assert after["conflict_policy"] == "queue"
    assert after["approval_required"] is True
    assert after["version"] == 1
    # The editor read the workflow again: opened anew, the dialog shows what was saved.
    page.get_by_role("button", name="Workflow settings").click()
    expect(dialog.get_by_label("Always require approval")).to_be_checked()
    expect(dialog.get_by_label("Queue it")).to_be_checked()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()

    # An editor, in a browser of their own: the approval choice is disabled with the reason.
    with browser_as(browser, app_url, editor, tenant) as theirs:
        open_editor(theirs, app_url, workflow["id"])
        request_publish = theirs.get_by_role("button", name="Request publish")
        expect(request_publish).to_be_visible(timeout=20_000)
        box = request_publish.bounding_box()
        assert box and box["x"] + box["width"] <= 1280, "the toolbar runs off a 1280 px screen"
        theirs.get_by_role("button", name="Workflow settings").click()
        locked = theirs.get_by_role("dialog", name="Workflow settings")
        for choice in ("Follow the workspace", "Always require approval", "Never require approval"):
            expect(locked.get_by_label(choice)).to_be_disabled()
        expect(locked.get_by_label("Always require approval")).to_be_checked()
        expect(locked.get_by_test_id("approval-locked")).to_have_text("Only an admin or owner can change this.")
        # What happens to overlapping runs is theirs to change; only that is sent.
        expect(locked.get_by_label("Skip it")).to_be_enabled()
        locked.get_by_label("Skip it").check()
        locked.get_by_role("button", name="Save").click()
        expect(theirs.get_by_text("Workflow settings saved")).to_be_visible()
    final = owner.get(path).json()
    assert final["conflict_policy"] == "skip"
    assert final["publish_requires_approval"] is True
