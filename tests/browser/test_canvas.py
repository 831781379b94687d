"""Canvas editing in a real browser: move, undo/redo, multi-select, copy/paste, delete, zoom, minimap,
auto-layout, and an old graph with an unknown node type."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import (
    center,
    create_workflow,
    drag,
    eventually,
    new_tenant,
    node,
    node_position,
    open_editor,
    sign_in,
    three_step_graph,
)

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


def _near(a: tuple[float, float], b: tuple[float, float]) -> None:
    assert abs(a[0] - b[0]) < 2 and abs(a[1] - b[1]) < 2, (a, b)


def _check(condition: bool) -> None:
    assert condition


def viewport_scale(page: Page) -> float:
    return page.locator(".react-flow__viewport").evaluate("v => new DOMMatrix(getComputedStyle(v).transform).a")


def test_move_undo_redo_copy_paste_delete_zoom_and_layout(page: Page, app_url: str):
    api = new_tenant(app_url)
    workflow = create_workflow(api, "Canvas", three_step_graph())
    sign_in(page, app_url, api)
    open_editor(page, app_url, workflow["id"])

    # Move a step, then undo and redo the move.
    before = node_position(page, "say")
    x, y = center(node(page, "say").locator(".step-title"))
    drag(page, (x, y), (x, y + 120))
    moved = node_position(page, "say")
    assert moved[1] > before[1] + 60
    expect(page.get_by_test_id("save-state")).to_have_text("Unsaved changes")
    page.get_by_role("button", name="Undo").click()
    eventually(lambda: _near(node_position(page, "say"), before))
    page.get_by_role("button", name="Redo").click()
    eventually(lambda: _near(node_position(page, "say"), moved))

    # Select two steps, copy, paste: two new steps and the edge between them.
    node(page, "shape").click()
    node(page, "say").click(modifiers=["Control"])
    expect(page.locator(".react-flow__node.selected")).to_have_count(2)
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")
    expect(page.locator(".react-flow__node")).to_have_count(5)
    expect(node(page, "shape_2")).to_be_visible()
    expect(node(page, "say_2")).to_be_visible()
    expect(page.locator(".react-flow__edge")).to_have_count(3)

    # The pasted steps are selected: Delete removes them; undo brings them back.
    page.keyboard.press("Delete")
    expect(page.locator(".react-flow__node")).to_have_count(3)
    expect(page.locator(".react-flow__edge")).to_have_count(2)
    page.keyboard.press("Control+z")
    expect(page.locator(".react-flow__node")).to_have_count(5)
    page.keyboard.press("Control+z")
    expect(page.locator(".react-flow__node")).to_have_count(3)

    # Zoom with the controls; the minimap shows every step.
    scale = viewport_scale(page)
    page.locator(".react-flow__controls-zoomin").click()
    eventually(lambda: _check(viewport_scale(page) > scale))
    expect(page.locator(".react-flow__minimap .react-flow__minimap-node")).to_have_count(3)

    # Pile the steps up, then tidy them: left to right in the order they run.
    for node_id in ("start", "say"):
        x, y = center(node(page, node_id).locator(".step-title"))
        shape_x, shape_y = center(node(page, "shape").locator(".step-title"))
        drag(page, (x, y), (shape_x + 10, shape_y + 10))
    page.get_by_role("button", name="Auto-layout").click()

    def in_running_order():
        xs = [node_position(page, node_id)[0] for node_id in ("start", "shape", "say")]
        assert xs[0] + 100 < xs[1] and xs[1] + 100 < xs[2], xs

    eventually(in_running_order)


def test_unknown_node_type_is_a_placeholder(page: Page, app_url: str):
    api = new_tenant(app_url)
    graph = three_step_graph()
    graph["nodes"].append(
        {
            "id": "legacy",
            "type": "crm.legacy_sync",
            "label": "Old CRM sync",
            "config": {"list": "vip"},
            "position": {"x": 600, "y": 200},
        }
    )
    graph["edges"].append({"id": "e3", "source": "shape", "source_handle": "error", "target": "legacy"})
    workflow = create_workflow(api, "Old one", graph)
    sign_in(page, app_url, api)
    open_editor(page, app_url, workflow["id"])

    placeholder = node(page, "legacy").locator(".step-node.unknown")
    expect(placeholder).to_contain_text("Unknown step type “crm.legacy_sync”")
    expect(page.locator(".react-flow__edge")).to_have_count(3)
    expect(node(page, "legacy").locator(".step-badge")).to_be_visible()  # the server flags it too
    node(page, "legacy").click()
    expect(page.get_by_label("Step settings")).to_contain_text("is not available any more")
    expect(page.get_by_test_id("json-settings")).to_contain_text('"vip"')
