"""The CRM REST API (in-process, SQLite and PostgreSQL): records, checks, tenant isolation, and the
outbox row that every change writes in its own transaction."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from store import Outbox
from store.db import get_session_factory


def outbox(db_url: str, record_id: str) -> list[Outbox]:
    with get_session_factory(db_url)() as db:
        return list(db.scalars(select(Outbox).where(Outbox.record_id == record_id).order_by(Outbox.created_at)))


def email() -> str:
    return f"jane-{uuid.uuid4().hex[:6]}@example.com"


def test_contact_lifecycle_writes_the_outbox(tenant, platform_db_url):
    address = email()
    created = tenant.post(
        "/api/v1/crm/contacts",
        json={"email": address.upper(), "first_name": "Jane", "phone": "+1 415 555 0123", "tags": ["VIP", "lead"]},
    )
    assert created.status_code == 201, created.text
    contact = created.json()
    assert contact["email"] == address and contact["phone"] == "+14155550123" and contact["tags"] == ["lead", "vip"]

    updated = tenant.request("PATCH", f"/api/v1/crm/contacts/{contact['id']}", json={"last_name": "Doe"}).json()
    assert updated["last_name"] == "Doe" and updated["first_name"] == "Jane"
    unchanged = tenant.request("PATCH", f"/api/v1/crm/contacts/{contact['id']}", json={"last_name": "Doe"})
    assert unchanged.status_code == 200
    tagged = tenant.post(f"/api/v1/crm/contacts/{contact['id']}/tags", json={"name": "Customer"}).json()
    assert tagged["tags"] == ["customer", "lead", "vip"]
    assert tenant.delete(f"/api/v1/crm/contacts/{contact['id']}/tags/lead").json()["tags"] == ["customer", "vip"]
    assert tenant.get("/api/v1/crm/contacts", params={"tag": "vip", "email": address}).json()[0]["id"] == contact["id"]
    assert tenant.get("/api/v1/crm/contacts", params={"q": address.upper()}).json()[0]["id"] == contact["id"]
    assert tenant.get("/api/v1/crm/contacts", params={"q": "AN"}).json()[0]["id"] == contact["id"]  # Jane
    assert tenant.get("/api/v1/crm/contacts", params={"q": address[:8]}).json() == []  # email: exact match only
    assert tenant.delete(f"/api/v1/crm/contacts/{contact['id']}").status_code == 204
    assert tenant.get(f"/api/v1/crm/contacts/{contact['id']}").status_code == 404

    rows = outbox(platform_db_url, contact["id"])
    assert [r.topic for r in rows] == [
        "crm.contact.created",
        "crm.contact.updated",
        "crm.contact.updated",
        "crm.contact.updated",
        "crm.contact.deleted",
    ]  # the no-op PATCH wrote none
    assert rows[0].before is None and rows[0].after["tags"] == ["lead", "vip"]
    assert rows[1].before["last_name"] == "" and rows[1].after["last_name"] == "Doe"
    assert rows[-1].after is None and rows[-1].before["email"] == address
    assert all(r.tenant_id == tenant.signup_body["tenant"]["id"] and r.dispatched_at is None for r in rows)


def test_upsert_by_email(tenant):
    address = email()
    first = tenant.post("/api/v1/crm/contacts/upsert", json={"email": address, "first_name": "Ann"})
    second = tenant.post("/api/v1/crm/contacts/upsert", json={"email": address, "last_name": "Lee"})
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["id"] == first.json()["id"] and second.json()["first_name"] == "Ann"


def test_deals_stages_and_activities(tenant, platform_db_url):
    contact = tenant.post("/api/v1/crm/contacts", json={"email": email()}).json()
    company = tenant.post("/api/v1/crm/companies", json={"name": "Globex", "domain": "Globex.com"}).json()
    assert company["domain"] == "globex.com"
    deal = tenant.post(
        "/api/v1/crm/deals",
        json={"title": "Redesign", "amount": 4800.5, "contact_id": contact["id"], "company_id": company["id"]},
    ).json()
    assert deal["stage"] == "lead" and deal["amount"] == 4800.5 and deal["closed_at"] is None
    won = tenant.request("PATCH", f"/api/v1/crm/deals/{deal['id']}", json={"stage": "won"}).json()
    assert won["stage"] == "won" and won["closed_at"]
    assert tenant.get("/api/v1/crm/deals", params={"stage": "won"}).json()[0]["id"] == deal["id"]
    assert tenant.get("/api/v1/crm/deal-stages").json() == [
        "lead",
        "qualified",
        "proposal",
        "negotiation",
        "won",
        "lost",
    ]
    note = tenant.post(
        "/api/v1/crm/activities",
        json={"kind": "call", "body": "Discussed scope", "contact_id": contact["id"], "deal_id": deal["id"]},
    )
    assert note.status_code == 201
    assert (
        tenant.get("/api/v1/crm/activities", params={"contact_id": contact["id"]}).json()[0]["body"]
        == "Discussed scope"
    )
    moved = outbox(platform_db_url, deal["id"])[-1]
    assert moved.topic == "crm.deal.updated" and (moved.before["stage"], moved.after["stage"]) == ("lead", "won")


def test_bad_input_is_refused_with_the_field_and_a_hint(tenant):
    bad_email = tenant.post("/api/v1/crm/contacts", json={"email": "jane@"})
    assert bad_email.status_code == 422 and bad_email.headers["content-type"].startswith("application/problem+json")
    assert bad_email.json()["errors"][0]["path"] == "email" and "valid email" in bad_email.json()["detail"]
    bad_phone = tenant.post("/api/v1/crm/contacts", json={"phone": "call me"}).json()
    assert bad_phone["errors"][0]["path"] == "phone" and "+14155550123" in bad_phone["hint"]
    address = email()
    tenant.post("/api/v1/crm/contacts", json={"email": address})
    taken = tenant.post("/api/v1/crm/contacts", json={"email": address})
    assert taken.status_code == 409 and "already exists" in taken.json()["detail"]
    stage = tenant.post("/api/v1/crm/deals", json={"title": "x", "stage": "closed"})
    assert stage.status_code == 422 and stage.json()["errors"][0]["path"] == "stage"
    ghost = tenant.post("/api/v1/crm/deals", json={"title": "x", "contact_id": str(uuid.uuid4())})
    assert ghost.status_code == 422 and "no contact with id" in ghost.json()["detail"]


def test_other_tenants_records_are_invisible(tenant, anonymous):
    contact = tenant.post("/api/v1/crm/contacts", json={"email": email()}).json()
    mallory = anonymous.signup()
    for method, path in [
        ("GET", f"/api/v1/crm/contacts/{contact['id']}"),
        ("DELETE", f"/api/v1/crm/contacts/{contact['id']}"),
        ("PATCH", f"/api/v1/crm/contacts/{contact['id']}"),
    ]:
        assert mallory.request(method, path, json={} if method == "PATCH" else None).status_code == 404
    assert mallory.get("/api/v1/crm/contacts").json() == []
    stolen = mallory.post("/api/v1/crm/deals", json={"title": "x", "contact_id": contact["id"]})
    assert stolen.status_code == 422  # another tenant's contact does not exist here


def test_viewers_read_but_do_not_write(tenant):
    viewer_key = tenant.post("/api/v1/api-keys", json={"name": "ro", "role": "viewer"}).json()["key"]
    headers = {"Authorization": f"Bearer {viewer_key}"}
    assert tenant.http.get("/api/v1/crm/contacts", headers=headers).status_code == 200
    refused = tenant.http.post("/api/v1/crm/contacts", json={"email": email()}, headers=headers)
    assert refused.status_code == 403
