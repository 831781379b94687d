"""Contacts' emails and phone numbers sealed at rest (issue 22), on SQLite and PostgreSQL: the database holds
ciphertext and keyed hashes only, yet the API and the CRM steps still find a contact by an exact email or
phone (through the blind indexes), refuse a second contact with the same email, and upsert rather than
duplicate; rows written before the indexes are found meanwhile and indexed by `backfill_contact_indexes`."""

from __future__ import annotations

import logging
import random
import re
import uuid

from sqlalchemy import select, text

from crm.records import backfill_contact_indexes, contact_index
from flow_factory.nodes.base import StepContext
from store import Outbox
from store.db import get_session_factory
from tests.integrations.test_nodes import run_node

HEX64 = re.compile(r"[0-9a-f]{64}")


def _marker_email() -> str:
    return f"marker-{uuid.uuid4().hex[:10]}@example.com"


def _marker_phone() -> str:
    return "+1415" + "".join(random.choices("0123456789", k=7))


def _spaced(phone: str) -> str:
    """+14155550123 as a person types it: +1 (415) 555-0123."""
    return f"{phone[:2]} ({phone[2:5]}) {phone[5:8]}-{phone[8:]}"


def _tenant_id(api) -> str:
    return api.signup_body["tenant"]["id"]


def _raw(db_url: str, contact_id: str) -> dict:
    """The contact's row as the database holds it: plain SQL, no column type in between."""
    with get_session_factory(db_url)() as db:
        row = db.execute(
            text("SELECT email, phone, email_index, phone_index, properties FROM crm_contacts WHERE id = :id"),
            {"id": contact_id},
        ).one()
    return dict(row._mapping)


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()]


def test_the_row_holds_no_plaintext_email_or_phone(tenant, platform_db_url):
    address, phone = _marker_email(), _marker_phone()
    created = tenant.post(
        "/api/v1/crm/contacts",
        json={"email": address, "phone": _spaced(phone), "properties": {"note": f"reach {address}"}},
    )
    assert created.status_code == 201, created.text
    assert (created.json()["email"], created.json()["phone"]) == (address, phone)  # the API opens them

    raw = _raw(platform_db_url, created.json()["id"])
    assert raw["email"].startswith("fy2.") and raw["phone"].startswith("fy2.")
    assert HEX64.fullmatch(raw["email_index"]) and HEX64.fullmatch(raw["phone_index"])
    dumped = repr(raw).lower()
    for marker in (address, address.split("@")[0], phone, phone[1:]):
        assert marker not in dumped
    assert "email_index" not in created.json()  # the indexes are internal
    assert tenant.get(f"/api/v1/crm/contacts/{created.json()['id']}").json()["email"] == address


def test_contacts_are_found_by_exact_email_and_phone(tenant, anonymous):
    address, phone = _marker_email(), _marker_phone()
    contact = tenant.post(
        "/api/v1/crm/contacts",
        json={"email": address.upper(), "phone": phone, "first_name": "Zoë", "last_name": "Okafor"},
    ).json()
    other = tenant.post("/api/v1/crm/contacts", json={"email": _marker_email(), "first_name": "Ben"}).json()

    def search(**params) -> list[str]:
        return _ids(tenant.get("/api/v1/crm/contacts", params=params))

    assert search(email=f"  {address.title()} ") == [contact["id"]]  # case and blanks do not matter
    assert search(q=address) == [contact["id"]]
    assert search(q=_spaced(phone)) == [contact["id"]]  # the phone as typed: its + and digits
    assert search(q="00" + phone[1:]) == [contact["id"]]  # 00 for +, as a write takes it
    assert search(q="okaf") == [contact["id"]] and search(q="BEN") == [other["id"]]  # names: substring
    assert search(q=address[:12]) == [] and search(q=address[1:]) == []  # email: never part of one
    assert search(q=phone[:-2]) == [] and search(email="nobody@example.com") == []
    assert _ids(anonymous.signup().get("/api/v1/crm/contacts", params={"email": address})) == []  # per tenant


def test_a_second_contact_with_the_email_is_refused(tenant):
    address = _marker_email()
    first = tenant.post("/api/v1/crm/contacts", json={"email": address}).json()
    again = tenant.post("/api/v1/crm/contacts", json={"email": f" {address.upper()} "})
    assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")
    body = again.json()
    assert body["type"].endswith("/conflict") and body["detail"] == f"a contact with email {address} already exists"
    assert body["errors"][0]["path"] == "email" and "upsert" in body["hint"]

    second = tenant.post("/api/v1/crm/contacts", json={"email": _marker_email()}).json()
    moved = tenant.request("PATCH", f"/api/v1/crm/contacts/{second['id']}", json={"email": address})
    assert moved.status_code == 409 and moved.json()["errors"][0]["path"] == "email"
    same = tenant.request("PATCH", f"/api/v1/crm/contacts/{first['id']}", json={"email": address.upper()})
    assert same.status_code == 200  # its own email is no clash
    freed = tenant.request("PATCH", f"/api/v1/crm/contacts/{first['id']}", json={"email": None})
    assert freed.status_code == 200 and freed.json()["email"] is None
    assert tenant.request("PATCH", f"/api/v1/crm/contacts/{second['id']}", json={"email": address}).status_code == 200
    assert _ids(tenant.get("/api/v1/crm/contacts", params={"email": address})) == [second["id"]]


