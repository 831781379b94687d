"""The builder with the keyboard only: the first Tab stop is "Skip to content", which jumps past the header; a
workflow opens from the list with Enter; the runs page and a run open the same way, each screen taking focus
on its content; a dialog takes focus, keeps Tab inside it, closes on Escape and gives focus back to the button
that opened it. Every stop shows a focus ring."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.helpers import new_tenant, sign_in, three_step_graph
from tests.support import publish, start_run

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)

FOCUSED_IN_MAIN = "() => !!document.activeElement && !!document.activeElement.closest('main')"
FOCUSED_IN_DIALOG = "() => !!document.activeElement && !!document.activeElement.closest('[role=dialog]')"


def is_focused(locator: Locator) -> bool:
    return bool(locator.evaluate("el => el === document.activeElement"))


def tab_to(page: Page, target: Locator, *, back: bool = False, limit: int = 60) -> int:
    """Presses Tab (Shift+Tab when `back`) until `target` has focus; answers how many presses it took. Every
    element passed on the way shows a focus ring."""
    expect(target).to_be_visible()
    for presses in range(1, limit + 1):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        assert_focus_ring(page)
        if is_focused(target):
            return presses
    raise AssertionError(f"{target} is not reachable with {'Shift+' if back else ''}Tab in {limit} presses")


def assert_focus_ring(page: Page) -> None:
    """The focused element draws an outline (or a box-shadow ring) while it has keyboard focus."""
    ring = page.evaluate(
        """() => {
            const el = document.activeElement;
            if (!el || el === document.body) return "body";
            const style = getComputedStyle(el);
            const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
            return outline || style.boxShadow !== "none" ? "" : el.outerHTML.slice(0, 120);
        }"""
    )
    assert ring != "body", "focus was lost to the page's body"
    assert ring == "", f"no visible focus ring on {ring}"


def test_a_main_flow_with_the_keyboard_only(page: Page, app_url: str):
    api = new_tenant(app_url)
    workflow_id = publish(api, "Welcome new leads", three_step_graph())
    run_id = start_run(api, workflow_id, {"first_name": "Ada", "email": "ada@example.com"})
    assert api.wait_for_run(run_id)["status"] == "completed"
    sign_in(page, app_url, api)
    expect(page.get_by_role("heading", name="Workflows", level=1)).to_be_visible()

    # The first Tab stop: "Skip to content", shown while focused; Enter puts focus on the page's content.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    assert page.evaluate(FOCUSED_IN_MAIN), "Skip to content did not move focus into the page's content"
    assert re.search(r"/(#/?)?$", page.url), page.url  # the skip link does not change the screen

    # From the content, the workflow is a few Tabs away (the header's links are not in the way), and Enter opens it.
    workflow = page.get_by_role("link", name=re.compile("^Welcome new leads"))
    presses = tab_to(page, workflow)
    assert presses <= 15, f"{presses} Tab presses from the content to the first workflow"
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"#/workflows/{workflow_id}$"))
    expect(page.locator(".react-flow__node").first).to_be_visible()
    page.wait_for_function(FOCUSED_IN_MAIN)  # the editor's content has focus, not the body

    # "?" opens the keyboard shortcuts: focus inside, Escape closes it and focus goes back where it was.
    before = page.evaluate("() => document.activeElement.outerHTML.slice(0, 80)")
    page.keyboard.press("?")
    shortcuts = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(shortcuts).to_be_visible()
    assert page.evaluate(FOCUSED_IN_DIALOG)
    page.keyboard.press("Escape")
    expect(shortcuts).to_be_hidden()
    assert page.evaluate("() => document.activeElement.outerHTML.slice(0, 80)") == before

    # Back to the header with Shift+Tab: the Runs link, Enter, and the runs list takes focus.
    tab_to(page, page.get_by_role("navigation", name="Main").get_by_role("link", name="Runs", exact=True), back=True)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#/runs$"))
    run_link = page.locator(f'a[data-run-id="{run_id}"]')
    expect(run_link).to_be_visible()
    page.wait_for_function(FOCUSED_IN_MAIN)
    tab_to(page, run_link)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"#/runs/{run_id}$"))
    expect(page.get_by_role("heading", name="Welcome new leads", level=1)).to_be_visible()
    page.wait_for_function(FOCUSED_IN_MAIN)

    # A run's step opens with Enter on its summary (a native disclosure).
    step = page.locator('.step-card[data-node-id="shape"]')
    tab_to(page, step.locator("summary"))
    page.keyboard.press("Enter")
    expect(step.get_by_test_id("step-details")).to_be_visible()

    # Replay opens a dialog: focus moves in, Tab and Shift+Tab stay in it, Escape closes it, focus returns.
    replay = page.get_by_role("group", name="Run actions").get_by_role("button", name="Replay")
    tab_to(page, replay, back=True)
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    assert page.evaluate(FOCUSED_IN_DIALOG), "the dialog did not take focus"
    for key in ["Tab"] * 12 + ["Shift+Tab"] * 12:
        page.keyboard.press(key)
        assert page.evaluate(FOCUSED_IN_DIALOG), f"{key} left the open dialog"
        assert_focus_ring(page)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(replay).to_be_focused()
    expect(page).to_have_url(re.compile(rf"#/runs/{run_id}$"))  # Escape closed the dialog, nothing else
