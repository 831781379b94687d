"""While the workflow engine does not answer, every screen says so (and that new runs still start later); when it
answers again, the banner goes. The Prefect server is paused (SIGSTOP) rather than killed: `flowyard up` would
restart a dead one at once, and a hung one is the outage a user would meet."""

from __future__ import annotations

import os
import signal

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import new_tenant, sign_in
from tests.support import current_pid

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


def test_a_hung_engine_is_named_on_every_screen_until_it_answers(page: Page, app_url: str, stack):
    api = new_tenant(app_url)
    sign_in(page, app_url, api)
    prefect = current_pid(stack.home / "logs" / "supervisor.log", "prefect-server")
    assert prefect is not None
    banner = page.get_by_test_id("engine-banner")
    expect(banner).to_have_count(0)

    os.kill(prefect, signal.SIGSTOP)
    try:
        expect(banner).to_contain_text("The workflow engine is unavailable", timeout=60_000)  # two checks, 15 s apart
        expect(banner).to_contain_text("New runs are accepted")
        page.goto(f"{app_url}/#/runs")
        expect(banner).to_be_visible(timeout=40_000)
    finally:
        os.kill(prefect, signal.SIGCONT)
    expect(banner).to_have_count(0, timeout=40_000)
