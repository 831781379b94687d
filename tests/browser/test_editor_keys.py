"""The editor's find-a-step (Ctrl-K) and keyboard shortcuts help (?), and basic editing on a 390 px phone:
pick a step from the list, change a setting, publish, and the API has the change."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import create_workflow, eventually, new_tenant, node, open_editor, sign_in, three_step_graph

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


def test_find_a_step_and_the_shortcuts_help(page: Page, app_url: str):
    api = new_tenant(app_url)
    workflow = create_workflow(api, "Find steps", three_step_graph())
    sign_in(page, app_url, api)
    open_editor(page, app_url, workflow["id"])
    panel = page.get_by_label("Step settings")
    expect(panel).to_be_hidden()

    # Ctrl-K: type part of a type name, move down, Enter: the step is selected, centred and its panel open.
    page.keyboard.press("Control+k")
    finder = page.get_by_role("dialog", name="Find a step")
    box = finder.get_by_role("combobox", name="Find a step")
    expect(box).to_be_focused()
    expect(finder.get_by_role("option")).to_have_count(3)
    box.fill("log")
    expect(finder.get_by_role("option")).to_have_count(1)
    expect(finder.get_by_role("option").first).to_contain_text("Log it")
    box.fill("")
    box.press("ArrowDown")
    expect(finder.get_by_role("option", selected=True)).to_contain_text("Shape the lead")
    box.press("Enter")
    expect(finder).to_be_hidden()
    expect(panel).to_have_attribute("data-node-id", "shape")
    expect(node(page, "shape")).to_have_class(re.compile(r"\bselected\b"))

    def centred() -> None:  # the move is animated
        canvas, shape = page.locator(".canvas").bounding_box(), node(page, "shape").bounding_box()
        off = shape["x"] + shape["width"] / 2 - (canvas["x"] + canvas["width"] / 2)
        assert abs(off) < 40, f"the step is {off}px from the canvas' centre"

    eventually(centred)

    # Cmd-K as well, by id; Escape closes without changing the selection.
    page.keyboard.press("Meta+k")
    box.fill("say")
    expect(finder.get_by_role("option")).to_have_count(1)
    box.press("Escape")
    expect(finder).to_be_hidden()
    expect(panel).to_have_attribute("data-node-id", "shape")

    # ?: every shortcut, from the same list the keys use; the toolbar button opens it too.
    page.locator(".canvas").click(position={"x": 8, "y": 8})
    page.keyboard.press("Shift+?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    for action, text in [
        ("find", "Find a step"),
        ("help", "keyboard shortcuts"),
        ("save", "Save"),
        ("undo", "Undo"),
        ("redo", "Redo"),
        ("copy", "Copy"),
        ("paste", "Paste"),
        ("layout", "auto-layout"),
        ("delete", "Delete"),
    ]:
        expect(help_dialog.locator(f'tr[data-action="{action}"]')).to_contain_text(text)
    expect(help_dialog.locator('tr[data-action="find"] kbd')).to_have_text(["Ctrl", "K"])
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()
    page.get_by_role("button", name="Keyboard shortcuts").click()
    expect(help_dialog).to_be_visible()
    help_dialog.get_by_role("button", name="Close").click()
    expect(help_dialog).to_be_hidden()

    # Typing ? in a field types it; the help stays closed.
    page.keyboard.press("Control+k")
    box.fill("Log it")
    box.press("Enter")
    label = panel.get_by_label("Step name")
    label.fill("Log it")
    label.press("Shift+?")
    expect(label).to_have_value("Log it?")
    expect(help_dialog).to_have_count(0)


def test_change_a_setting_and_publish_on_a_phone(phone: Page, app_url: str):
    api = new_tenant(app_url)
    workflow = create_workflow(api, "Phone edit", three_step_graph())
    sign_in(phone, app_url, api)
    open_editor(phone, app_url, workflow["id"])

    # The screen says what works here; no palette, the canvas is not for dragging.
    expect(phone.get_by_test_id("narrow-banner")).to_contain_text("needs a larger screen")
    expect(phone.locator(".palette")).to_have_count(0)

    # Pick a step from the list, change its message, publish.
    steps = phone.get_by_role("navigation", name="Steps")
    expect(steps.get_by_role("button")).to_have_count(3)
    steps.get_by_role("button", name="Log it").click()
    panel = phone.get_by_label("Step settings")
    expect(panel).to_have_attribute("data-node-id", "say")
    message = panel.get_by_label("Message")
    message.fill("Hi from a phone, {{ steps.shape.output.name }}")
    expect(phone.get_by_test_id("problems")).to_have_text("No problems", timeout=10_000)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the editor is {width}px wide: it scrolls sideways on a phone"
    panel.get_by_role("button", name="Close panel").click()
    phone.get_by_role("button", name="Publish").click()
    expect(phone.locator(".toolbar .pill")).to_have_text("Published", timeout=60_000)

    saved = api.get(f"/api/v1/workflows/{workflow['id']}").json()
    assert saved["published_version"] == saved["version"] == 2
    say = next(n for n in saved["graph"]["nodes"] if n["id"] == "say")
    assert say["config"]["message"] == "Hi from a phone, {{ steps.shape.output.name }}"
