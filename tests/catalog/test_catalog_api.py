"""The catalog API in-process on SQLite and PostgreSQL (no workflow engine): browse, search, preview,
instantiate, private templates, publishing a version, upgrades, and the bad input of the issue."""

from __future__ import annotations

import pytest

from catalog.index import publish
from catalog.loader import load_all
from store import CatalogTemplate
from store.db import get_session_factory
from tests.support import edge, graph, node

SLUG = "new-lead-welcome-sms-follow-up"
ALL = load_all()


def problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"].endswith("/" + slug) and body["detail"] and body.get("hint"), body
    return body


def test_browse_by_category_and_tag_with_pages(tenant):
    first = tenant.get("/api/v1/templates", params={"per_page": 10}).json()
    assert first["total"] >= len(ALL) and first["pages"] == -(-first["total"] // 10) and len(first["items"]) == 10
    second = tenant.get("/api/v1/templates", params={"per_page": 10, "page": 2}).json()
    assert not {t["slug"] for t in first["items"]} & {t["slug"] for t in second["items"]}
    again = tenant.get("/api/v1/templates", params={"per_page": 10}).json()
    assert [t["slug"] for t in again["items"]] == [t["slug"] for t in first["items"]]  # a stable order (by title)

    sales = tenant.get("/api/v1/templates", params={"category": "sales", "per_page": 100}).json()
    assert sales["total"] == sum(t.category == "sales" for t in ALL)
    assert {t["category"] for t in sales["items"]} == {"sales"}

    tagged = tenant.get("/api/v1/templates", params=[("tag", "sms"), ("tag", "follow-up"), ("per_page", 100)]).json()
    expected = {t.slug for t in ALL if {"sms", "follow-up"} <= set(t.tags)}
    assert expected and {t["slug"] for t in tagged["items"]} == expected

    twilio = tenant.get("/api/v1/templates", params={"integration": "twilio", "per_page": 100}).json()
    assert {t["slug"] for t in twilio["items"]} == {t.slug for t in ALL if "twilio" in t.integrations}

    facets = tenant.get("/api/v1/templates/categories").json()
    assert [c["slug"] for c in facets["categories"]] == ["sales", "marketing", "customer-service", "operations"]
    assert all(c["count"] >= 8 for c in facets["categories"]) and facets["tags"]

    problem(tenant.get("/api/v1/templates", params={"category": "gardening"}), 422, "unknown-category")
    problem(tenant.get("/api/v1/templates", params={"per_page": 1000}), 422, "validation-error")


def test_full_text_search(tenant):
    found = tenant.get("/api/v1/templates", params={"q": "abandoned cart"}).json()
    assert found["items"][0]["slug"] == "abandoned-cart-sequence"
    prefix = tenant.get("/api/v1/templates", params={"q": "invoi remind"}).json()  # words match by prefix
    assert "overdue-invoice-reminders" in [t["slug"] for t in prefix["items"]]
    in_category = tenant.get("/api/v1/templates", params={"q": "review", "category": "marketing"}).json()
    assert in_category["items"] and {t["category"] for t in in_category["items"]} == {"marketing"}
    assert tenant.get("/api/v1/templates", params={"q": "xylophone"}).json() == {
        "items": [],
        "total": 0,
        "page": 1,
        "per_page": 20,
        "pages": 0,
    }
    hostile = tenant.get("/api/v1/templates", params={"q": "\"' OR 1=1 -- NEAR( * ) :*&|!"})
    assert hostile.status_code == 200, hostile.text


def test_preview_shows_graph_parameters_and_integrations(tenant):
    preview = tenant.get(f"/api/v1/templates/{SLUG}").json()
    assert preview["parameters"]["properties"]["wait_days"]["default"] == 2
    assert preview["parameters"]["properties"]["wait_days"]["description"]
    wait = next(n for n in preview["graph"]["nodes"] if n["id"] == "wait")
    assert wait["config"]["days"] == 2  # the defaults filled in
    assert {i["type"]: i["connected"] for i in preview["required_integrations"]} == {
        "crm": True,
        "sendgrid": False,
        "twilio": False,
    }
    assert preview["trigger"]["type"] == "trigger.data_change" and preview["changelog"][0]["version"] == 1
    problem(tenant.get("/api/v1/templates/no-such-template"), 404, "not-found")


def test_instantiate_creates_a_draft_with_lineage_and_says_what_to_connect(tenant):
    answer = tenant.post(
        f"/api/v1/templates/{SLUG}/instantiate",
        json={
            "name": "Bakery leads",
            "parameters": {"wait_days": 3, "business_name": "Alice's Bakery"},
            "trigger_overrides": {
                "config": {"sample": {"email": "x@example.com", "first_name": "X", "phone": "+14155550100"}}
            },
        },
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    workflow = body["workflow"]
    assert (
        workflow["status"] == "draft" and workflow["version"] == 1 and body["template"] == {"slug": SLUG, "version": 1}
    )
    nodes = {n["id"]: n for n in workflow["graph"]["nodes"]}
    assert nodes["wait"]["config"]["days"] == 3 and nodes["welcome"]["config"]["text"].endswith("Alice's Bakery")
    assert nodes["start"]["config"]["sample"]["email"] == "x@example.com"
    assert body["setup_complete"] is False
    assert {(s["node_id"], s["connection_type"]) for s in body["unbound_steps"]} == {
        ("welcome", "sendgrid"),
        ("text", "twilio"),
    }
    missing = {i["type"]: i for i in body["integrations"] if not i["connected"]}
    assert set(missing) == {"sendgrid", "twilio"} and "POST /api/v1/connections" in missing["twilio"]["how_to_connect"]
    assert tenant.get(f"/api/v1/workflows/{workflow['id']}/setup").json()["setup_complete"] is False
    lineage = tenant.get(f"/api/v1/workflows/{workflow['id']}").json()["template"]
    assert (lineage["slug"], lineage["version"], lineage["parameters"]["wait_days"]) == (SLUG, 1, 3)
    unchanged = tenant.get(f"/api/v1/templates/{SLUG}").json()
    assert next(n for n in unchanged["graph"]["nodes"] if n["id"] == "wait")["config"]["days"] == 2


def test_bad_input_creates_nothing(tenant, platform_db_url):
    before = len(tenant.get("/api/v1/workflows").json())
    url = f"/api/v1/templates/{SLUG}/instantiate"
    body = problem(
        tenant.post(url, json={"name": "A", "parameters": {"colour": "red", "wait_days": 0}}), 422, "invalid-parameters"
    )
    assert {e["path"] for e in body["errors"]} == {"parameters.colour", "parameters.wait_days"}
    body = problem(tenant.post(url, json={"name": "A", "parameters": {"wait_days": "soon"}}), 422, "invalid-parameters")
    assert body["errors"][0]["path"] == "parameters.wait_days"
    body = problem(
        tenant.post(url, json={"name": "A", "trigger_overrides": {"type": "util.log"}}), 422, "invalid-trigger"
    )
    assert body["errors"][0]["path"] == "trigger_overrides.type"
    body = problem(
        tenant.post(url, json={"name": "A", "connections": {"sendgrid": "nope"}}), 422, "invalid-connections"
    )
    assert body["errors"][0]["path"] == "connections.sendgrid"
    problem(tenant.post(url, json={"name": "A", "extra": 1}), 422, "validation-error")
    problem(tenant.post("/api/v1/templates/no-such/instantiate", json={"name": "A"}), 404, "not-found")

    with get_session_factory(platform_db_url)() as db:  # a template whose node type was since removed
        broken = ALL[0].model_dump(mode="json") | {"slug": f"broken-{tenant.signup_body['tenant']['slug']}"}
        broken["graph"]["nodes"][1]["type"] = "fax.send"
        publish(db, broken)
        db.commit()
    body = problem(
        tenant.post(f"/api/v1/templates/{broken['slug']}/instantiate", json={"name": "A"}), 422, "template-outdated"
    )
    assert body["errors"][0]["path"] == "graph.nodes[1].type" and "fax.send" in body["detail"]

    plain = tenant.post(
        "/api/v1/workflows",
        json={
            "name": "Hand-made",
            "graph": graph(
                [node("start", "trigger.manual"), node("say", "util.log", {"message": "hi"})], [edge("start", "say")]
            ),
        },
    ).json()
    problem(tenant.post(f"/api/v1/workflows/{plain['id']}/upgrade"), 409, "not-from-template")
    assert len(tenant.get("/api/v1/workflows").json()) == before + 1  # only the hand-made one


def _workflow(tenant, name: str, subject: str, extra: bool = False) -> dict:
    nodes = [
        node("start", "trigger.manual", {"sample": {"email": "a@example.com"}}),
        node("shape", "data.transform", {"fields": {"subject": subject, "email": "{{ trigger.email }}"}}),
        node("say", "util.log", {"message": "{{ steps.shape.output.subject }}"}),
    ]
    edges = [edge("start", "shape"), edge("shape", "say")]
    if extra:
        nodes.append(node("audit", "util.log", {"message": "audited", "level": "warning"}))
        edges.append(edge("say", "audit"))
    created = tenant.post("/api/v1/workflows", json={"name": name, "graph": graph(nodes, edges)})
    assert created.status_code == 201, created.text
    return created.json()


def test_private_templates_versions_notifications_and_upgrade(tenant, anonymous):
    source = _workflow(tenant, "Source", "Hello")
    saved = tenant.post(
        "/api/v1/templates",
        json={
            "workflow_id": source["id"],
            "title": "Our greeting flow",
            "description": "Greets every new customer.",
            "category": "operations",
            "tags": ["greeting"],
        },
    )
    assert saved.status_code == 201, saved.text
    slug = saved.json()["slug"]
    assert saved.json()["private"] and saved.json()["version"] == 1

    mine = tenant.get("/api/v1/templates", params={"scope": "private"}).json()
    assert [t["slug"] for t in mine["items"]] == [slug]
    assert tenant.get("/api/v1/templates", params={"q": "greeting flow"}).json()["items"][0]["slug"] == slug
    other = anonymous.signup()
    assert other.get("/api/v1/templates", params={"scope": "private"}).json()["total"] == 0
    assert other.get("/api/v1/templates", params={"q": "greeting flow"}).json()["total"] == 0
    problem(other.get(f"/api/v1/templates/{slug}"), 404, "not-found")
    problem(other.post(f"/api/v1/templates/{slug}/instantiate", json={"name": "Theirs"}), 404, "not-found")
    problem(
        tenant.post(f"/api/v1/templates/{SLUG}/versions", json={"workflow_id": source["id"], "changes": "x"}),
        403,
        "catalog-template",
    )

    derived = tenant.post(f"/api/v1/templates/{slug}/instantiate", json={"name": "Derived"}).json()["workflow"]
    custom = derived["graph"]
    custom["nodes"][1]["config"]["fields"]["subject"] = "Hi there"  # the tenant's customisation
    custom["nodes"][2]["label"] = "Say it"
    assert tenant.put(f"/api/v1/workflows/{derived['id']}", json={"graph": custom}).status_code == 200
    problem(tenant.post(f"/api/v1/workflows/{derived['id']}/upgrade"), 409, "up-to-date")

    newer = _workflow(tenant, "Source v2", "Hello and welcome", extra=True)
    published = tenant.post(
        f"/api/v1/templates/{slug}/versions",
        json={"workflow_id": newer["id"], "changes": "Warmer greeting; audit step."},
    )
    assert published.status_code == 201, published.text
    assert published.json()["notified_tenants"] == 1 and published.json()["template"]["version"] == 2

    updates = tenant.get("/api/v1/templates/updates").json()
    assert [(u["workflow_id"], u["current_version"], u["latest_version"]) for u in updates["updates"]] == [
        (derived["id"], 1, 2)
    ]
    assert updates["updates"][0]["changelog"][0]["changes"] == "Warmer greeting; audit step."
    assert updates["notifications"][0]["data"]["workflows"][0]["id"] == derived["id"]

    preview = tenant.post(f"/api/v1/workflows/{derived['id']}/upgrade", json={"dry_run": True}).json()
    assert preview["saved_version"] is None and preview["from_version"] == 1 and preview["to_version"] == 2
    [conflict] = preview["conflicts"]
    assert (conflict["path"], conflict["workflow"], conflict["template"], conflict["resolution"]) == (
        "nodes.shape.config.fields",
        {"subject": "Hi there", "email": "{{ trigger.email }}"},
        {"subject": "Hello and welcome", "email": "{{ trigger.email }}"},
        "workflow",
    )
    assert {(c["path"], c["op"]) for c in preview["changes"]} == {
        ("nodes.audit", "added"),
        ("edges.say-out-audit", "added"),
    }
    assert tenant.get(f"/api/v1/workflows/{derived['id']}").json()["version"] == 2  # nothing saved

    problem(
        tenant.post(f"/api/v1/workflows/{derived['id']}/upgrade", json={"resolutions": {"nodes.nope": "template"}}),
        422,
        "unknown-conflict",
    )
    done = tenant.post(
        f"/api/v1/workflows/{derived['id']}/upgrade", json={"resolutions": {"nodes.shape.config.fields": "template"}}
    ).json()
    assert done["saved_version"] == 3 and done["valid"] and done["from_version"] == 1
    latest = tenant.get(f"/api/v1/workflows/{derived['id']}").json()
    nodes = {n["id"]: n for n in latest["graph"]["nodes"]}
    assert nodes["shape"]["config"]["fields"]["subject"] == "Hello and welcome" and nodes["say"]["label"] == "Say it"
    assert "audit" in nodes and latest["status"] == "draft"
    assert latest["template"]["version"] == 2  # the lineage follows the upgrade
    assert tenant.get("/api/v1/templates/updates").json()["updates"] == []
    problem(tenant.post(f"/api/v1/workflows/{derived['id']}/upgrade"), 409, "up-to-date")

    assert tenant.delete(f"/api/v1/templates/{slug}").status_code == 204
    problem(tenant.get(f"/api/v1/templates/{slug}"), 404, "not-found")
    assert tenant.get("/api/v1/templates", params={"q": "greeting flow"}).json()["total"] == 0


def test_a_template_cannot_be_made_of_an_invalid_workflow(tenant):
    broken = tenant.post(
        "/api/v1/workflows",
        json={
            "name": "Unfinished",
            "allow_invalid": True,
            "graph": graph([node("start", "trigger.manual"), node("say", "util.log", {})], [edge("start", "say")]),
        },
    ).json()
    problem(
        tenant.post(
            "/api/v1/templates",
            json={
                "workflow_id": broken["id"],
                "title": "Nope",
                "category": "sales",
                "description": "Not a working workflow.",
            },
        ),
        422,
        "invalid-graph",
    )


def test_publishing_the_same_version_twice_changes_nothing(platform_db_url):
    with get_session_factory(platform_db_url)() as db:
        definition = next(t for t in ALL if t.slug == SLUG).model_dump(mode="json")
        again = publish(db, definition)
        assert again.created is False and again.template.latest_version == 1
        changed = definition | {"title": "Changed without a new version"}
        with pytest.raises(Exception, match="without a new version number"):
            publish(db, changed)
        db.rollback()
        assert db.query(CatalogTemplate).filter_by(slug=SLUG).one().title == definition["title"]


def test_instantiate_with_another_trigger(tenant, anonymous):
    """The instantiate form's trigger choice: another kind of trigger gets its own settings (the template's
    test sample carries over), and settings that do not fit it are refused with their field path."""
    url = f"/api/v1/templates/{SLUG}/instantiate"  # made for a CRM data-change trigger
    sample = tenant.get(f"/api/v1/templates/{SLUG}").json()["graph"]["nodes"][0]["config"]["sample"]
    answer = tenant.post(
        url,
        json={
            "name": "Leads every morning",
            "trigger_overrides": {
                "type": "trigger.schedule",
                "config": {"schedules": [{"cron": "0 9 * * 1-5", "timezone": "Europe/Paris"}]},
            },
        },
    )
    assert answer.status_code == 201, answer.text
    start = answer.json()["workflow"]["graph"]["nodes"][0]
    assert start["type"] == "trigger.schedule"
    assert start["config"] == {"schedules": [{"cron": "0 9 * * 1-5", "timezone": "Europe/Paris"}], "sample": sample}
    workflow_id = answer.json()["workflow"]["id"]
    lineage = tenant.get(f"/api/v1/workflows/{workflow_id}").json()["template"]
    assert lineage["slug"] == SLUG

    hooked = tenant.post(
        url,
        json={
            "name": "Leads by webhook",
            "trigger_overrides": {"type": "trigger.webhook", "config": {"auth": "bearer"}},
        },
    )
    assert hooked.status_code == 201, hooked.text
    start = hooked.json()["workflow"]["graph"]["nodes"][0]
    assert (start["type"], start["config"]["auth"]) == ("trigger.webhook", "bearer") and "record_type" not in start[
        "config"
    ]
    manual = tenant.post(url, json={"name": "Leads by hand", "trigger_overrides": {"type": "trigger.manual"}})
    assert manual.status_code == 201, manual.text
    config = manual.json()["workflow"]["graph"]["nodes"][0]["config"]
    assert config["sample"] == sample and set(config) <= {
        "sample",
        "input_schema",
    }  # the schema is made from the sample

    before = len(tenant.get("/api/v1/workflows").json())
    body = problem(
        tenant.post(
            url,
            json={
                "name": "Never",
                "trigger_overrides": {"type": "trigger.schedule", "config": {"schedules": [{"cron": "every day"}]}},
            },
        ),
        422,
        "invalid-graph",
    )
    assert body["errors"][0]["path"].startswith("graph.nodes[0].config.schedules"), body
    body = problem(
        tenant.post(
            url, json={"name": "Never", "trigger_overrides": {"type": "trigger.webhook", "config": {"auth": "x"}}}
        ),
        422,
        "invalid-graph",
    )
    assert body["errors"][0]["path"] == "graph.nodes[0].config.auth", body
    problem(tenant.post(url, json={"name": "Never", "trigger_overrides": {"kind": "webhook"}}), 422, "validation-error")
    assert len(tenant.get("/api/v1/workflows").json()) == before  # nothing made of bad input

    private = tenant.post(  # another workspace's template is not found, whatever the trigger
        "/api/v1/templates",
        json={
            "workflow_id": _workflow(tenant, "Morning source", "Good morning")["id"],
            "title": "Morning leads",
            "description": "Leads, every weekday morning.",
            "category": "sales",
        },
    )
    assert private.status_code == 201, private.text
    problem(
        anonymous.signup().post(
            f"/api/v1/templates/{private.json()['slug']}/instantiate",
            json={"name": "Theirs", "trigger_overrides": {"type": "trigger.manual"}},
        ),
        404,
        "not-found",
    )
