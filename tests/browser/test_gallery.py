"""The template gallery as a marketing user meets it: Templates from the nav, the four categories, a
category filter, a search whose best match comes first, the preview (its graph on a read-only canvas,
parameters, what it needs), the instantiate form, the guidance about what to connect, and the editor on
the new draft. The API then confirms the draft, the changed parameter in its graph and its lineage. A
search with no match shows an empty state, not an error."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.helpers import new_tenant, sign_in
from tests.support import Api

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)

SLUG = "abandoned-cart-sequence"  # catalog/templates/marketing/abandoned-cart-sequence.yaml
TITLE = "Abandoned cart: reminder, discount, last-chance text"
CATEGORIES = ["Sales", "Marketing", "Customer service", "Operations"]


def open_gallery(page: Page) -> Locator:
    """Templates from the app's nav; answers the results region."""
    page.get_by_role("link", name="Templates", exact=True).click()
    expect(page).to_have_url(re.compile(r"#/templates$"))
    expect(page.get_by_role("heading", name="Templates", level=1)).to_be_visible()
    return page.get_by_role("region", name="Results")


def category(page: Page, label: str) -> Locator:
    return page.get_by_role("navigation", name="Categories").get_by_role("button", name=re.compile(rf"^{label}\b"))


def titles(api: Api, **query) -> list[str]:
    answer = api.get("/api/v1/templates", params={"per_page": 100, **query})
    assert answer.status_code == 200, answer.text
    return [t["title"] for t in answer.json()["items"]]


