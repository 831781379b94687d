"""What the CRM screens need from the API (in-process, SQLite and PostgreSQL): search, filters and cursor pages,
the runs that touched a record, CSV import (mapping, bad rows, hostile files) and export (formula escaping),
and another workspace's ids answering 404."""

from __future__ import annotations

import csv
import io
import json
import uuid

import pytest
from sqlalchemy import select, update

from crm import records
from engine.outbox import fan_out
from store import CrmRecordRun, Outbox, TriggerSubscription, Workflow, enqueue_execution, utcnow
from store.db import get_session_factory
from store.sealed import seal_as
from tests.support import Api, edge, graph, node


@pytest.fixture(autouse=True)
def _outbox_left_delivered(request):
    """The in-process API has no dispatcher: the thousands of changes these tests write are marked delivered
    after each test, so that they do not sit before the outbox tests' rows in the same session database."""
    if "tenant" not in request.fixturenames:  # a test on the stack, whose dispatcher delivers them
        yield
        return
    tenant, url = request.getfixturevalue("tenant"), request.getfixturevalue("platform_db_url")
    yield
    with get_session_factory(url)() as db:
        db.execute(
            update(Outbox)
            .where(Outbox.tenant_id == tenant.signup_body["tenant"]["id"], Outbox.dispatched_at.is_(None))
            .values(dispatched_at=utcnow())
        )
        db.commit()


def _email(name: str = "jane") -> str:
    return f"{name}-{uuid.uuid4().hex[:6]}@example.com"


def _import(api, text: str | bytes, columns: list[str | None], name: str = "contacts.csv"):
    data = text.encode() if isinstance(text, str) else text
    return api.post(
        "/api/v1/crm/contacts/import",
        files={"file": (name, data, "text/csv")},
        data={"columns": json.dumps(columns)},
    )


def _progress(response) -> list[dict]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def test_search_filters_and_cursor_pages(tenant):
    globex = tenant.post("/api/v1/crm/companies", json={"name": "Globex"}).json()
    initech = tenant.post("/api/v1/crm/companies", json={"name": "Initech"}).json()
    for n in range(7):
        body = {"email": _email(f"p{n}"), "first_name": f"Pat{n}", "last_name": "Lee" if n % 2 else "Kim"}
        body |= {"company_id": globex["id"] if n < 4 else initech["id"], "tags": ["vip"] if n % 3 == 0 else []}
        assert tenant.post("/api/v1/crm/contacts", json=body).status_code == 201

    pages, cursor = [], None
    while True:
        response = tenant.get("/api/v1/crm/contacts", params={"limit": 3, **({"cursor": cursor} if cursor else {})})
        pages.append([c["first_name"] for c in response.json()])
        cursor = response.headers.get("X-Next-Cursor")
        if not cursor:
            break
    assert [len(p) for p in pages] == [3, 3, 1]
    assert sorted(sum(pages, [])) == [f"Pat{n}" for n in range(7)]  # every contact once, newest first
    assert pages[0][0] == "Pat6"

    by_tag = tenant.get("/api/v1/crm/contacts", params={"tag": "VIP"}).json()
    assert sorted(c["first_name"] for c in by_tag) == ["Pat0", "Pat3", "Pat6"]
    both = tenant.get("/api/v1/crm/contacts", params={"tag": "vip", "company_id": globex["id"], "q": "lee"}).json()
    assert [c["first_name"] for c in both] == ["Pat3"]
    assert tenant.get("/api/v1/crm/companies", params={"q": "glob"}).json()[0]["id"] == globex["id"]

    deal = tenant.post("/api/v1/crm/deals", json={"title": "Globex renewal", "company_id": globex["id"]}).json()
    tenant.post("/api/v1/crm/deals", json={"title": "Initech pilot", "company_id": initech["id"], "stage": "won"})
    assert [d["id"] for d in tenant.get("/api/v1/crm/deals", params={"company_id": globex["id"]}).json()] == [
        deal["id"]
    ]
    assert [d["title"] for d in tenant.get("/api/v1/crm/deals", params={"stage": "won"}).json()] == ["Initech pilot"]
    note = tenant.post("/api/v1/crm/activities", json={"body": "Met at the fair", "company_id": globex["id"]})
    assert note.status_code == 201
    activities = tenant.get("/api/v1/crm/activities", params={"company_id": globex["id"]}).json()
    assert [a["body"] for a in activities] == ["Met at the fair"]


