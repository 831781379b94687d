"""Takes the screenshots in docs/screenshots/ with Playwright and Debian's Chromium:
editor.png (the editor with the expression helper open), test-run.png (a test run in progress),
mobile-runs.png (the runs list on a 390 px wide phone).

    make run            # or any `flowyard up`, in another shell
    .venv/bin/python -m tests.browser.screenshots --api-url http://127.0.0.1:8000
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import Page, expect, sync_playwright

from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS, ROOT, create_workflow, node, open_editor, sign_in
from tests.support import Api

OUT = ROOT / "docs" / "screenshots"


class SlowCrm(BaseHTTPRequestHandler):
    """A CRM stand-in: answers after ?delay= seconds; a negative delay is refused with 422."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        delay = float(parse_qs(urlparse(self.path).query).get("delay", ["0"])[0] or 0)
        time.sleep(max(delay, 0))
        status, body = (422, {"error": "email is not valid"}) if delay < 0 else (201, {"id": 1042, "status": "created"})
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        pass


def lead_graph(crm_url: str) -> dict:
    def step(id_, type_, label, config):  # placed in a row; the screenshot tidies them with auto-layout
        x = 300 * ["start", "shape", "business", "crm", "welcome", "personal"].index(id_)
        return {"id": id_, "type": type_, "label": label, "config": config, "position": {"x": x, "y": 0}}

    return {
        "nodes": [
            step(
                "start",
                "trigger.manual",
                "New lead from the website",
                {"sample": {"first_name": "Jane", "email": "jane@acme.com", "company": "Acme", "delay": 0}},
            ),
            step(
                "shape",
                "data.transform",
                "Shape the lead",
                {
                    "fields": {
                        "full_name": "{{ trigger.first_name }}",
                        "email": "{{ trigger.email }}",
                        "company": "{{ trigger.company }}",
                    }
                },
            ),
            step(
                "business",
                "logic.if",
                "Business email?",
                {"condition": {"field": "trigger.email", "operator": "not_contains", "value": "@gmail.com"}},
            ),
            step(
                "crm",
                "http.request",
                "Add to the CRM",
                {
                    "method": "POST",
                    "url": crm_url + "/contacts?delay={{ trigger.delay }}",
                    "json_body": {
                        "name": "{{ steps.shape.output.full_name }}",
                        "email": "{{ steps.shape.output.email }}",
                    },
                },
            ),
            step(
                "welcome",
                "util.log",
                "Note the new contact",
                {"message": "Added {{ steps.shape.output.full_name }} as contact {{ steps.crm.output.body.id }}"},
            ),
            step("personal", "util.log", "Note a personal address", {"message": "Skipped {{ trigger.email }}"}),
        ],
        "edges": [
            {"id": "e1", "source": "start", "source_handle": None, "target": "shape"},
            {"id": "e2", "source": "shape", "source_handle": None, "target": "business"},
            {"id": "e3", "source": "business", "source_handle": "true", "target": "crm"},
            {"id": "e4", "source": "crm", "source_handle": None, "target": "welcome"},
            {"id": "e5", "source": "business", "source_handle": "false", "target": "personal"},
        ],
    }


def dismiss_toasts(page: Page) -> None:
    page.locator(".toast").evaluate_all("toasts => toasts.forEach(t => t.click())")
    page.wait_for_timeout(600)  # animations settle


def editor_and_test_run(page: Page, api_url: str, workflow_id: str) -> None:
    open_editor(page, api_url, workflow_id)
    node(page, "welcome").click()
    page.get_by_role("button", name="Auto-layout").click()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_test_id("save-state")).to_have_text("Version 2")
    page.locator('[data-field="message"]').get_by_role("button", name="Insert data").click()
    dismiss_toasts(page)
    page.screenshot(path=str(OUT / "editor.png"))

    node(page, "start").click()
    page.get_by_role("button", name="Test run").click()
    page.get_by_label("Trigger payload (JSON)").fill(
        '{"first_name": "Jane", "email": "jane@acme.com", "company": "Acme", "delay": 8}'
    )
    page.get_by_role("button", name="Run test").click()
    expect(node(page, "crm").locator(".step-node")).to_have_attribute("data-status", "running", timeout=120_000)
    node(page, "shape").click()
    page.locator(".react-flow__controls-fitview").click()
    dismiss_toasts(page)
    page.screenshot(path=str(OUT / "test-run.png"))
    expect(page.get_by_test_id("run-bar").locator(".pill")).to_have_text("Completed", timeout=60_000)


def mobile_runs(page: Page, api: Api, workflow_id: str) -> None:
    for delay in (0, -1, 0):
        payload = {"first_name": "Sam", "email": "sam@shop.example", "company": "Shop", "delay": delay}
        run = api.post(f"/api/v1/workflows/{workflow_id}/runs", json={"input": payload, "mode": "test"}).json()
        api.wait_for_run(run["run_id"])
    slow = {"first_name": "Ana", "email": "ana@bakery.example", "company": "Bakery", "delay": 20}
    api.post(f"/api/v1/workflows/{workflow_id}/runs", json={"input": slow, "mode": "test"})
    page.goto(api.base_url + "/#/runs")
    expect(page.locator(".run-item")).to_have_count(5)
    expect(page.locator(".run-item .pill").first).to_have_text("Running", timeout=60_000)
    page.wait_for_timeout(500)
    page.screenshot(path=str(OUT / "mobile-runs.png"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api-url", default="http://127.0.0.1:8000")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    crm = ThreadingHTTPServer(("127.0.0.1", 0), SlowCrm)
    Thread(target=crm.serve_forever, daemon=True).start()
    api = Api(args.api_url).signup(f"Acme Marketing {uuid.uuid4().hex[:4]}")
    workflow = create_workflow(api, "Welcome new leads", lead_graph(f"http://127.0.0.1:{crm.server_port}"))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        desktop = browser.new_page(viewport={"width": 1600, "height": 960})
        sign_in(desktop, args.api_url, api)
        editor_and_test_run(desktop, args.api_url, workflow["id"])
        phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
        sign_in(phone, args.api_url, api)
        mobile_runs(phone, api, workflow["id"])
        browser.close()
    crm.shutdown()
    print(f"wrote {', '.join(p.name for p in sorted(OUT.glob('*.png')))} to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
