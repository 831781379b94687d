"""Triggers in the editor (a trigger step's Trigger tab), on `flowyard up`:

- a webhook: publishing shows its secret once ("copy it now"); the URL is copied with its button; the page's own
  Python, Node and curl samples, run as they are with the secret in FLOWYARD_WEBHOOK_SECRET, each start a run that
  appears in the last deliveries with its delivery id and completes; a test delivery adds one more; a delivery
  links to its run's page;
- a schedule: built with the cron builder (every month, time zone Europe/Berlin), published, its next 10 fire times
  are the API's preview with a daylight-saving note at the change in March; paused and resumed from the keyboard,
  and the API says so."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.helpers import create_workflow, docs_screenshot, new_tenant, node, open_editor, sign_in
from tests.support import Api

pytestmark = pytest.mark.parametrize("stack", ["sqlite", "postgres"], indirect=True)  # the pages read runs from both


def _graph(trigger_type: str, config: dict) -> dict:
    return {
        "nodes": [
            {"id": "start", "type": trigger_type, "label": "Start", "config": config, "position": {"x": 0, "y": 0}},
            {
                "id": "say",
                "type": "util.log",
                "label": "Log it",
                "config": {"message": "hello"},
                "position": {"x": 320, "y": 0},
            },
        ],
        "edges": [{"id": "e1", "source": "start", "source_handle": None, "target": "say"}],
    }


def _trigger_tab(page: Page) -> Locator:
    node(page, "start").click()
    panel = page.get_by_label("Step settings")
    panel.get_by_role("tab", name="Trigger").click()
    return panel


def _run_sample(panel: Locator, language: str, command: list[str], secret: str, tmp_path: Path) -> str:
    """Runs the page's own sample code in `language` as it is; returns the run id it answered with."""
    panel.get_by_role("tab", name=language).click()
    code = panel.get_by_test_id("sample-code")
    expect(code).to_have_attribute("data-language", language.lower().removesuffix(".js"))
    script = tmp_path / f"send-{language.lower()}"
    script.write_text(code.text_content() or "")
    env = {**os.environ, "FLOWYARD_WEBHOOK_SECRET": secret}
    result = subprocess.run([*command, str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    output = result.stdout.strip()
    if language == "curl":
        return json.loads(output)["run_id"]
    status, body = output.split(" ", 1)
    assert status == "202", output
    return json.loads(body)["run_id"]


def test_copy_the_webhook_url_and_start_runs_with_the_pages_own_sample_code(page: Page, app_url: str, tmp_path):
    api = new_tenant(app_url)
    config = {"auth": "hmac", "sample": {"email": "ada@example.com", "note": "it's signed"}}
    workflow = create_workflow(api, f"Hook {uuid.uuid4().hex[:6]}", _graph("trigger.webhook", config))
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app_url)
    sign_in(page, app_url, api)
    open_editor(page, app_url, workflow["id"])

    # Not live yet: the Trigger tab says to publish first.
    panel = _trigger_tab(page)
    expect(panel.get_by_test_id("trigger-not-live")).to_be_visible()

    # Publishing shows the secret once, with "copy it now".
    page.get_by_role("button", name="Publish").click()
    dialog = page.get_by_role("dialog", name="Copy your webhook secret now")
    expect(dialog).to_contain_text("Copy it now: it is shown only this once.", timeout=60_000)
    secret = dialog.get_by_test_id("webhook-secret").input_value()
    assert secret.startswith("whsec_")
    dialog.get_by_role("button", name="Copy secret").click()
    expect(dialog.get_by_role("status").last).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    dialog.get_by_role("button", name="I have copied it").click()
    expect(dialog).to_be_hidden()

    # The URL, copied with its button; the scheme; no deliveries yet.
    url = api.get(f"/api/v1/workflows/{workflow['id']}/webhook").json()["url"]
    expect(panel.get_by_label("Webhook URL")).to_have_value(url)
    panel.get_by_role("button", name="Copy URL").click()
    assert page.evaluate("navigator.clipboard.readText()") == url
    expect(panel.get_by_test_id("auth-scheme")).to_contain_text("X-Flowyard-Signature")
    expect(panel.get_by_test_id("no-deliveries")).to_be_visible()

    # The page's own samples, run as they are, each start a run that completes in the deliveries list.
    samples = [("Python", [sys.executable])]
    samples += [("Node.js", ["node"])] if shutil.which("node") else []
    samples += [("curl", ["bash"])] if shutil.which("curl") and shutil.which("openssl") else []
    runs = [_run_sample(panel, language, command, secret, tmp_path) for language, command in samples]
    assert len(set(runs)) == len(samples)
    deliveries = panel.get_by_test_id("deliveries")
    for run_id in runs:
        row = deliveries.locator(f'tr[data-run-id="{run_id}"]')
        expect(row.locator(".pill")).to_have_attribute("data-status", "completed", timeout=90_000)
    listed = api.get(f"/api/v1/workflows/{workflow['id']}/webhook/deliveries").json()
    assert {d["run_id"] for d in listed} == set(runs)
    assert all(d["delivery_id"] for d in listed)  # each sample sent and signed (v2) its own delivery id

    # A test delivery from the page starts one more.
    panel.get_by_role("button", name="Send test delivery").click()
    expect(deliveries.locator("tr", has_text="test-")).to_have_count(1)
    panel.get_by_role("tab", name="Python").click()
    docs_screenshot(page, "webhook-panel.png")

    # A delivery links to its run's page.
    deliveries.locator(f'tr[data-run-id="{runs[0]}"]').get_by_role("link").click()
    expect(page).to_have_url(re.compile(f"#/runs/{runs[0]}$"))


def _preview(api: Api, workflow_id: str) -> dict:
    response = api.get(f"/api/v1/workflows/{workflow_id}/schedule/preview")
    assert response.status_code == 200, response.text
    return response.json()


def test_build_preview_and_pause_a_schedule(page: Page, app_url: str):
    api = new_tenant(app_url)
    config = {"schedules": [{"cron": "30 9 * * *"}]}
    workflow = create_workflow(api, f"Tick {uuid.uuid4().hex[:6]}", _graph("trigger.schedule", config))
    sign_in(page, app_url, api)
    open_editor(page, app_url, workflow["id"])
    panel = _trigger_tab(page)
    fires = panel.get_by_test_id("fires").locator("li")
    expect(fires).to_have_count(10)  # of the saved version, before the first publish

    # Every month on the 1st at 09:00 in Berlin, with the builder.
    builder = panel.locator(".cron-builder")
    builder.get_by_label("Repeat").select_option("monthly")
    builder.get_by_label("Day of the month").fill("1")
    builder.get_by_label("At", exact=True).fill("09:00")
    builder.get_by_label("Time zone").select_option("Europe/Berlin")
    expect(builder.get_by_test_id("built-schedule")).to_contain_text("0 9 1 * *")
    builder.get_by_role("button", name="Use this schedule").click()
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".toolbar .pill")).to_have_text("Published", timeout=60_000)
    assert api.get(f"/api/v1/workflows/{workflow['id']}").json()["graph"]["nodes"][0]["config"]["schedules"] == [
        {"cron": "0 9 1 * *", "timezone": "Europe/Berlin"}
    ]

    # The next 10 fire times are the API's preview, in Berlin time, with a note where the clocks change.
    expect(fires.first).to_contain_text("Europe/Berlin", timeout=15_000)
    preview = _preview(api, workflow["id"])
    expect(fires).to_have_count(10)
    assert [fires.nth(i).get_attribute("data-utc") for i in range(10)] == [f["utc"] for f in preview["fires"]]
    assert all(f["local"][10:] == "T09:00:00" + f["local"][19:] for f in preview["fires"])
    expect(panel.get_by_test_id("dst-note").first).to_contain_text("Clocks go forward")
    panel.get_by_test_id("dst-note").first.scroll_into_view_if_needed()
    docs_screenshot(page, "schedule-panel.png")

    # Paused from the keyboard: the page and the API say so; resumed the same way.
    expect(panel.get_by_test_id("schedule-state")).to_have_text("Active")
    panel.get_by_role("button", name="Pause schedule").focus()
    page.keyboard.press("Enter")
    expect(panel.get_by_test_id("schedule-state")).to_have_text("Paused", timeout=30_000)
    assert _preview(api, workflow["id"])["paused"] is True

    page.reload()
    panel = _trigger_tab(page)
    expect(panel.get_by_test_id("schedule-state")).to_have_text("Paused")
    panel.get_by_role("button", name="Resume schedule").focus()
    page.keyboard.press("Enter")
    expect(panel.get_by_test_id("schedule-state")).to_have_text("Active", timeout=30_000)
    assert _preview(api, workflow["id"])["paused"] is False