async def test_upsert_by_email_updates_rather_than_duplicates(tenant, integration_env):
    address, phone = _marker_email(), _marker_phone()
    created = tenant.post("/api/v1/crm/contacts/upsert", json={"email": address, "first_name": "Ann"})
    updated = tenant.post("/api/v1/crm/contacts/upsert", json={"email": address.upper(), "last_name": "Lee"})
    assert (created.status_code, updated.status_code) == (201, 200)
    assert updated.json()["id"] == created.json()["id"]

    def ctx(node_id: str) -> StepContext:  # a step of a run of the API's tenant
        return StepContext(str(uuid.uuid4()), _tenant_id(tenant), node_id, "live", logging.getLogger("flowyard.test"))

    step = await run_node("crm.upsert_contact", {"email": f" {address.title()}", "phone": phone}, ctx("upsert"))
    assert step["created"] is False and step["contact"]["id"] == created.json()["id"]
    assert (step["contact"]["first_name"], step["contact"]["last_name"]) == ("Ann", "Lee")
    found = await run_node("crm.find_contact", {"phone": _spaced(phone)}, ctx("find"))
    assert found["found"] and found["contact"]["id"] == created.json()["id"]
    by_email = await run_node("crm.find_contact", {"email": address.upper()}, ctx("find"))
    assert by_email["contact"]["id"] == created.json()["id"]
    assert len(tenant.get("/api/v1/crm/contacts").json()) == 1


def test_backfill_indexes_rows_written_before_them(tenant, platform_db_url):
    tenant_id = _tenant_id(tenant)
    address, phone, legacy_address, legacy_phone = _marker_email(), _marker_phone(), _marker_email(), _marker_phone()
    sealed = tenant.post("/api/v1/crm/contacts", json={"email": address, "phone": phone}).json()
    legacy = tenant.post("/api/v1/crm/contacts", json={"first_name": "Old"}).json()
    indexed = tenant.post("/api/v1/crm/contacts", json={"email": _marker_email()}).json()
    before = _raw(platform_db_url, sealed["id"])
    with get_session_factory(platform_db_url)() as db:  # as before migration 0019 (and payload sealing, for one)
        db.execute(text("UPDATE crm_contacts SET email_index = NULL, phone_index = NULL WHERE id = :id"), sealed)
        db.execute(
            text("UPDATE crm_contacts SET email = :email, phone = :phone WHERE id = :id"),
            {"id": legacy["id"], "email": legacy_address, "phone": legacy_phone},
        )
        db.commit()

    # Meanwhile they are found, and their email is still taken.
    assert _ids(tenant.get("/api/v1/crm/contacts", params={"email": address})) == [sealed["id"]]
    assert _ids(tenant.get("/api/v1/crm/contacts", params={"q": _spaced(legacy_phone)})) == [legacy["id"]]
    assert tenant.post("/api/v1/crm/contacts", json={"email": legacy_address.upper()}).status_code == 409
    upserted = tenant.post("/api/v1/crm/contacts/upsert", json={"email": address, "last_name": "Kept"})
    assert upserted.status_code == 200 and upserted.json()["id"] == sealed["id"]

    with get_session_factory(platform_db_url)() as db:
        counts = [backfill_contact_indexes(db, tenant_id, 1), backfill_contact_indexes(db, tenant_id, 5)]
        db.commit()
        assert counts == [1, 1] and backfill_contact_indexes(db, tenant_id, 5) == 0
        expected = {
            "email_index": contact_index(db, tenant_id, "email", legacy_address),
            "phone_index": contact_index(db, tenant_id, "phone", legacy_phone),
        }
    after = _raw(platform_db_url, sealed["id"])
    assert (after["email_index"], after["phone_index"]) == (before["email_index"], before["phone_index"])
    old = _raw(platform_db_url, legacy["id"])
    assert {name: old[name] for name in expected} == expected and old["email"] == legacy_address  # still plain
    assert _raw(platform_db_url, indexed["id"])["phone_index"] is None  # no phone: nothing to index
    assert _ids(tenant.get("/api/v1/crm/contacts", params={"email": legacy_address})) == [legacy["id"]]
    assert _ids(tenant.get("/api/v1/crm/contacts", params={"q": phone})) == [sealed["id"]]


def test_exact_match_is_documented(tenant):
    document = tenant.http.get("/openapi.json").json()
    parameters = {p["name"]: p for p in document["paths"]["/api/v1/crm/contacts"]["get"]["parameters"]}
    assert "exact" in parameters["q"]["description"] and "never part of one" in parameters["q"]["description"]
    assert "name contains" in parameters["q"]["description"]
    assert "exactly this email" in parameters["email"]["description"]


def test_erasing_a_person_finds_their_sealed_contact_and_notes(tenant, platform_db_url):
    address = _marker_email()
    person = tenant.post("/api/v1/crm/contacts", json={"email": address, "first_name": "Pat"}).json()
    other = tenant.post("/api/v1/crm/contacts", json={"email": _marker_email()}).json()
    note = tenant.post("/api/v1/crm/activities", json={"body": f"Asked {address} to call", "contact_id": other["id"]})
    kept = tenant.post("/api/v1/crm/activities", json={"body": "Nothing personal", "contact_id": other["id"]})
    assert note.status_code == kept.status_code == 201

    erased = tenant.post("/api/v1/privacy/erase", json={"email": address.upper()})

    assert erased.status_code == 200, erased.text
    touched = erased.json()["touched"]
    assert (touched["crm_contacts"], touched["crm_activities"]) == (1, 1) and touched["outbox_snapshots"] >= 2
    assert _ids(tenant.get("/api/v1/crm/contacts")) == [other["id"]]
    assert _ids(tenant.get("/api/v1/crm/activities")) == [kept.json()["id"]]
    with get_session_factory(platform_db_url)() as db:
        snapshots = db.scalars(select(Outbox).where(Outbox.tenant_id == _tenant_id(tenant))).all()
        assert address not in repr([(row.before, row.after) for row in snapshots]).lower()
        assert {row.record_id for row in snapshots if row.before == {"erased": True}} >= {
            person["id"],
            note.json()["id"],
        }
