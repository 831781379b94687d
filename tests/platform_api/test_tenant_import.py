"""`flowyard tenants import`: a workspace exported (POST /api/v1/privacy/export) from one installation becomes a
workspace of another, on SQLite and PostgreSQL: every kind of row, re-encrypted under the new workspace's key, its
published workflows live again, its connections waiting for their secrets; a bad bundle writes nothing."""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from core.settings import Settings, get_settings
from flowyard.cli import main
from platform_api.app import create_app
from platform_api.privacy import restore
from store import Execution, StepResult, Tenant, TenantKey, User, WorkflowVersion, utcnow
from store.db import get_engine, get_session_factory
from store.migrate import upgrade
from tests.conftest import InProcessApi
from tests.support import Api, edge, graph, node, prefect_http, sendgrid_connection


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """The command reads the environment the test sets; later tests must not see it."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _installation(db_url_of_source: str, request, tmp_path: Path) -> str:
    """A second installation's migrated platform database, on the source's backend."""
    if db_url_of_source.startswith("postgresql"):
        url = request.getfixturevalue("postgres").create("import")
    else:
        url = f"sqlite:///{tmp_path / 'b' / 'platform.db'}"
        (tmp_path / "b").mkdir(exist_ok=True)
    upgrade(url)
    return url


def _import(monkeypatch, capsys, home: Path, db_url: str, *args: str, prefect_port: str = "9") -> tuple[int, str, str]:
    """`flowyard tenants import ...` against the installation of `db_url` (its Prefect server on `prefect_port`;
    nothing listens on 9); exit code, stdout, stderr."""
    monkeypatch.setenv("FLOWYARD_HOME", str(home))
    monkeypatch.setenv("FLOWYARD_DATABASE_URL", db_url)
    monkeypatch.setenv("FLOWYARD_PREFECT__PORT", prefect_port)
    get_settings.cache_clear()
    with pytest.raises(SystemExit) as exited:
        main(["tenants", "import", *args])
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def _export(api: Api) -> bytes:
    started = api.post("/api/v1/privacy/export")
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 60
    while (status := api.get(f"/api/v1/privacy/exports/{started.json()['id']}").json())["status"] == "running":
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    assert status["status"] == "completed", status
    return api.get(status["download_url"]).content


def _counts(db_url: str) -> dict[str, int]:
    with get_session_factory(db_url)() as db:
        return {
            "tenants": db.scalar(select(func.count()).select_from(Tenant)) or 0,
            "users": db.scalar(select(func.count()).select_from(User)) or 0,
            "versions": db.scalar(select(func.count()).select_from(WorkflowVersion)) or 0,
        }


# --- the whole way: installation A (`flowyard up`) to installation B -----------------------------


def _add_runs(db_url: str, tenant_id: str, workflow_id: str) -> tuple[str, str]:
    """A completed run with its steps (as the interpreter writes them) and one still queued; their ids."""
    with get_session_factory(db_url)() as db:
        done, queued = (
            Execution(
                tenant_id=tenant_id,
                workflow_id=workflow_id,
                version=1,
                mode="live",
                deployment_id=str(uuid.uuid4()),
                status=status,
                input={"to": "pat@example.com"},
                trigger="manual",
                ended_at=utcnow() if status == "completed" else None,
            )
            for status in ("completed", "queued")
        )
        db.add_all([done, queued])
        db.flush()
        for node_id, output in (("start", {"to": "pat@example.com"}), ("email", {"message_id": "m-1"})):
            step = {"node_id": node_id, "status": "completed", "input": {"trigger": {"to": "pat@example.com"}}}
            db.add(StepResult(tenant_id=tenant_id, execution_id=done.id, output=output, **step))
        db.commit()
        return done.id, queued.id


def _workspace_with_everything(owner: InProcessApi, fake_services, db_url: str) -> dict[str, Any]:
    connection = sendgrid_connection(owner, fake_services)
    mail = {"connection": connection, "to": "{{ trigger.to }}", "subject": "Welcome", "text": "Hi"}
    flow = graph(
        [
            node("start", "trigger.manual"),
            node("email", "email.sendgrid", mail),
            node("after", "util.log", {"message": "ok"}),
        ],
        [edge("start", "email"), edge("email", "after")],
    )
    workflow = owner.post("/api/v1/workflows", json={"name": "Welcome mail", "graph": flow}).json()
    published = owner.post(f"/api/v1/workflows/{workflow['id']}/publish")
    assert published.status_code == 200, published.text
    run_id, queued_id = _add_runs(db_url, owner.signup_body["tenant"]["id"], workflow["id"])
    company = owner.post("/api/v1/crm/companies", json={"name": "Pat's Bakery"}).json()
    contact = owner.post(
        "/api/v1/crm/contacts",
        json={"email": "pat@example.com", "first_name": "Pat", "company_id": company["id"], "tags": ["vip"]},
    ).json()
    deal = owner.post("/api/v1/crm/deals", json={"title": "Cakes", "contact_id": contact["id"], "amount": "120.50"})
    assert deal.status_code == 201, deal.text
    note = {"body": "Called Pat", "contact_id": contact["id"]}
    assert owner.post("/api/v1/crm/activities", json=note).status_code == 201
    template = owner.post(
        "/api/v1/templates",
        json={
            "workflow_id": workflow["id"],
            "title": "Our welcome",
            "description": "Greets every new lead.",
            "category": "marketing",
        },
    )
    assert template.status_code == 201, template.text
    return {
        "workflow": workflow,
        "run": owner.get(f"/api/v1/runs/{run_id}").json(),
        "queued_id": queued_id,
        "contact": contact,
        "deal": deal.json(),
        "template": template.json(),
    }


def _sign_in_with_link(api: Api, email: str, link: str) -> Api:
    token = link.rsplit("/", 1)[1]
    confirmed = api.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": "a new passphrase"})
    assert confirmed.status_code == 204, confirmed.text
    login = api.post("/api/v1/auth/login", json={"email": email, "password": "a new passphrase"})
    assert login.status_code == 200, login.text
    return api.with_token(login.json()["token"])


def test_a_workspace_exported_from_one_installation_imports_into_another(
    stack, fake_services, request, tmp_path, monkeypatch, capsys
):
    """A: an installation of its own (database, home) on the stack's Prefect server, in-process. B: the stack,
    a running `flowyard up`, beside which the operator runs the command (its home gives the keys and Prefect)."""
    b_url = stack.env.get("FLOWYARD_DATABASE_URL") or f"sqlite:///{stack.home / 'platform.db'}"
    a_settings = Settings(
        home=tmp_path / "home-a",
        database_url=_installation(b_url, request, tmp_path),
        dispatcher={"enabled": False},
        prefect={"api_url": stack.prefect_url, "auth_string": stack.auth_string},
    )
    with TestClient(create_app(a_settings), base_url="http://testserver") as client:
        a = InProcessApi(client).signup()
        seeded = _workspace_with_everything(a, fake_services, a_settings.platform_database_url)
        bundle = tmp_path / "bundle.zip"
        bundle.write_bytes(_export(a))
    owner, slug = f"owner-{uuid.uuid4().hex[:8]}@example.com", f"b-{uuid.uuid4().hex[:8]}"
    args = (str(bundle), "--owner", owner, "--slug", slug)

    code, out, err = _import(
        monkeypatch, capsys, stack.home, b_url, *args, prefect_port=stack.env["FLOWYARD_PREFECT__PORT"]
    )

    assert code == 0, out + err
    assert "published again: 1 of 1 workflows" in out and "1 connections need their secrets entered again" in out
    assert "1 runs were unfinished in the bundle" in out
    link = next(line for line in out.splitlines() if "reset-password" in line).rsplit(" ", 1)[1]
    b = _sign_in_with_link(Api(stack.api_url), owner, link)
    me = b.get("/api/v1/me").json()
    assert me["tenant"]["slug"] == slug and me["role"] == "owner"

    workflow = b.get(f"/api/v1/workflows/{seeded['workflow']['id']}").json()
    assert workflow["status"] == "published" and workflow["published_version"] == 1
    assert workflow["graph"] == seeded["workflow"]["graph"]  # its connection's id still names the connection
    deployment = prefect_http(stack).get(f"/deployments/{_deployment_id(b_url, workflow['id'])}")
    assert deployment.status_code == 200 and slug in deployment.json()["name"]

    run = b.get(f"/api/v1/runs/{seeded['run']['id']}").json()
    assert run["status"] == "completed"
    fields = ("node_id", "status", "input", "output", "error")
    assert [{k: s[k] for k in fields} for s in run["steps"]] == [
        {k: s[k] for k in fields} for s in seeded["run"]["steps"]
    ]
    assert b.get(f"/api/v1/runs/{seeded['queued_id']}").json()["status"] == "cancelled"

    (contact,) = b.get("/api/v1/crm/contacts", params={"email": "pat@example.com"}).json()  # blind index made in B
    assert contact["id"] == seeded["contact"]["id"] and contact["tags"] == ["vip"]
    assert contact["company_id"] == seeded["contact"]["company_id"]
    deal = b.get(f"/api/v1/crm/deals/{seeded['deal']['id']}").json()
    assert deal["contact_id"] == contact["id"] and float(deal["amount"]) == 120.5
    notes = b.get("/api/v1/crm/activities", params={"contact_id": contact["id"]}).json()
    assert [n["body"] for n in notes] == ["Called Pat"]
    template = b.get(f"/api/v1/templates/{seeded['template']['slug']}")
    assert template.status_code == 200 and template.json()["title"] == "Our welcome"

    actions = [e["action"] for e in b.get("/api/v1/audit", params={"limit": 200}).json()]
    assert {"workflow.published", "connection.created", "privacy.exported", "tenant.imported"} <= set(actions)
    assert b.get("/api/v1/audit/verify").json()["ok"] is True
    with get_engine(b_url).connect() as db:  # sealed with B's own data key
        key_id = db.scalar(select(TenantKey.key_id).join(Tenant).where(Tenant.slug == slug))
        raw = db.scalar(text("SELECT graph FROM workflow_versions WHERE workflow_id = :id"), {"id": workflow["id"]})
    assert raw.startswith(f"fy2.{key_id}.")

    (connection,) = b.get("/api/v1/connections").json()
    assert connection["status"] == "failed" and connection["secrets"] == {}
    assert "without its secrets" in connection["last_error"]["message"]
    secrets = {"secrets": {"api_key": fake_services.sendgrid.add_key()}}
    entered = b.request("PATCH", f"/api/v1/connections/{connection['id']}", json=secrets)
    assert entered.status_code == 200, entered.text
    assert set(entered.json()["secrets"]) == {"api_key"}
    started = b.post(f"/api/v1/workflows/{workflow['id']}/runs", json={"input": {"to": "kim@example.com"}})
    ran = b.wait_for_run(started.json()["run_id"])  # B's dispatcher and worker run the imported workflow
    assert ran["status"] == "completed", ran
    assert [s["node_id"] for s in ran["steps"] if s["status"] == "completed"] == ["start", "email", "after"]


def _deployment_id(db_url: str, workflow_id: str) -> str:
    from store import Workflow

    with get_session_factory(db_url)() as db:
        deployment_id = db.scalar(select(Workflow.deployment_id).where(Workflow.id == workflow_id))
    assert deployment_id
    return deployment_id


# --- bad bundles write nothing -------------------------------------------------------------------


@pytest.fixture
def exported(tenant: InProcessApi, minimal_graph, tmp_path) -> Path:
    """A real bundle of a workspace with a draft workflow and a contact (no engine needed)."""
    assert tenant.post("/api/v1/workflows", json={"name": "Draft", "graph": minimal_graph}).status_code == 201
    assert tenant.post("/api/v1/crm/contacts", json={"email": "lee@example.com"}).status_code == 201
    path = tmp_path / "bundle.zip"
    path.write_bytes(_export(tenant))
    return path


def _rewritten(source: Path, target: Path, change) -> Path:
    """A copy of the bundle with `change(files)` applied to its {name: bytes}."""
    with zipfile.ZipFile(source) as bundle:
        files = {name: bundle.read(name) for name in bundle.namelist()}
    change(files)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as out:
        for name, data in files.items():
            out.writestr(name, data)
    target.write_bytes(buffer.getvalue())
    return target


def _add_field(files: dict[str, bytes]) -> None:
    row = json.loads(files["workflows.jsonl"].splitlines()[0])
    files["workflows.jsonl"] = json.dumps({**row, "owner_password": "x"}).encode() + b"\n"


def _wrong_count(files: dict[str, bytes]) -> None:
    manifest = json.loads(files["manifest.json"])
    manifest["counts"]["crm_contacts"] += 1
    files["manifest.json"] = json.dumps(manifest).encode()


BAD_BUNDLES = {
    "not a zip file": lambda files: None,
    "no manifest.json": lambda files: files.pop("manifest.json"),
    "not the kinds this installation knows: secrets.jsonl": lambda files: files.update({"secrets.jsonl": b""}),
    "unknown fields: owner_password": _add_field,
    "crm_contacts.jsonl has 1 rows but the manifest counts 2": _wrong_count,
    "workflows.jsonl line 1 is not JSON": lambda files: files.update({"workflows.jsonl": b"{nope\n"}),
}


@pytest.mark.parametrize("reason", list(BAD_BUNDLES))
def test_a_bad_bundle_is_refused_with_a_reason_and_writes_nothing(
    exported, reason, platform_db_url, tmp_path, monkeypatch, capsys
):
    bad = tmp_path / "bad.zip"
    if reason == "not a zip file":
        bad.write_bytes(b"PK but not really")
    else:
        _rewritten(exported, bad, BAD_BUNDLES[reason])
    before = _counts(platform_db_url)

    code, _, err = _import(monkeypatch, capsys, tmp_path, platform_db_url, str(bad), "--owner", "x@example.com")

    assert code == 1
    assert reason in err.splitlines()[0] and err.splitlines()[1].startswith("hint: ")
    assert _counts(platform_db_url) == before


def test_an_oversized_bundle_is_refused(exported, platform_db_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(restore, "MAX_BUNDLE_BYTES", 1000)
    before = _counts(platform_db_url)
    code, _, err = _import(monkeypatch, capsys, tmp_path, platform_db_url, str(exported), "--owner", "x@example.com")
    assert code == 1 and "more than the 1000 an import takes" in err
    assert _counts(platform_db_url) == before


def test_a_taken_slug_or_rows_already_here_are_refused(
    exported, tenant, platform_db_url, tmp_path, monkeypatch, capsys
):
    before = _counts(platform_db_url)
    taken = tenant.signup_body["tenant"]["slug"]
    code, _, err = _import(monkeypatch, capsys, tmp_path, platform_db_url, str(exported), "--owner", "x@example.com")
    assert code == 1 and f"has the slug {taken!r}" in err and "--slug" in err
    new_slug = f"copy-{uuid.uuid4().hex[:6]}"
    args = (str(exported), "--owner", "x@example.com", "--slug", new_slug)
    code, _, err = _import(monkeypatch, capsys, tmp_path, platform_db_url, *args)
    assert code == 1 and "collides with a row of this installation" in err, err
    assert _counts(platform_db_url) == before


def test_a_draft_workspace_imports_without_the_engine_for_an_existing_user(
    exported, anonymous, platform_db_url, request, tmp_path, monkeypatch, capsys
):
    b_url = _installation(platform_db_url, request, tmp_path)
    with get_session_factory(b_url)() as db:
        db.add(User(email="kim@example.com", password_hash="x"))
        db.commit()
    code, out, err = _import(monkeypatch, capsys, tmp_path, b_url, str(exported), "--owner", "Kim@example.com")
    assert code == 0, err
    assert "published again: 0 of 0 workflows" in out and "reset-password" not in out
    with get_session_factory(b_url)() as db:
        assert db.scalar(select(func.count()).select_from(User)) == 1
        assert db.scalar(select(func.count()).select_from(WorkflowVersion)) == 1
