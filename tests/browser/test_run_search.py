"""Finding runs by a value in their input on the runs page: two runs for two customers, searching one customer's
email (in any case) lists only that customer's run; the search stays in the address; clearing it lists both."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import eventually, new_tenant, sign_in, three_step_graph
from tests.browser.test_mobile import assert_fits_width
from tests.support import publish, start_run

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)

PROMPT = "Find runs by email, phone, customer or order id"


def test_find_a_customers_run_by_email(page: Page, phone: Page, app_url: str):
    api = new_tenant(app_url)
    tag = uuid.uuid4().hex[:6]
    ada, grace = f"ada-{tag}@example.com", f"grace-{tag}@example.com"
    workflow_id = publish(api, "Welcome new leads", three_step_graph())
    ada_run = start_run(api, workflow_id, {"first_name": "Ada", "email": ada})
    grace_run = start_run(api, workflow_id, {"first_name": "Grace", "email": grace})

    def indexed() -> None:  # the dispatcher writes the index within about a second of a run being accepted
        found = api.get("/api/v1/runs", params={"search": ada}).json()
        assert [r["id"] for r in found] == [ada_run], found

    eventually(indexed, timeout=15)

    sign_in(page, app_url, api)
    page.goto(f"{app_url}/#/runs")
    runs = page.get_by_role("list", name="Runs").locator("[data-run-id]")
    expect(runs).to_have_count(2)

    search = page.get_by_role("search", name="Find runs")
    expect(search).to_contain_text("Exact match")  # values are found through keyed hashes only
    box = search.get_by_label(PROMPT)
    box.fill(ada.upper())  # case aside
    box.press("Enter")
    expect(runs).to_have_count(1)
    expect(page.locator(f'[data-run-id="{ada_run}"]')).to_be_visible()
    expect(page.locator(f'[data-run-id="{grace_run}"]')).to_have_count(0)
    expect(page.get_by_role("group", name="Status").locator('[data-count="all"]')).to_have_text("1")
    expect(page).to_have_url(re.compile(r"[?&]q=ADA-"))

    # One field: Grace's email is not a phone number.
    search.get_by_label(PROMPT).fill(grace)
    search.get_by_label("Search in", exact=True).select_option("phone")
    search.get_by_role("button", name="Find").click()
    expect(page.get_by_role("heading", name="No runs match")).to_be_visible()
    search.get_by_label("Search in", exact=True).select_option("email")
    search.get_by_role("button", name="Find").click()
    expect(runs).to_have_count(1)
    expect(page.locator(f'[data-run-id="{grace_run}"]')).to_be_visible()

    # Back from the run returns to the search; clearing it lists both runs again.
    page.locator(f'[data-run-id="{grace_run}"]').click()
    expect(page.locator(".page-head .pill")).to_be_visible()
    page.go_back()
    expect(page.get_by_role("search", name="Find runs").get_by_label(PROMPT)).to_have_value(grace)
    expect(runs).to_have_count(1)
    page.get_by_role("search", name="Find runs").get_by_role("button", name="Clear").click()
    expect(runs).to_have_count(2)

    # On a phone the search fits the screen.
    sign_in(phone, app_url, api)
    phone.goto(f"{app_url}/#/runs?q={ada}")
    expect(phone.get_by_role("list", name="Runs").locator("[data-run-id]")).to_have_count(1)
    assert_fits_width(phone)