def test_a_record_lists_the_runs_that_wrote_it_and_that_its_changes_started(tenant, anonymous, platform_db_url):
    workflow = tenant.post(
        "/api/v1/workflows",
        json={
            "name": f"Deal watcher {uuid.uuid4().hex[:6]}",
            "graph": {"nodes": [], "edges": []},
            "allow_invalid": True,
        },
    ).json()
    deal = tenant.post("/api/v1/crm/deals", json={"title": "Acme", "amount": 900}).json()
    tenant_id = tenant.signup_body["tenant"]["id"]
    sessions = get_session_factory(platform_db_url)
    with sessions() as db:  # a step of a run moves the deal, as blocks.crm_actions does
        seal_as(db, tenant_id)
        row = db.get(Workflow, workflow["id"])
        row.published_version, row.deployment_id = 1, str(uuid.uuid4())  # as if published
        db.add(
            TriggerSubscription(
                tenant_id=tenant_id,
                workflow_id=row.id,
                topic="crm.deal.updated",
                config={"record_type": "deal", "event": "field_changed", "field": "stage", "to": "won"},
            )
        )
        execution, _ = enqueue_execution(
            db, workflow=row, version=1, mode="test", deployment_id=row.deployment_id, input={}, trigger="manual"
        )
        records.for_run(db, execution_id=execution.id, node_id="move", action="crm.move_deal_stage")
        stored = records.get(db, tenant_id, "deal", deal["id"])
        records.write(
            db, tenant_id=tenant_id, record_type="deal", op="update", record=stored, values={"stage": "proposal"}
        )
        db.commit()
        written_by = execution.id
    assert tenant.request("PATCH", f"/api/v1/crm/deals/{deal['id']}", json={"stage": "won"}).status_code == 200
    with sessions() as db:  # other tests' changes may wait before this one: deliver until it is linked
        for _ in range(100):
            fan_out(db)
            if db.scalar(
                select(CrmRecordRun.id).where(
                    CrmRecordRun.relation == "triggered", CrmRecordRun.record_id == deal["id"]
                )
            ):
                break

    runs = tenant.get(f"/api/v1/crm/deals/{deal['id']}/runs").json()
    assert [(r["relation"], r["action"]) for r in runs] == [
        ("triggered", "trigger.data_change"),
        ("wrote", "crm.move_deal_stage"),
    ]
    assert runs[1]["run_id"] == written_by and runs[1]["node_id"] == "move" and runs[1]["mode"] == "test"
    assert runs[0]["workflow_name"] == workflow["name"] and runs[0]["status"] == "pending"
    assert tenant.get(f"/api/v1/runs/{runs[0]['run_id']}").status_code == 200  # the link the page opens

    mallory = anonymous.signup()
    assert mallory.get(f"/api/v1/crm/deals/{deal['id']}/runs").status_code == 404
    assert tenant.get(f"/api/v1/crm/contacts/{deal['id']}/runs").status_code == 404  # a deal's id is no contact's


def test_import_maps_columns_keeps_good_rows_and_reports_bad_ones(tenant):
    known = _email("known")
    tenant.post("/api/v1/crm/contacts", json={"email": known, "first_name": "Old", "properties": {"tier": "gold"}})
    text = (
        "E-mail;First name;Surname;Mobile;Company;Tags;Plan;Notes\n"
        f"{_email('a')};Ann;Able;+1 415 555 0101;Globex;vip|lead;pro;skip me\n"
        "not-an-email;Bob;Bad;;;;;\n"
        f"{known.upper()};New;Name;;Globex;;basic;\n"
        '"x@";"Multi\nline";Quote;;;;;\n'
        f"{_email('c')};Cy;Call;call me;Initech;;;\n"
        f"{_email('d')};'=Dee;Dash;;;;;\n"
    )
    preview = tenant.post(
        "/api/v1/crm/contacts/import/preview", files={"file": ("c.csv", text.encode(), "text/csv")}
    ).json()
    assert preview["headers"][:3] == ["E-mail", "First name", "Surname"] and preview["delimiter"] == ";"
    assert preview["total_rows"] == 6 and preview["rows"][0][1] == "Ann"
    assert preview["suggested"] == ["email", "first_name", "last_name", "phone", "company", "tags", None, None]

    columns = [*preview["suggested"][:6], "properties.plan", None]
    lines = _progress(_import(tenant, text, columns))
    last = lines[-1]
    assert last["done"] and (last["processed"], last["total"]) == (6, 6)
    assert (last["created"], last["updated"], last["failed"]) == (2, 1, 3)
    errors = [e for line in lines for e in line["errors"]]
    assert [(e["line"], e["field"]) for e in errors] == [(3, "email"), (5, "email"), (7, "phone")]
    assert "+14155550123" in errors[2]["hint"]

    ann = tenant.get("/api/v1/crm/contacts", params={"q": "ann"}).json()[0]
    assert ann["phone"] == "+14155550101" and ann["tags"] == ["lead", "vip"] and ann["properties"] == {"plan": "pro"}
    globex = tenant.get("/api/v1/crm/companies", params={"q": "globex"}).json()
    assert len(globex) == 1 and ann["company_id"] == globex[0]["id"]  # one company, found by name
    updated = tenant.get("/api/v1/crm/contacts", params={"email": known}).json()[0]
    assert updated["first_name"] == "New" and updated["properties"] == {"tier": "gold", "plan": "basic"}
    assert tenant.get("/api/v1/crm/contacts", params={"q": "dee"}).json()[0]["first_name"] == "=Dee"  # ' taken off
    assert tenant.get("/api/v1/crm/contacts", params={"q": "initech"}).json() == []  # Cy's row was rolled back
    assert tenant.get("/api/v1/crm/companies", params={"q": "initech"}).json() == []  # and its company too