def test_browse_search_preview_and_instantiate_a_template(page: Page, app_url: str):
    api = new_tenant(app_url)
    facets = {c["label"]: c["count"] for c in api.get("/api/v1/templates/categories").json()["categories"]}
    template = api.get(f"/api/v1/templates/{SLUG}").json()
    assert template["title"] == TITLE
    sign_in(page, app_url, api)
    results = open_gallery(page)
    cards = results.get_by_role("listitem")

    # The four categories, each with how many templates it holds; all of them shown at first.
    for label in CATEGORIES:
        expect(category(page, label)).to_have_accessible_name(f"{label} {facets[label]}")
    expect(page.get_by_role("button", name="All templates")).to_have_attribute("aria-pressed", "true")
    expect(results.get_by_text(f"{sum(facets.values())} templates", exact=True)).to_be_visible()

    # One category: only its templates.
    category(page, "Marketing").click()
    expect(category(page, "Marketing")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("button", name="All templates")).to_have_attribute("aria-pressed", "false")
    marketing = titles(api, category="marketing")
    expect(results.get_by_text(f"{facets['Marketing']} templates", exact=True)).to_be_visible()
    expect(cards).to_have_count(len(marketing))
    for title in marketing:
        expect(cards.filter(has_text=title)).to_have_count(1)
    for card in cards.all():
        expect(card).to_contain_text("Marketing")

    # A word of the title, searched within the category: the template comes first (here: alone).
    page.get_by_role("searchbox", name="Search templates").fill("discount")
    expect(results.get_by_text("1 template", exact=True)).to_be_visible()
    expect(cards.first).to_contain_text(TITLE)
    # The same search over every category finds more, in the API's ranking order.
    page.get_by_role("button", name="All templates").click()
    everywhere = titles(api, q="discount")
    assert len(everywhere) > 1 and TITLE in everywhere
    expect(cards).to_have_count(len(everywhere))
    ours = cards.nth(everywhere.index(TITLE))
    expect(ours).to_contain_text(TITLE)
    expect(ours).to_contain_text("Marketing")

    # The preview: what it does, what it needs, its steps, and its parameters with their defaults.
    ours.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"#/templates/{SLUG}$"))
    expect(page.get_by_role("heading", name=TITLE, level=1)).to_be_visible()
    expect(page.get_by_text("Starts: When your shop reports a cart abandoned for 30 minutes.")).to_be_visible()
    needs = page.get_by_role("list", name="Integrations it needs").get_by_role("listitem")
    expect(needs).to_have_text(
        ["CRM (built into Flowyard): built in", "SendGrid: not connected yet", "Twilio: not connected yet"]
    )
    canvas = page.get_by_test_id("template-canvas")  # the steps drawn read-only, as the editor draws them
    expect(canvas.locator(".react-flow__node")).to_have_count(len(template["graph"]["nodes"]), timeout=30_000)
    for step in ("Cart abandoned", "Reminder email", "Discount email", "Last-chance text"):
        expect(canvas.locator(".react-flow__node").filter(has_text=step)).not_to_have_count(0)
    page.get_by_text(f"The {len(template['graph']['nodes'])} steps as a list").click()  # and as text
    steps = page.get_by_role("list", name="Steps").get_by_role("listitem")
    expect(steps).to_have_count(len(template["graph"]["nodes"]))
    form = page.get_by_role("form", name="Use this template")
    expect(form.get_by_label("Workflow name")).to_have_value(TITLE)
    expect(form.get_by_label("Hours before the reminder")).to_have_value("1")
    expect(form.get_by_label("Discount code")).to_have_value("COMEBACK10")
    expect(form.get_by_label("Discount", exact=True)).to_have_value("10% off")
    expect(form.get_by_text("The code in the second email.")).to_be_visible()

    # Customise it: a name and another discount code.
    form.get_by_label("Workflow name").fill("Bring carts back")
    form.get_by_label("Discount code").fill("SAVE20")
    with page.expect_response(lambda r: r.url.endswith(f"/api/v1/templates/{SLUG}/instantiate")) as answered:
        form.get_by_role("button", name="Use this template").click()
    assert answered.value.status == 201, answered.value.text()
    created = answered.value.json()
    assert json.loads(answered.value.request.post_data)["parameters"]["discount_code"] == "SAVE20"

    # It is a draft; what is missing is named, with how to connect it.
    expect(page.get_by_role("heading", name="“Bring carts back” is ready as a draft")).to_be_visible()
    expect(page.get_by_text("Connect these accounts before it can run:")).to_be_visible()
    missing = page.get_by_role("list", name="Accounts to connect").get_by_role("listitem")
    expect(missing).to_have_count(2)
    expect(missing.filter(has_text="SendGrid")).to_contain_text("Add a SendGrid connection")
    expect(missing.filter(has_text="Twilio")).to_contain_text("Add a Twilio connection")
    expect(page.get_by_role("form", name="Use this template")).to_have_count(0)

    # Open it: the editor on the new draft.
    workflow_id = created["workflow"]["id"]
    page.get_by_role("button", name="Open the workflow").click()
    expect(page).to_have_url(re.compile(rf"#/workflows/{workflow_id}$"))
    expect(page.get_by_label("Workflow name")).to_have_value("Bring carts back", timeout=30_000)
    expect(page.locator(".toolbar").get_by_text("Draft", exact=True)).to_be_visible()
    expect(page.get_by_test_id("save-state")).to_have_text("Version 1")
    expect(page.get_by_text("Discount email", exact=True)).to_be_visible()

    # Through the API, as the same user: a draft, the new code in its steps, lineage to the template version.
    workflow = api.get(f"/api/v1/workflows/{workflow_id}").json()
    assert workflow["name"] == "Bring carts back" and workflow["status"] == "draft" and workflow["version"] == 1
    assert workflow["published_version"] is None
    nodes = {n["id"]: n for n in workflow["graph"]["nodes"]}
    assert "Use code SAVE20 for 10% off" in nodes["discount_email"]["config"]["text"]
    assert "code SAVE20 expires tonight" in nodes["last_chance"]["config"]["body"]
    assert nodes["wait_1"]["config"]["hours"] == 1  # a parameter left alone keeps its default
    assert "${" not in json.dumps(workflow["graph"]) and "COMEBACK10" not in json.dumps(workflow["graph"])
    assert workflow_id in [w["id"] for w in api.get("/api/v1/workflows").json()]
    assert created["template"] == {"slug": SLUG, "version": template["version"]}
    lineage = workflow["template"]
    assert (lineage["slug"], lineage["version"], lineage["parameters"]["discount_code"]) == (
        SLUG,
        template["version"],
        "SAVE20",
    )
    # The template itself is unchanged.
    after = api.get(f"/api/v1/templates/{SLUG}").json()
    assert (
        next(n for n in after["graph"]["nodes"] if n["id"] == "discount_email")["config"]
        == next(n for n in template["graph"]["nodes"] if n["id"] == "discount_email")["config"]
    )
    assert "COMEBACK10" in json.dumps(after["graph"])


def test_a_search_with_no_match_shows_an_empty_state(page: Page, app_url: str):
    api = new_tenant(app_url)
    sign_in(page, app_url, api)
    results = open_gallery(page)
    search = page.get_by_role("searchbox", name="Search templates")

    with page.expect_response(lambda r: "/api/v1/templates?" in r.url and "q=xylophone" in r.url) as answered:
        search.fill('xylophone "(')  # punctuation too: nothing for the search engine to choke on
    assert answered.value.status == 200, answered.value.text()
    expect(results.get_by_role("heading", name="No template matches")).to_be_visible()
    expect(results.get_by_text("Try fewer words or another category.")).to_be_visible()
    expect(results.get_by_text("0 templates", exact=True)).to_be_visible()
    expect(results.get_by_role("listitem")).to_have_count(0)
    expect(page.get_by_role("alert")).to_have_count(0)

    # A word that matches elsewhere, in a category where nothing has it: empty too; then back to results.
    search.fill("abandoned")
    expect(results.get_by_role("listitem")).to_have_count(1)
    category(page, "Operations").click()
    expect(results.get_by_role("heading", name="No template matches")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)
    category(page, "Marketing").click()
    expect(results.get_by_role("listitem")).to_have_count(1)
    expect(results.get_by_role("listitem").first).to_contain_text(TITLE)
    expect(results.get_by_role("heading", name="No template matches")).to_have_count(0)
