"""Run now from the workflows list: the run form is derived from the manual trigger's input_schema,
required fields are checked before anything is sent, the server's 422 shows next to its field, and what
was typed becomes the run's input (numbers as numbers) while the run page follows the run live."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import create_workflow, new_tenant, sign_in, three_step_graph

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)

INPUT_SCHEMA = {
    "type": "object",
    "required": ["email"],
    "properties": {
        "email": {"type": "string", "format": "email", "description": "Where the welcome email goes."},
        "seats": {"type": "integer", "minimum": 1, "description": "How many seats they booked."},
    },
}


def test_run_now_with_the_trigger_input_form(page: Page, app_url: str):
    api = new_tenant(app_url)
    graph = three_step_graph()
    graph["nodes"][0]["config"] = {"input_schema": INPUT_SCHEMA, "sample": {"email": "sample@example.com", "seats": 1}}
    graph["nodes"][1]["config"] = {"fields": {"name": "{{ trigger.email }}"}}
    workflow = create_workflow(api, "Welcome new bookings", graph)
    published = api.post(f"/api/v1/workflows/{workflow['id']}/publish")
    assert published.status_code == 200, published.text
    run_requests: list[str] = []
    page.on("request", lambda r: r.method == "POST" and r.url.endswith("/runs") and run_requests.append(r.url))

    sign_in(page, app_url, api)
    page.get_by_role("button", name="Run Welcome new bookings now").click()
    dialog = page.get_by_role("dialog")
    email, seats = dialog.get_by_label("Email"), dialog.get_by_label("Seats")
    expect(email).to_have_attribute("type", "email")
    expect(email).to_have_value("sample@example.com")  # pre-filled from the trigger's sample
    expect(seats).to_have_value("1")
    expect(dialog.locator('[data-field="email"] .required')).to_be_visible()
    expect(dialog.get_by_text("Where the welcome email goes.")).to_be_visible()

    # The required email left empty: an error on the field, and nothing is sent.
    email.fill("")
    dialog.get_by_role("button", name="Run now", exact=True).click()
    expect(dialog.locator('[data-field="email"] .field-error')).to_have_text("This field is required.")
    expect(email).to_have_attribute("aria-invalid", "true")
    assert run_requests == []

    # The server's 422 (seats below its minimum) shows next to the field it names.
    email.fill("ada@example.com")
    seats.fill("0")
    dialog.get_by_role("button", name="Run now", exact=True).click()
    expect(dialog.locator('[data-field="seats"] .field-error')).to_contain_text("less than the minimum of 1")
    expect(seats).to_have_attribute("aria-invalid", "true")
    expect(dialog.locator('[data-field="email"] .field-error')).to_have_count(0)
    assert len(run_requests) == 1
    assert api.get(f"/api/v1/runs?workflow_id={workflow['id']}").json() == []

    # The JSON view edits the same input.
    seats.fill("3")
    dialog.get_by_role("button", name="JSON").click()
    payload = dialog.get_by_label("Trigger payload (JSON)")
    expect(payload).to_have_value(re.compile(r'"seats": 3'))
    dialog.get_by_role("button", name="JSON").click()
    expect(seats).to_have_value("3")

    # Submit: the run page follows the live run to the end.
    dialog.get_by_role("button", name="Run now", exact=True).click()
    expect(page).to_have_url(re.compile(r"#/runs/[0-9a-f-]{36}$"))
    expect(page.locator(".page-head .pill")).to_have_text("Completed", timeout=120_000)
    expect(page.locator('.step-card[data-status="completed"]')).to_have_count(3)

    run_id = page.url.rsplit("/", 1)[1]
    run = api.get(f"/api/v1/runs/{run_id}").json()
    assert run["mode"] == "live" and run["version"] == published.json()["published_version"]
    trigger = next(step for step in run["steps"] if step["node_id"] == "start")
    assert trigger["output"] == {"email": "ada@example.com", "seats": 3}
    assert type(trigger["output"]["seats"]) is int