def test_a_thousand_rows_import_in_chunks(tenant):
    rows = "\n".join(f"{_email(f'bulk{n}')},Bulk{n},Row" for n in range(1000))
    lines = _progress(_import(tenant, "email,first,last\n" + rows + "\n", ["email", "first_name", "last_name"]))
    assert [line["processed"] for line in lines] == list(range(100, 1001, 100))
    assert lines[-1]["created"] == 1000 and lines[-1]["failed"] == 0
    first_page = tenant.get("/api/v1/crm/contacts", params={"q": "bulk", "limit": 200})
    assert len(first_page.json()) == 200 and first_page.headers.get("X-Next-Cursor")


def test_hostile_files_are_refused_with_problems(tenant):
    big = tenant.post(
        "/api/v1/crm/contacts/import/preview",
        files={"file": ("big.csv", b"email\n" + b"a@example.com\n" * 80_000, "text/csv")},
    )
    assert big.status_code == 413 and big.headers["content-type"].startswith("application/problem+json")
    latin1 = "email,first\njos\xe9@example.com,Jos\xe9\n".encode("latin-1")
    bad = tenant.post("/api/v1/crm/contacts/import/preview", files={"file": ("l.csv", latin1, "text/csv")})
    assert bad.status_code == 422 and "line 2" in bad.json()["detail"] and "UTF-8" in bad.json()["hint"]
    assert bad.json()["errors"][0]["path"] == "file"
    binary = tenant.post(
        "/api/v1/crm/contacts/import/preview", files={"file": ("x.csv", b"\x89PNG\x00\x00", "image/png")}
    )
    assert binary.status_code == 422 and "not a text CSV" in binary.json()["detail"]
    utf16 = tenant.post(
        "/api/v1/crm/contacts/import/preview",
        files={"file": ("u.csv", "email,first\nzoë@example.com,Zoë\n".encode("utf-16"), "text/csv")},
    )
    assert utf16.status_code == 200 and utf16.json()["rows"] == [["zoë@example.com", "Zoë"]]
    many = "email\n" + "".join(f"r{n}@example.com\n" for n in range(10_001))
    assert (
        tenant.post(
            "/api/v1/crm/contacts/import/preview", files={"file": ("m.csv", many.encode(), "text/csv")}
        ).status_code
        == 413
    )
    wrong = _import(tenant, "email,first\na@example.com,A\n", ["email", "password"])
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["path"] == "columns"
    short = _import(tenant, "email,first\na@example.com,A\n", ["email"])
    assert short.status_code == 422 and "one target per column" in short.json()["detail"]
    nothing = _import(tenant, "email,first\na@example.com,A\n", [None, "properties.first"])
    assert nothing.status_code == 422
    assert tenant.get("/api/v1/crm/contacts", params={"email": "a@example.com"}).json() == []


