"""Privacy through the public API on SQLite and PostgreSQL: exporting everything a workspace owns, erasing
one person everywhere, deleting the workspace (its data key with it), and who may do each."""

from __future__ import annotations

import dataclasses
import io
import json
import time
import uuid
import zipfile
from typing import Any

import pytest
from sqlalchemy import select

from blocks.crypto import DecryptionError, tenant_cipher
from store import AuditEvent, Base, Connection, Execution, StepResult, TenantKey, Workflow
from store.db import get_session_factory
from tests.conftest import InProcessApi

KINDS = {
    "workflows",
    "runs",
    "crm_companies",
    "crm_contacts",
    "crm_tags",
    "crm_deals",
    "crm_activities",
    "templates",
    "connections",
    "audit",
}


def _problem(response, status: int, type_suffix: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"].endswith(type_suffix), body
    return body


def _email() -> str:
    return f"person-{uuid.uuid4().hex[:8]}@example.com"


def _tenant_id(api: InProcessApi) -> str:
    return api.signup_body["tenant"]["id"]


def _add_run(db_url: str, tenant_id: str, workflow_id: str, email: str, status: str = "completed") -> str:
    """A finished execution that carried `email` in its input and its steps (as the interpreter writes them)."""
    with get_session_factory(db_url)() as db:
        execution = Execution(
            tenant_id=tenant_id,
            workflow_id=workflow_id,
            version=1,
            mode="live",
            deployment_id=str(uuid.uuid4()),
            status=status,
            input={"email": email, "name": "Pat"},
            trigger="webhook",
        )
        db.add(execution)
        db.flush()
        for node_id, output in (("start", {"email": email}), ("say", {"message": f"hi {email}"})):
            db.add(
                StepResult(
                    tenant_id=tenant_id,
                    execution_id=execution.id,
                    node_id=node_id,
                    status="completed",
                    input={"trigger": {"email": email}},
                    output=output,
                )
            )
        db.commit()
        return execution.id


def _seed(api: InProcessApi, db_url: str, graph: dict, email: str, *, connection: bool = True) -> dict[str, str]:
    """One of each kind the workspace owns, through the API where it needs no workflow engine."""
    workflow = api.post("/api/v1/workflows", json={"name": f"Welcome {uuid.uuid4().hex[:6]}", "graph": graph}).json()
    assert api.put(f"/api/v1/workflows/{workflow['id']}", json={"graph": graph}).status_code == 200
    company = api.post("/api/v1/crm/companies", json={"name": "Pat's Bakery"}).json()
    contact = api.post(
        "/api/v1/crm/contacts",
        json={"email": email, "first_name": "Pat", "company_id": company["id"], "tags": ["vip"]},
    )
    assert contact.status_code == 201, contact.text
    contact_id = contact.json()["id"]
    assert api.post("/api/v1/crm/deals", json={"title": "Cakes", "contact_id": contact_id}).status_code == 201
    note = {"body": f"Called {email} about cakes", "contact_id": contact_id}
    assert api.post("/api/v1/crm/activities", json=note).status_code == 201
    template = api.post(
        "/api/v1/templates",
        json={
            "workflow_id": workflow["id"],
            "title": "Our welcome",
            "description": "Greets every new lead.",
            "category": "marketing",
        },
    )
    assert template.status_code == 201, template.text
    if connection:
        _add_connection(db_url, _tenant_id(api))
    run_id = _add_run(db_url, _tenant_id(api), workflow["id"], email)
    return {"workflow_id": workflow["id"], "contact_id": contact_id, "run_id": run_id}


def _add_connection(db_url: str, tenant_id: str) -> None:
    """A connection's row (its secrets would be in a Prefect block, which these tests have no engine for)."""
    with get_session_factory(db_url)() as db:
        db.add(
            Connection(
                tenant_id=tenant_id,
                type="sendgrid",
                name="Mail",
                block_name=f"t-x-sendgrid-{uuid.uuid4().hex[:8]}",
                config={"from_email": "shop@example.com"},
                secrets_set={"api_key": True},
            )
        )
        db.commit()


def _finished_export(api: InProcessApi, export_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = api.get(f"/api/v1/privacy/exports/{export_id}").json()
        if status["status"] != "running":
            return status
        time.sleep(0.2)
    raise AssertionError(f"export {export_id} still running: {status}")


def _bundle(api: InProcessApi) -> dict[str, list[dict[str, Any]]]:
    started = api.post("/api/v1/privacy/export")
    assert started.status_code == 202, started.text
    assert started.json()["total"] == len(KINDS)
    status = _finished_export(api, started.json()["id"])
    assert status["status"] == "completed" and status["done"] == status["total"] == len(KINDS)
    download = api.get(status["download_url"])
    assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
    assert "attachment" in download.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(download.content)) as bundle:
        files = {name.removesuffix(".jsonl"): bundle.read(name).decode() for name in bundle.namelist()}
    manifest = json.loads(files.pop("manifest.json"))
    assert manifest["tenant"]["id"] == _tenant_id(api)
    return {kind: [json.loads(line) for line in text.splitlines()] for kind, text in files.items()}


def test_export_bundle_holds_every_kind_and_no_secret(anonymous, platform_db_url, minimal_graph):
    owner, other = anonymous.signup(), anonymous.signup()
    email, others_email = _email(), _email()
    seeded = _seed(owner, platform_db_url, minimal_graph, email)
    assert other.post("/api/v1/crm/contacts", json={"email": others_email}).status_code == 201
    api_key = owner.post("/api/v1/api-keys", json={"name": "CI", "role": "editor"}).json()["key"]

    bundle = _bundle(owner)

    assert set(bundle) == KINDS
    assert all(bundle[kind] for kind in KINDS), {kind: len(rows) for kind, rows in bundle.items()}
    (workflow,) = bundle["workflows"]
    assert workflow["id"] == seeded["workflow_id"] and [v["version"] for v in workflow["versions"]] == [1, 2]
    (run,) = bundle["runs"]
    assert run["id"] == seeded["run_id"] and {s["node_id"] for s in run["steps"]} == {"start", "say"}
    assert [c["email"] for c in bundle["crm_contacts"]] == [email]
    assert bundle["templates"][0]["title"] == "Our welcome" and bundle["templates"][0]["versions"]
    (connection,) = bundle["connections"]
    assert connection["name"] == "Mail" and connection["secrets_set"] == {"api_key": True}
    assert "block_name" not in connection
    assert any(event["action"] == "privacy.exported" for event in bundle["audit"])

    text = json.dumps(bundle)
    assert others_email not in text  # another workspace's data stays out
    with get_session_factory(platform_db_url)() as db:
        secrets = [owner.token, api_key, *db.scalars(select(TenantKey.wrapped_key))]
    assert not [secret for secret in secrets if secret and secret in text]
    assert "password_hash" not in text and "secret_hash" not in text


def test_an_export_is_the_owners_alone(anonymous, platform_db_url, minimal_graph):
    owner, stranger = anonymous.signup(), anonymous.signup()
    export_id = owner.post("/api/v1/privacy/export").json()["id"]
    _problem(stranger.get(f"/api/v1/privacy/exports/{export_id}"), 404, "/not-found")
    _problem(stranger.get(f"/api/v1/privacy/exports/{export_id}/download"), 404, "/not-found")
    assert _finished_export(owner, export_id)["status"] == "completed"
    assert [e["id"] for e in owner.get("/api/v1/privacy/exports").json()] == [export_id]
    assert stranger.get("/api/v1/privacy/exports").json() == []


def _rows_of_tenant(db_url: str, tenant_id: str) -> str:
    """Every row of the platform database that belongs to the tenant, and every row of tables that belong to
    no tenant, as text: what someone holding the database would read."""
    dumped = []
    with get_session_factory(db_url)() as db:
        for table in Base.metadata.sorted_tables:
            query = select(table)
            if "tenant_id" in table.c:
                query = query.where(table.c.tenant_id == tenant_id)
            dumped += [repr(tuple(row)) for row in db.execute(query)]
    return "\n".join(dumped).lower()


def test_an_erased_email_is_found_nowhere(anonymous, platform_db_url, minimal_graph):
    owner, other = anonymous.signup(), anonymous.signup()
    email, kept_email = _email(), _email()
    seeded = _seed(owner, platform_db_url, minimal_graph, email)
    kept_run = _add_run(platform_db_url, _tenant_id(owner), seeded["workflow_id"], kept_email)
    waiting_run = _add_run(platform_db_url, _tenant_id(owner), seeded["workflow_id"], email, status="waiting")
    assert owner.post("/api/v1/crm/contacts", json={"email": kept_email}).status_code == 201
    assert other.post("/api/v1/crm/contacts", json={"email": email}).status_code == 201  # another controller's
    assert email in _rows_of_tenant(platform_db_url, _tenant_id(owner))

    erased = owner.post("/api/v1/privacy/erase", json={"email": email.upper()})

    assert erased.status_code == 200, erased.text
    touched = erased.json()["touched"]
    assert touched["crm_contacts"] == 1 and touched["executions"] == 2 and touched["step_results"] == 4
    assert touched["crm_activities"] == 1 and touched["outbox_snapshots"] >= 1
    assert touched["prefect_flow_runs"] == 0  # this run never reached the engine
    reads = [
        owner.get("/api/v1/crm/contacts"),
        owner.get("/api/v1/crm/activities"),
        owner.get("/api/v1/runs"),
        owner.get(f"/api/v1/runs/{seeded['run_id']}"),
        owner.get("/api/v1/audit"),
    ]
    assert all(read.status_code == 200 for read in reads), [read.text for read in reads]
    assert not [read.url for read in reads if email in read.text.lower()]
    assert email not in _rows_of_tenant(platform_db_url, _tenant_id(owner))

    run = owner.get(f"/api/v1/runs/{seeded['run_id']}").json()
    assert run["status"] == "completed" and [s["output"] for s in run["steps"]] == [None, None]
    assert owner.get(f"/api/v1/runs/{waiting_run}").json()["status"] == "cancelled"  # not to go on without its input
    assert kept_email in owner.get(f"/api/v1/runs/{kept_run}").text  # someone else's run is untouched
    assert [c["email"] for c in owner.get("/api/v1/crm/contacts").json()] == [kept_email]
    assert [c["email"] for c in other.get("/api/v1/crm/contacts").json()] == [email]
    (event,) = owner.get("/api/v1/audit", params={"action": "privacy.erased"}).json()
    assert event["detail"]["touched"]["crm_contacts"] == 1 and email not in json.dumps(event).lower()


def test_erasing_needs_an_email_address(tenant):
    body = _problem(tenant.post("/api/v1/privacy/erase", json={"email": "not an address"}), 422, "/validation-error")
    assert body["errors"][0]["path"] == "email"


def _delete_workspace(api: InProcessApi, body: Any):
    return api.request("DELETE", "/api/v1/tenant", json=body)


def test_deleting_a_workspace_needs_its_slug_typed(tenant):
    for body in ({"confirm": "something else"}, {}):
        problem = _problem(_delete_workspace(tenant, body), 422, "/validation-error")
        assert problem["errors"][0]["path"] == "confirm"
    assert tenant.get("/api/v1/tenant").status_code == 200


def test_a_deleted_workspace_leaves_nothing_and_its_secrets_never_open(
    anonymous, api_app, platform_db_url, minimal_graph
):
    owner, other = anonymous.signup(), anonymous.signup()
    tenant_id, slug = _tenant_id(owner), owner.signup_body["tenant"]["slug"]
    _seed(owner, platform_db_url, minimal_graph, _email(), connection=False)
    assert other.post("/api/v1/crm/contacts", json={"email": "kept@example.com"}).status_code == 201
    master_key = api_app.app.state.settings.master_key.get_secret_value()
    with get_session_factory(platform_db_url)() as db:
        sealed = tenant_cipher(db, tenant_id, master_key=master_key).seal("sk-live-123", context="backup")
        db.commit()  # a sealed secret, as a stolen backup of a block would hold it

    assert _delete_workspace(owner, {"confirm": slug}).status_code == 204

    _problem(owner.get("/api/v1/workflows"), 401, "/unauthorized")
    _problem(anonymous.http.post("/api/v1/auth/login", json=_login(owner)), 401, "/invalid-credentials")
    with get_session_factory(platform_db_url)() as db:
        leftovers = [
            f"{table.name}: {count}"
            for table in Base.metadata.sorted_tables
            if "tenant_id" in table.c
            and (count := len(db.execute(select(table).where(table.c.tenant_id == tenant_id)).all()))
        ]
        assert leftovers == []
        assert db.scalar(select(Workflow.id).where(Workflow.tenant_id == tenant_id)) is None
        other_tenants = list(db.scalars(select(TenantKey.tenant_id).distinct()))
        for key_owner in other_tenants:  # every data key left in the database, with the master key in hand
            try:
                opened = tenant_cipher(db, key_owner, master_key=master_key)
            except DecryptionError:  # another test's workspace, under a master key of its own
                continue
            cipher = dataclasses.replace(opened, tenant_id=tenant_id)
            with pytest.raises(DecryptionError):
                cipher.unseal(sealed, context="backup")
        recorded = db.scalars(
            select(AuditEvent).where(AuditEvent.tenant_id.is_(None), AuditEvent.target == f"tenant:{tenant_id}")
        ).all()
        assert [event.action for event in recorded] == ["tenant.deleted"]
    assert [c["email"] for c in other.get("/api/v1/crm/contacts").json()] == ["kept@example.com"]


def test_a_workspace_with_engine_objects_is_kept_while_the_engine_is_down(tenant, platform_db_url):
    _add_connection(platform_db_url, _tenant_id(tenant))  # its block lives in Prefect, unreachable here
    problem = _problem(
        _delete_workspace(tenant, {"confirm": tenant.signup_body["tenant"]["slug"]}), 503, "/engine-unavailable"
    )
    assert "nothing was changed" in problem["detail"] and problem["hint"]
    assert tenant.get("/api/v1/connections").json() and tenant.get("/api/v1/tenant").status_code == 200


def _login(api: InProcessApi) -> dict[str, str]:
    return {"email": api.signup_body["user"]["email"], "password": "correct horse battery"}


@pytest.mark.parametrize("role", ["viewer", "editor", "admin"])
def test_only_an_owner_may_export_erase_or_delete(tenant, role):
    key = tenant.post("/api/v1/api-keys", json={"name": role, "role": role}).json()["key"]
    member = InProcessApi(tenant.http, key)
    slug = tenant.signup_body["tenant"]["slug"]
    refused = [
        member.post("/api/v1/privacy/export"),
        member.get("/api/v1/privacy/exports"),
        member.post("/api/v1/privacy/erase", json={"email": "pat@example.com"}),
        _delete_workspace(member, {"confirm": slug}),
    ]
    for response in refused:
        assert "privacy" in _problem(response, 403, "/forbidden")["detail"]
    assert tenant.get("/api/v1/tenant").status_code == 200
