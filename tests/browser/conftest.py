"""Browser tests: Python Playwright driving Debian's Chromium against the whole platform started by
`flowyard up` (the `stack` fixture, SQLite leg). A failing test leaves a screenshot in test-artifacts/."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS, ROOT

UI_INDEX = ROOT / "platform_api" / "ui" / "dist" / "index.html"
ARTIFACTS = ROOT / "test-artifacts"
DESKTOP = {"width": 1440, "height": 900}


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what}: in CI the browser tests must run, not skip")
    pytest.skip(what)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def browser() -> Iterator:
    """Chromium for one test. Not shared: the sync Playwright API keeps an asyncio loop marked as running
    while it is open, which would break the async tests that run after it."""
    if not Path(CHROMIUM).exists():
        _missing(f"{CHROMIUM} is missing (apt-get install chromium)")
    if not UI_INDEX.exists():
        _missing("the builder UI is not built (make ui)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def app_url(stack) -> str:
    return stack.api_url


def _open_page(browser, request, viewport: dict) -> Iterator:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    report = getattr(request.node, "report_call", None)
    if report is None or report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def page(browser, request) -> Iterator:
    yield from _open_page(browser, request, DESKTOP)


@pytest.fixture
def phone(browser, request) -> Iterator:
    yield from _open_page(browser, request, {"width": 390, "height": 844})