def test_export_escapes_formulas_and_follows_the_filter(tenant):
    company = tenant.post("/api/v1/crm/companies", json={"name": '=HYPERLINK("http://evil")'}).json()
    tenant.post(
        "/api/v1/crm/contacts",
        json={
            "email": _email("x"),
            "first_name": "=1+2",
            "last_name": "@SUM(A1)",
            "phone": "+14155550123",
            "company_id": company["id"],
            "tags": ["export"],
            "properties": {"note": "-cmd|' /C calc'!A0", "score": 7},
        },
    )
    tenant.post("/api/v1/crm/contacts", json={"email": _email("y"), "first_name": "Plain", "tags": ["other"]})
    response = tenant.get("/api/v1/crm/contacts/export", params={"tag": "export"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 1
    (row,) = rows
    assert row["first_name"] == "'=1+2" and row["last_name"] == "'@SUM(A1)" and row["phone"] == "'+14155550123"
    assert row["company"] == '\'=HYPERLINK("http://evil")' and row["properties.note"].startswith("'-cmd")
    assert row["properties.score"] == "7" and row["tags"] == "export"

    # the file imports back unchanged: the ' is taken off again
    columns = [None, "email", "first_name", "last_name", "phone", None, "tags", None, None, None, None]
    tenant.delete(f"/api/v1/crm/contacts/{row['id']}")
    assert _progress(_import(tenant, response.text, columns))[-1]["created"] == 1
    back = tenant.get("/api/v1/crm/contacts", params={"tag": "export"}).json()[0]
    assert (back["first_name"], back["last_name"], back["phone"]) == ("=1+2", "@SUM(A1)", "+14155550123")


def test_other_workspaces_ids_are_404(tenant, anonymous):
    contact = tenant.post("/api/v1/crm/contacts", json={"email": _email(), "tags": ["secret"]}).json()
    company = tenant.post("/api/v1/crm/companies", json={"name": "Hidden Inc"}).json()
    deal = tenant.post("/api/v1/crm/deals", json={"title": "Hidden deal"}).json()
    mallory = anonymous.signup()
    assert mallory.get(f"/api/v1/crm/contacts/{contact['id']}/runs").status_code == 404
    assert mallory.get(f"/api/v1/crm/companies/{company['id']}/runs").status_code == 404
    assert mallory.request("PATCH", f"/api/v1/crm/deals/{deal['id']}", json={"stage": "won"}).status_code == 404
    assert mallory.get("/api/v1/crm/contacts/export", params={"tag": "secret"}).text.count("\n") == 1  # header only
    assert mallory.get("/api/v1/crm/contacts", params={"company_id": company["id"]}).json() == []
    assert mallory.get("/api/v1/crm/deals", params={"company_id": company["id"]}).json() == []
    assert tenant.get(f"/api/v1/crm/deals/{deal['id']}").json()["stage"] == "lead"


def test_a_crm_step_links_its_run_to_the_records_it_wrote(stack):
    """On `flowyard up`: a published workflow's CRM steps write a contact and an activity about it; the contact's
    page lists the run twice (each step that wrote it), and the link opens the run."""
    api = Api(stack.api_url).signup()
    flow = graph(
        [
            node("start", "trigger.manual"),
            node("upsert", "crm.upsert_contact", {"email": "{{ trigger.email }}", "first_name": "{{ trigger.name }}"}),
            node("note", "crm.log_activity", {"contact": "{{ trigger.email }}", "body": "Signed up"}),
        ],
        [edge("start", "upsert"), edge("upsert", "note")],
    )
    workflow = api.post("/api/v1/workflows", json={"name": f"Sign-up {uuid.uuid4().hex[:6]}", "graph": flow}).json()
    assert api.post(f"/api/v1/workflows/{workflow['id']}/publish").status_code == 200
    address = _email("signup")
    started = api.post(
        f"/api/v1/workflows/{workflow['id']}/runs", json={"input": {"email": address, "name": "Sam"}, "mode": "live"}
    )
    run = api.wait_for_run(started.json()["run_id"])
    assert run["status"] == "completed", run
    (contact,) = api.get("/api/v1/crm/contacts", params={"email": address}).json()
    links = api.get(f"/api/v1/crm/contacts/{contact['id']}/runs").json()
    assert [(link["action"], link["node_id"], link["relation"]) for link in links] == [
        ("crm.log_activity", "note", "wrote"),
        ("crm.upsert_contact", "upsert", "wrote"),
    ]
    assert {link["run_id"] for link in links} == {run["id"]} and links[0]["workflow_name"] == workflow["name"]
    assert links[0]["status"] == "completed" and links[0]["mode"] == "live"
