"""axe-core (the npm package in platform_api/ui, installed by `npm ci`) on every main page of the builder: the
sign-in page, then, signed in to a workspace with a published workflow and a finished run, the workflows list,
the editor, the runs list, a run, the dashboard, the template gallery and a template, connections, the inbox,
notifications, the CRM's lists, deal board and record pages, and each settings section. Any violation of impact
"serious" or "critical" fails the test, listed per page with the rule, what it means, and the elements it found."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.helpers import ROOT, new_tenant, sign_in, three_step_graph
from tests.support import publish, start_run

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)

AXE = ROOT / "platform_api" / "ui" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}
SLUG = "abandoned-cart-sequence"  # catalog/templates/marketing/abandoned-cart-sequence.yaml


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A desktop page whose context lets axe's script in: the app's Content-Security-Policy allows only its own."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def axe_violations(page: Page) -> list[dict]:
    """Runs axe on the page as it is now (WCAG 2.x A and AA and best practices); answers its violations."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async () => {
            const answer = await axe.run(document, { resultTypes: ["violations"] });
            return answer.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help, url: v.helpUrl,
                nodes: v.nodes.map((n) => ({ target: n.target.join(" "), summary: n.failureSummary, html: n.html })),
            }));
        }"""
    )
    return list(result)


def readable(page_name: str, violations: list[dict]) -> str:
    lines = [f"{page_name}:"]
    for v in violations:
        lines.append(f"  [{v['impact']}] {v['id']}: {v['help']}")
        for n in v["nodes"][:8]:
            lines.append(f"      {n['target']}\n        {n['html'][:160]}")
            lines.extend(f"        {line}" for line in (n["summary"] or "").splitlines())
        if len(v["nodes"]) > 8:
            lines.append(f"      … and {len(v['nodes']) - 8} more")
    return "\n".join(lines)


def check(page: Page, name: str, url: str, ready: Callable[[Page], Locator], found: dict[str, list[dict]]) -> None:
    page.goto(url)
    expect(ready(page)).to_be_visible()
    expect(page.get_by_test_id("loading")).to_have_count(0)
    page.wait_for_timeout(300)  # transitions (pills, toasts) settle before colours are measured
    blocking = [v for v in axe_violations(page) if v["impact"] in BLOCKING]
    if blocking:
        found[name] = blocking


def h1(name: str) -> Callable[[Page], Locator]:
    return lambda page: page.get_by_role("heading", name=name, level=1)


def test_main_pages_have_no_serious_accessibility_violations(page: Page, app_url: str):
    assert AXE.exists(), f"{AXE} is missing: run `npm ci` in platform_api/ui"
    found: dict[str, list[dict]] = {}

    check(page, "sign-in page", f"{app_url}/#/login", lambda p: p.get_by_role("button", name="Sign in"), found)

    api = new_tenant(app_url)
    workflow_id = publish(api, "Welcome new leads", three_step_graph())
    run_id = start_run(api, workflow_id, {"first_name": "Ada", "email": "ada@example.com"})
    assert api.wait_for_run(run_id)["status"] == "completed"
    company = api.post("/api/v1/crm/companies", json={"name": "Globex", "domain": "globex.com"}).json()
    contact = api.post(
        "/api/v1/crm/contacts",
        json={"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "company_id": company["id"]},
    ).json()
    deal = api.post("/api/v1/crm/deals", json={"title": "Globex renewal", "stage": "lead"}).json()
    sign_in(page, app_url, api)

    pages: list[tuple[str, str, Callable[[Page], Locator]]] = [
        ("workflows list", "#/", h1("Workflows")),
        ("editor", f"#/workflows/{workflow_id}", lambda p: p.locator(".react-flow__node").first),
        ("runs list", "#/runs", lambda p: p.get_by_role("list", name="Runs").locator("[data-run-id]").first),
        ("run page", f"#/runs/{run_id}", lambda p: p.get_by_role("heading", name="Steps")),
        ("dashboard", "#/dashboard", h1("Dashboard")),
        ("templates gallery", "#/templates", h1("Templates")),
        ("template page", f"#/templates/{SLUG}", lambda p: p.get_by_role("button", name="Use this template")),
        ("connections", "#/connections", h1("Connections")),
        ("inbox", "#/inbox", lambda p: p.locator("main h1")),
        ("notifications", "#/notifications", lambda p: p.locator("main h1")),
        ("CRM contacts", "#/crm/contacts", h1("Contacts")),
        ("CRM companies", "#/crm/companies", h1("Companies")),
        ("CRM deal board", "#/crm/deals", h1("Deals")),
        ("CRM contact page", f"#/crm/contacts/{contact['id']}", h1("Ada Lovelace")),
        ("CRM company page", f"#/crm/companies/{company['id']}", h1("Globex")),
        ("CRM deal page", f"#/crm/deals/{deal['id']}", h1("Globex renewal")),
    ]
    for section in ["workspace", "members", "api-keys", "alerts", "audit", "privacy", "account"]:
        pages.append((f"settings: {section}", f"#/settings/{section}", lambda p: p.locator(".settings-body")))
    for name, path, ready in pages:
        check(page, name, f"{app_url}/{path}", ready, found)

    # A dialog open over the workflows list: the run form.
    check(page, "workflows list", f"{app_url}/#/", h1("Workflows"), found)
    page.get_by_role("button", name="Run Welcome new leads now").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    if blocking := [v for v in axe_violations(page) if v["impact"] in BLOCKING]:
        found["run dialog"] = blocking

    report = "\n".join(readable(name, violations) for name, violations in found.items())
    assert not found, f"serious or critical accessibility violations (axe-core):\n{report}"


def test_axe_finds_what_it_should(page: Page, app_url: str):
    """The check itself can fail: an unlabelled icon button and grey-on-grey text are reported as serious."""
    page.goto(f"{app_url}/#/login")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.evaluate(
        """() => {
            const b = document.createElement("button");
            b.innerHTML = '<svg width="10" height="10"></svg>';
            document.body.append(b);
            const p = document.createElement("p");
            p.textContent = "hard to read";
            p.style.cssText = "color:#bbb;background:#ccc";
            document.body.append(p);
        }"""
    )
    ids = {v["id"] for v in axe_violations(page) if v["impact"] in BLOCKING}
    assert {"button-name", "color-contrast"} <= ids, ids
    assert Path(AXE).stat().st_size > 100_000
