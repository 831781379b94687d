"""The CRM screens on `flowyard up` (SQLite and PostgreSQL), in Chromium:

- a contact created in the UI shows in the table and on its page, whose fields are edited and saved and which
  takes a note;
- a deal dragged to "Won" on the board (and another moved with its stage select, the keyboard's way) is saved
  through the API's PATCH: the published data-change workflow on deals runs, and the run shows on the deal's page
  under "Workflows that touched this record", linked to its run page, completed;
- 1,000 contacts imported from a CSV file through the mapping step (two bad rows refused with their line and
  field, the others kept) show in the table."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import docs_screenshot, new_tenant, sign_in

pytestmark = pytest.mark.parametrize("stack", ["sqlite", "postgres"], indirect=True)


def test_create_a_contact_edit_it_and_add_a_note(page: Page, app_url: str):
    api = new_tenant(app_url)
    api.post("/api/v1/crm/companies", json={"name": "Globex", "domain": "globex.com"})
    sign_in(page, app_url, api)
    page.locator("nav.app-header").get_by_role("link", name="CRM", exact=True).click()
    expect(page.get_by_role("heading", name="Contacts", exact=True)).to_be_visible()
    expect(page.get_by_text("No contacts yet")).to_be_visible()

    page.get_by_role("button", name="New contact").click()
    dialog = page.get_by_role("dialog", name="New contact")
    dialog.get_by_label("First name").fill("Ada")
    dialog.get_by_label("Last name").fill("Lovelace")
    dialog.get_by_label("Email").fill("not-an-email")
    dialog.get_by_role("combobox", name="Company").select_option(label="Globex")
    dialog.get_by_label("Tags (separated by commas)").fill("VIP, speaker")
    dialog.get_by_role("button", name="Add contact").click()
    expect(dialog.locator('[data-error-for="email"]')).to_contain_text("valid email")  # refused, next to the field
    dialog.get_by_label("Email").fill("ada@example.com")
    dialog.get_by_role("button", name="Add contact").click()
    expect(dialog).to_be_hidden()

    table = page.get_by_role("table", name="Contacts")
    row = table.locator("tbody tr").filter(has_text="Ada Lovelace")
    expect(row).to_contain_text("ada@example.com")
    expect(row).to_contain_text("Globex")
    expect(row.get_by_role("button", name="vip")).to_be_visible()
    stored = api.get("/api/v1/crm/contacts", params={"email": "ada@example.com"}).json()
    assert [(c["first_name"], c["tags"]) for c in stored] == [("Ada", ["speaker", "vip"])]
    docs_screenshot(page, "crm-contacts.png")

    row.get_by_role("link", name="Ada Lovelace").click()
    expect(page.get_by_role("heading", name="Ada Lovelace", exact=True)).to_be_visible()
    fields = page.get_by_role("region", name="Fields")
    fields.get_by_label("Phone").fill("+44 20 7946 0000")
    fields.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved")).to_be_visible()
    assert api.get(f"/api/v1/crm/contacts/{stored[0]['id']}").json()["phone"] == "+442079460000"
    activities = page.get_by_role("region", name="Activities")
    activities.get_by_label("Note").fill("Met at the Analytical Engine meetup")
    activities.get_by_role("button", name="Add note").click()
    notes = activities.get_by_role("listitem")
    expect(notes).to_have_count(1)
    expect(notes.first).to_contain_text("Met at the Analytical Engine meetup")
    expect(activities.get_by_label("Note")).to_have_value("")
    assert [a["body"] for a in api.get("/api/v1/crm/activities", params={"contact_id": stored[0]["id"]}).json()] == [
        "Met at the Analytical Engine meetup"
    ]
    expect(page.get_by_role("region", name="Workflows that touched this record")).to_contain_text("No workflow")
    docs_screenshot(page, "crm-contact.png", full_page=True)


def _deal_watcher(api) -> dict:
    graph = {
        "nodes": [
            {
                "id": "won",
                "type": "trigger.data_change",
                "label": "Deal won",
                "config": {"record_type": "deal", "event": "field_changed", "field": "stage", "to": "won"},
                "position": {"x": 0, "y": 0},
            },
            {
                "id": "say",
                "type": "util.log",
                "label": "Log it",
                "config": {"message": "{{ trigger.record.title }} was {{ trigger.before.stage }}"},
                "position": {"x": 320, "y": 0},
            },
        ],
        "edges": [{"id": "e1", "source": "won", "source_handle": None, "target": "say"}],
    }
    workflow = api.post("/api/v1/workflows", json={"name": f"Deal won {uuid.uuid4().hex[:6]}", "graph": graph}).json()
    published = api.post(f"/api/v1/workflows/{workflow['id']}/publish")
    assert published.status_code == 200, published.text
    return published.json()


def test_move_deals_on_the_board_and_see_the_data_change_workflow_run(page: Page, app_url: str):
    api = new_tenant(app_url)
    watcher = _deal_watcher(api)
    renewal = api.post("/api/v1/crm/deals", json={"title": "Acme renewal", "amount": 1200}).json()
    pilot = api.post("/api/v1/crm/deals", json={"title": "Initech pilot", "amount": 300, "stage": "qualified"}).json()
    sign_in(page, app_url, api)
    page.goto(f"{app_url}/#/crm/deals")
    board = page.get_by_role("list", name="Deal pipeline")
    lead, won = board.locator('[data-stage="lead"]'), board.locator('[data-stage="won"]')
    card = lead.locator(f'[data-deal-id="{renewal["id"]}"]')
    expect(card).to_contain_text("Acme renewal")
    expect(board.locator("[data-stage]")).to_have_count(6)  # one column per stage of GET /deal-stages

    card.drag_to(won)  # the browser's own drag and drop
    expect(won.locator(f'[data-deal-id="{renewal["id"]}"]')).to_be_visible()
    expect(lead.locator(f'[data-deal-id="{renewal["id"]}"]')).to_have_count(0)
    expect(page.get_by_text("Moved “Acme renewal” to Won")).to_be_visible()
    assert api.get(f"/api/v1/crm/deals/{renewal['id']}").json()["stage"] == "won"

    # The keyboard's way: the card's stage select.
    board.get_by_label("Stage of Initech pilot").select_option("proposal")
    expect(board.locator(f'[data-stage="proposal"] [data-deal-id="{pilot["id"]}"]')).to_be_visible()
    expect(page.get_by_text("Moved “Initech pilot” to Proposal")).to_be_visible()  # saved (the card moves at once)
    assert api.get(f"/api/v1/crm/deals/{pilot['id']}").json()["stage"] == "proposal"
    docs_screenshot(page, "crm-deals-board.png")

    won.get_by_role("link", name="Acme renewal").click()
    expect(page.get_by_role("heading", name="Acme renewal", exact=True)).to_be_visible()
    touched = page.get_by_role("region", name="Workflows that touched this record")
    run_link = touched.locator('a[data-relation="triggered"]')
    expect(run_link).to_contain_text(watcher["name"], timeout=30_000)  # the dispatcher queued it
    expect(run_link).to_contain_text("started by a change to it")
    expect(run_link.locator(".pill")).to_have_attribute("data-status", "completed", timeout=120_000)
    run_id = run_link.get_attribute("data-run-id")
    run = api.get(f"/api/v1/runs/{run_id}").json()
    assert run["workflow_id"] == watcher["id"]
    assert [s["output"]["message"] for s in run["steps"] if s["node_id"] == "say"] == ["Acme renewal was lead"]
    docs_screenshot(page, "crm-deal.png", full_page=True)
    run_link.click()
    expect(page).to_have_url(f"{app_url}/#/runs/{run_id}")
    # The pilot moved to proposal, not won: it started nothing.
    assert len(api.get("/api/v1/runs", params={"workflow_id": watcher["id"]}).json()) == 1


def test_import_a_thousand_contacts_through_the_mapping_step(page: Page, app_url: str, tmp_path):
    api = new_tenant(app_url)
    lines = ["Email;Christian name;Surname;Plan;Ignore me"]
    lines += [f"bulk{n:04d}@example.com;Bulk{n:04d};Importer;{'pro' if n % 2 else 'basic'};x" for n in range(1000)]
    lines.insert(501, "broken-address;Bad;Row;pro;x")  # line 502 of the file
    lines.append(";;;;")  # an empty row: skipped, not an error
    lines.append("bulk-late@example.com;Late;Row;=cmd();x")  # the formula is text here, stored as it is
    lines.append("bad@;Worse;Row;pro;x")
    path = tmp_path / "contacts.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    sign_in(page, app_url, api)
    page.goto(f"{app_url}/#/crm/contacts")
    page.get_by_role("button", name="Import CSV").click()
    dialog = page.get_by_role("dialog", name="Import contacts from CSV")
    dialog.get_by_label("CSV file").set_input_files(str(path))
    mapping = dialog.get_by_role("table", name="Column mapping")
    expect(mapping).to_contain_text("Christian name")
    expect(dialog).to_contain_text("1,003 rows in contacts.csv")
    expect(dialog.get_by_label("Field for Email")).to_have_value("email")  # guessed from the header
    expect(dialog.get_by_label("Field for Surname")).to_have_value("last_name")
    expect(dialog.get_by_label("Field for Christian name")).to_have_value("")  # not guessed: mapped by hand
    dialog.get_by_label("Field for Christian name").select_option("first_name")
    dialog.get_by_label("Field for Plan").select_option("properties.plan")
    preview = dialog.get_by_role("table", name="Preview")
    expect(preview.locator("thead")).to_contain_text("First name")
    expect(preview.locator("thead")).to_contain_text("plan")
    expect(preview.locator("tbody tr").first).to_contain_text("bulk0000@example.com")
    docs_screenshot(page, "crm-import-mapping.png")

    dialog.get_by_role("button", name="Import 1,003 contacts").click()
    expect(dialog.get_by_role("progressbar", name="Import progress")).to_be_visible()
    status = dialog.get_by_test_id("import-status")
    expect(status).to_contain_text("1,003 of 1,003 rows", timeout=120_000)
    expect(status).to_contain_text("1,001 added · 0 updated · 2 refused")
    expect(status).to_contain_text("finished")
    expect(dialog.get_by_role("progressbar", name="Import progress")).to_have_attribute("aria-valuenow", "100")
    refused = dialog.get_by_role("table", name="Refused rows").locator("tbody tr")
    expect(refused).to_have_count(2)
    expect(refused.nth(0)).to_contain_text("502")
    expect(refused.nth(0)).to_contain_text("email")
    expect(refused.nth(1)).to_contain_text("1005")
    docs_screenshot(page, "crm-import-done.png")
    dialog.get_by_role("button", name="Done").click()

    table = page.get_by_role("table", name="Contacts")
    expect(table.locator("tbody tr")).to_have_count(50)  # a page at a time
    page.get_by_role("searchbox", name="Search contacts").fill("Bulk0999")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("bulk0999@example.com")
    total, cursor = 0, None
    while True:
        response = api.get("/api/v1/crm/contacts", params={"limit": 200, **({"cursor": cursor} if cursor else {})})
        total += len(response.json())
        cursor = response.headers.get("X-Next-Cursor")
        if not cursor:
            break
    assert total == 1001
    late = api.get("/api/v1/crm/contacts", params={"email": "bulk-late@example.com"}).json()[0]
    assert late["properties"] == {"plan": "=cmd()"}
