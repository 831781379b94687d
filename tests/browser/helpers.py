"""What a person does in the builder, as Playwright steps with real mouse drags."""

from __future__ import annotations

import copy
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Locator, Page, expect

from tests.support import Api

PASSWORD = "correct horse battery"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]


def node(page: Page, node_id: str) -> Locator:
    return page.locator(f'.react-flow__node[data-id="{node_id}"]')


def center(locator: Locator) -> tuple[float, float]:
    box = locator.bounding_box()
    assert box, f"{locator} is not visible"
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def drag(page: Page, start: tuple[float, float], end: tuple[float, float], steps: int = 12) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=steps)
    page.mouse.up()


def drag_from_palette(page: Page, node_type: str, x: float, y: float) -> None:
    """Drags a palette item to (x, y) relative to the canvas' top-left corner."""
    canvas = page.locator(".canvas").bounding_box()
    item = page.locator(f'.palette-item[data-type="{node_type}"]')
    item.scroll_into_view_if_needed()
    drag(page, center(item), (canvas["x"] + x, canvas["y"] + y))


def connect(page: Page, source: str, target: str, handle: str = "default") -> None:
    out = node(page, source).locator(f'.react-flow__handle.source[data-handleid="{handle}"]')
    into = node(page, target).locator(".react-flow__handle.target")
    drag(page, center(out), center(into))


def show_whole_canvas(page: Page) -> None:
    """Closes the settings panel (a click on empty canvas) and zooms to fit every step."""
    canvas = page.locator(".canvas").bounding_box()
    page.mouse.click(canvas["x"] + 8, canvas["y"] + 8)
    expect(page.get_by_label("Step settings")).to_be_hidden()
    page.locator(".react-flow__controls-fitview").click()
    page.wait_for_timeout(400)  # the fit is animated


def edge_count(page: Page) -> int:
    return page.locator(".react-flow__edge").count()


def sign_in(page: Page, app_url: str, api: Api) -> None:
    """Opens the app already signed in as `api`'s user (the login screen is tested on its own)."""
    body = api.signup_body
    session = {"token": api.token, "tenant": body["tenant"], "email": body["user"]["email"]}
    page.goto(app_url + "/")
    page.evaluate("s => localStorage.setItem('flowyard:session', s)", json.dumps(session))
    page.reload()


def new_tenant(app_url: str) -> Api:
    return Api(app_url).signup(f"Shop {uuid.uuid4().hex[:6]}")


def expect_no_problems(page: Page) -> None:
    expect(page.get_by_test_id("problems")).to_have_text("No problems", timeout=10_000)


def three_step_graph(*, spread: bool = True) -> dict:
    """trigger.manual -> data.transform -> util.log, valid, laid out left to right (or piled up)."""
    step = 300 if spread else 20
    return {
        "nodes": [
            {
                "id": "start",
                "type": "trigger.manual",
                "label": "New lead",
                "config": {"sample": {"first_name": "Ada", "email": "ada@example.com"}},
                "position": {"x": 0, "y": 0},
            },
            {
                "id": "shape",
                "type": "data.transform",
                "label": "Shape the lead",
                "config": {"fields": {"name": "{{ trigger.first_name }}"}},
                "position": {"x": step, "y": 0},
            },
            {
                "id": "say",
                "type": "util.log",
                "label": "Log it",
                "config": {"message": "Hello {{ steps.shape.output.name }}"},
                "position": {"x": 2 * step, "y": 0},
            },
        ],
        "edges": [
            {"id": "e1", "source": "start", "source_handle": None, "target": "shape"},
            {"id": "e2", "source": "shape", "source_handle": None, "target": "say"},
        ],
    }


def create_workflow(api: Api, name: str, graph: dict) -> dict:
    response = api.post("/api/v1/workflows", json={"name": name, "graph": graph, "allow_invalid": True})
    assert response.status_code == 201, response.text
    return response.json()


def open_editor(page: Page, app_url: str, workflow_id: str) -> None:
    page.goto(f"{app_url}/#/workflows/{workflow_id}")
    expect(page.locator(".react-flow__node").first).to_be_visible()


def node_position(page: Page, node_id: str) -> tuple[float, float]:
    box = node(page, node_id).bounding_box()
    return box["x"], box["y"]


def eventually(check, timeout: float = 5.0) -> None:
    """Retries `check` (an assertion) until it passes or `timeout` seconds have gone."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def with_extra_step(graph: dict) -> dict:
    """The log step's message changed and a step added after it."""
    changed = copy.deepcopy(graph)
    nodes = {n["id"]: n for n in changed["nodes"]}
    nodes["say"]["config"]["message"] = "Welcome {{ steps.shape.output.name }}"
    changed["nodes"].append(
        {
            "id": "extra",
            "type": "util.log",
            "label": "Log again",
            "config": {"message": "done"},
            "position": {"x": 900, "y": 0},
        }
    )
    changed["edges"].append({"id": "e3", "source": "say", "source_handle": None, "target": "extra"})
    return changed


@contextmanager
def browser_as(browser: Browser, app_url: str, person: Api, tenant: dict) -> Iterator[Page]:
    """A page in a browser context of its own (its own storage), signed in as `person` of `tenant`."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        session = {"token": person.token, "tenant": tenant, "email": person.email}
        page.goto(app_url + "/")
        page.evaluate("s => localStorage.setItem('flowyard:session', s)", json.dumps(session))
        page.reload()
        yield page
    finally:
        context.close()


def docs_screenshot(page: Page, name: str, full_page: bool = False) -> None:
    """With FLOWYARD_DOCS_SCREENSHOTS=docs/screenshots, refreshes a picture the docs show."""
    if folder := os.environ.get("FLOWYARD_DOCS_SCREENSHOTS"):
        page.screenshot(path=str(Path(folder) / name), full_page=full_page)
