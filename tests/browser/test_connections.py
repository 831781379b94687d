"""The Connections page as a marketing user meets it, against the local SendGrid fake (tests/fakes: the
`stack` of `flowyard up` is pointed at it by FLOWYARD_INTEGRATIONS__SENDGRID_BASE_URL): add a SendGrid
connection from the form generated from the type's fields, the server's 422 next to its field, the key
masked in the list and never sent back, Test failing with SendGrid's reason and hint, a new key by Edit
and Test passing, an edit that leaves the key empty and keeps it; then the connection picked in a
workflow's email step in the editor, and a delete refused while that workflow uses it (the 409 naming it).
A template's missing integrations link to the page with the type's form open and the workflow to set up.
An X connection is connected through the (fake) network's consent page, from the Connect button."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import create_workflow, new_tenant, node, open_editor, sign_in

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)

SENDER = "hello@shop.example"
WORKFLOW = "Welcome emails"


def email_graph() -> dict:
    """trigger.manual -> email.sendgrid, the email step still without a connection."""
    return {
        "nodes": [
            {
                "id": "start",
                "type": "trigger.manual",
                "label": "New signup",
                "config": {"sample": {"email": "ada@example.com"}},
                "position": {"x": 0, "y": 0},
            },
            {
                "id": "welcome",
                "type": "email.sendgrid",
                "label": "Welcome email",
                "config": {"to": "{{ trigger.email }}", "subject": "Welcome", "text": "Hello!"},
                "position": {"x": 320, "y": 0},
            },
        ],
        "edges": [{"id": "e1", "source": "start", "source_handle": None, "target": "welcome"}],
    }


def test_add_test_use_and_delete_a_sendgrid_connection(page: Page, app_url: str, fake_services):
    api = new_tenant(app_url)
    good_key = fake_services.sendgrid.add_key()
    workflow = create_workflow(api, WORKFLOW, email_graph())
    bodies: list[dict] = []
    page.on(
        "request",
        lambda r: "/api/v1/connections" in r.url
        and r.method in ("POST", "PATCH")
        and r.post_data
        and bodies.append(json.loads(r.post_data)),
    )
    sign_in(page, app_url, api)

    # From the nav: an empty page that says what connections are for.
    page.get_by_role("link", name="Connections", exact=True).click()
    expect(page).to_have_url(re.compile(r"#/connections$"))
    expect(page.get_by_role("heading", name="Connections", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name="Connect your first account")).to_be_visible()

    # Add: the form is generated from SendGrid's described fields; the key is a password input.
    page.get_by_role("button", name="+ Add connection").click()
    dialog = page.get_by_role("dialog", name="Add a connection")
    dialog.get_by_label("Service").select_option(label="SendGrid")
    dialog = page.get_by_role("dialog", name="Add a SendGrid connection")
    key = dialog.get_by_label("API key")
    expect(key).to_have_attribute("type", "password")
    expect(dialog.get_by_text("SendGrid API key (SG.…) with the Mail Send permission.")).to_be_visible()
    expect(dialog.locator('[data-field="api_key"] .required')).to_be_visible()
    expect(dialog.locator('[data-field="from_name"] .required')).to_have_count(0)
    dialog.get_by_label("Connection name").fill("Marketing")
    key.fill("SG.not-a-key-sendgrid-knows")
    dialog.get_by_label("From email").fill("not-an-address")

    # The server's 422 shows next to the field it names; nothing is created.
    dialog.get_by_role("button", name="Add connection").click()
    expect(dialog.locator('[data-field="from_email"] .field-error')).to_contain_text("not a valid email address")
    expect(dialog.locator('[data-field="api_key"] .field-error')).to_have_count(0)
    assert api.get("/api/v1/connections").json() == []

    dialog.get_by_label("From email").fill(SENDER)
    dialog.get_by_label("From name").fill("The Shop")
    dialog.get_by_role("button", name="Add connection").click()
    expect(dialog).to_be_hidden()
    assert bodies[-1] == {
        "type": "sendgrid",
        "name": "Marketing",
        "config": {"from_email": SENDER, "from_name": "The Shop"},
        "secrets": {"api_key": "SG.not-a-key-sendgrid-knows"},
        "use_for_alerts": False,
    }

    # The list: name, readable type, status, settings, and the key only as a mask.
    item = page.get_by_role("list", name="Your connections").get_by_role("listitem", name="Marketing")
    expect(item).to_contain_text("SendGrid")
    expect(item.locator(".pill")).to_have_text("Not tested")
    expect(item).to_contain_text(SENDER)
    expect(item.locator('[data-secret="api_key"]')).to_have_text("••••••")
    expect(item).to_contain_text("Last test:never")
    assert "not-a-key" not in page.content()
    (connection,) = api.get("/api/v1/connections").json()
    assert connection["secrets"] == {"api_key": "••••••"}

    # Test: SendGrid (the fake) refuses the key; the page says why and what to do.
    item.get_by_role("button", name="Test Marketing").click()
    result = item.get_by_label("Test result")
    expect(result).to_contain_text("Test failed: SendGrid rejected the API key (401)")
    expect(result).to_contain_text("Create a key with Mail Send permission in SendGrid")
    expect(item.locator(".pill")).to_have_text("Failed")
    expect(item).to_contain_text("Last test:just now")

    # Edit: the key is never pre-filled; a new one is saved, and Test passes.
    item.get_by_role("button", name="Edit Marketing").click()
    dialog = page.get_by_role("dialog", name="Edit “Marketing”")
    key = dialog.get_by_label("API key")
    expect(key).to_have_value("")
    expect(key).to_have_attribute("placeholder", "Saved: leave empty to keep it")
    expect(dialog.get_by_label("From email")).to_have_value(SENDER)
    expect(dialog.get_by_label("Connection name")).to_have_attribute("readonly", "")
    key.fill(good_key)
    dialog.get_by_role("button", name="Save changes").click()
    expect(dialog).to_be_hidden()
    expect(item.locator(".pill")).to_have_text("Not tested")
    item.get_by_role("button", name="Test Marketing").click()
    expect(item.get_by_label("Test result")).to_have_text(
        f"Test passed: SendGrid accepted the API key; it may send email as {SENDER}."
    )
    expect(item.locator(".pill")).to_have_text("Working")

    # Edit again, the key left empty: it is kept (not sent, so not erased) and Test still passes.
    item.get_by_role("button", name="Edit Marketing").click()
    dialog = page.get_by_role("dialog", name="Edit “Marketing”")
    dialog.get_by_label("From name").fill("The Shop team")
    dialog.get_by_role("button", name="Save changes").click()
    expect(dialog).to_be_hidden()
    assert "secrets" not in bodies[-1] and bodies[-1]["config"]["from_name"] == "The Shop team"
    expect(item).to_contain_text("The Shop team")
    item.get_by_role("button", name="Test Marketing").click()
    expect(item.get_by_label("Test result")).to_contain_text("Test passed: SendGrid accepted the API key")
    assert good_key not in page.content()

    # The editor: the email step's connection is a select of the SendGrid connections, with a way to add one.
    open_editor(page, app_url, workflow["id"])
    node(page, "welcome").click()
    panel = page.get_by_label("Step settings")
    select = panel.get_by_role("combobox", name=re.compile(r"^Connection\b"))
    expect(select.locator("option", has_text="Marketing")).to_have_count(1)
    expect(select).to_have_value("")
    add = panel.get_by_role("link", name="+ Add connection")
    expect(add).to_have_attribute("href", "#/connections?add=sendgrid")
    expect(add).to_have_attribute("target", "_blank")
    select.select_option(label="Marketing")
    expect(select).to_have_value(connection["id"])
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_test_id("save-state")).to_have_text("Version 2")
    saved = api.get(f"/api/v1/workflows/{workflow['id']}").json()
    assert next(n for n in saved["graph"]["nodes"] if n["id"] == "welcome")["config"]["connection"] == connection["id"]

    # Delete while the workflow uses it: confirmed first, then refused with the workflow named and linked.
    page.get_by_role("link", name="Connections", exact=True).click()
    item = page.get_by_role("list", name="Your connections").get_by_role("listitem", name="Marketing")
    item.get_by_role("button", name="Delete Marketing").click()
    dialog = page.get_by_role("dialog", name="Delete “Marketing”?")
    with page.expect_response(lambda r: r.request.method == "DELETE") as answered:
        dialog.get_by_role("button", name="Delete", exact=True).click()
    assert answered.value.status == 409
    alert = dialog.get_by_role("alert")
    expect(alert).to_contain_text(f"Workflows use this connection: {WORKFLOW}.")
    expect(alert).to_contain_text("Switch those workflows' steps to another connection first.")
    expect(alert.get_by_role("list", name="Workflows using it").get_by_role("link", name=WORKFLOW)).to_have_attribute(
        "href", f"#/workflows/{workflow['id']}"
    )
    dialog.get_by_role("button", name="Close").click()
    expect(item).to_be_visible()
    assert [c["id"] for c in api.get("/api/v1/connections").json()] == [connection["id"]]


def test_a_template_links_its_missing_connections(page: Page, app_url: str, fake_services):
    api = new_tenant(app_url)
    sign_in(page, app_url, api)
    page.goto(f"{app_url}/#/templates/abandoned-cart-sequence")
    form = page.get_by_role("form", name="Use this template")
    form.get_by_label("Workflow name").fill("Carts")
    with page.expect_response(lambda r: r.url.endswith("/instantiate")) as answered:
        form.get_by_role("button", name="Use this template").click()
    workflow_id = answered.value.json()["workflow"]["id"]

    # Each missing integration links to the Connections page, with its form open.
    missing = page.get_by_role("list", name="Accounts to connect")
    link = missing.get_by_role("link", name="Add a SendGrid connection")
    expect(link).to_have_attribute("href", f"#/connections?add=sendgrid&workflow={workflow_id}")
    expect(missing.get_by_role("link", name="Add a Twilio connection")).to_be_visible()
    link.click()
    dialog = page.get_by_role("dialog", name="Add a SendGrid connection")
    expect(dialog.get_by_label("Service")).to_have_value("sendgrid")
    dialog.get_by_label("Connection name").fill("Shop")
    dialog.get_by_label("API key").fill(fake_services.sendgrid.add_key())
    dialog.get_by_label("From email").fill(SENDER)
    dialog.get_by_role("button", name="Add connection").click()
    expect(dialog).to_be_hidden()
    expect(page).to_have_url(re.compile(rf"#/connections\?workflow={workflow_id}$"))

    # Back on the page: use it in the new workflow's SendGrid steps; Twilio is still to connect.
    setup = page.get_by_role("region", name="Workflow setup")
    expect(setup).to_contain_text("Setting up Carts.")
    setup.get_by_role("button", name="Use “Shop” in “Carts”").click()
    expect(setup).to_contain_text("Still to connect: Twilio.")
    (shop,) = api.get("/api/v1/connections").json()
    graph = api.get(f"/api/v1/workflows/{workflow_id}").json()["graph"]
    emails = [n for n in graph["nodes"] if n["type"] == "email.sendgrid"]
    assert emails and all(n["config"]["connection"] == shop["id"] for n in emails)
    setup.get_by_role("link", name="Open the workflow →").click()
    expect(page).to_have_url(re.compile(rf"#/workflows/{workflow_id}$"))


def test_connect_an_x_account_through_its_consent_page(page: Page, app_url: str, fake_services):
    """OAuth: the form asks only for the app's client id and secret (the tokens are the network's to give);
    Connect opens the API's start route in a new tab, the (fake) X consent page sends it back to Flowyard's
    callback, and the list shows the account connected."""
    api = new_tenant(app_url)
    app = fake_services.x.add_app()
    sign_in(page, app_url, api)
    page.goto(f"{app_url}/#/connections?add=x")
    dialog = page.get_by_role("dialog", name="Add a X connection")
    for hidden in ("Access token", "Refresh token", "Expires at", "Username"):
        expect(dialog.get_by_label(hidden, exact=True)).to_have_count(0)
    dialog.get_by_label("Connection name").fill("Brand account")
    dialog.get_by_label("Client ID").fill(app.client_id)
    expect(dialog.get_by_label("Client secret")).to_have_attribute("type", "password")
    dialog.get_by_label("Client secret").fill(app.client_secret)
    dialog.get_by_role("button", name="Save, then Connect").click()
    expect(dialog).to_be_hidden()

    item = page.get_by_role("list", name="Your connections").get_by_role("listitem", name="Brand account")
    expect(item.locator(".pill")).to_have_text("Needs Connect")
    expect(item.get_by_role("button", name="Test Brand account")).to_be_disabled()
    with page.context.expect_page() as opened:
        item.get_by_role("button", name="Connect Brand account").click()
    consent = opened.value
    consent.wait_for_load_state()
    expect(consent.get_by_role("heading", name="Connected")).to_be_visible()
    expect(consent.get_by_text("is connected to 'Brand account'")).to_be_visible()
    consent.close()
    page.bring_to_front()  # back in the Flowyard tab: the list reloads
    expect(item.locator(".pill")).to_have_text("Working")
    expect(item.get_by_role("button", name="Connect Brand account")).to_have_text("Reconnect")
    (connection,) = api.get("/api/v1/connections").json()
    assert connection["status"] == "ok" and set(connection["secrets"]) >= {"access_token", "client_secret"}
