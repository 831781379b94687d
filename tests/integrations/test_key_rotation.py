"""Keys: a workspace's data key rotated online (`POST /api/v1/tenant/keys/rotate`) and the master key rotated
with `flowyard keys rotate-master`, each keeping every secret usable through the public API: a connection's
(its test against the SendGrid fake) and a webhook endpoint's (a delivery authenticated with it). The API
runs in-process on a database of its own, its connection blocks kept in a stand-in for Prefect's block
documents (tests/platform_api/test_connections.py); the re-encryption of stored workflow data that a rotation
starts as a Prefect flow run is done in-process here (tests/platform_api/test_key_rotation_stack.py runs it
in Prefect)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from unittest.mock import ANY

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select

from blocks.crypto import (
    DecryptionError,
    MasterKeys,
    index_key,
    key_id_of,
    master_key_id,
    rewrap_data_keys,
    rotate_data_key,
    tenant_cipher,
)
from core.settings import PLACEHOLDER_MASTER_KEY, Settings, get_settings
from engine.reencrypt import Outcome, run_reencryption
from flowyard import master_key
from flowyard.master_key import new_master_key
from platform_api import keys
from platform_api.app import create_app
from platform_api.connections import service
from store import RetiredTenantKey, Tenant, TenantKey, WebhookEndpoint, Workflow
from store.db import get_session_factory
from store.migrate import upgrade
from tests.conftest import InProcessApi
from tests.platform_api.test_connections import BlockDocuments
from tests.support import Api

Start = Callable[..., AbstractContextManager[InProcessApi]]
ORIGINAL_START = keys.start_reencryption_run


@pytest.fixture
def database(request, platform_db_url, tmp_path) -> str:
    """A platform database of this test's own: `rotate-master` re-wraps every data key in it."""
    if platform_db_url.startswith("postgresql"):
        url = request.getfixturevalue("postgres").create("keys")
    else:
        url = f"sqlite:///{tmp_path / 'platform.db'}"
    upgrade(url)
    return url


@pytest.fixture
def blocks(monkeypatch) -> BlockDocuments:
    documents = BlockDocuments()
    monkeypatch.setattr(service, "save_block", documents.save)
    monkeypatch.setattr(service, "read_block", documents.read)
    return documents


@pytest.fixture
def reencryptions(monkeypatch) -> list[tuple[str, str]]:
    """The `flowyard-reencrypt` flow runs rotations start (no Prefect runs here): (tenant id, new key id) each;
    `_reencrypt` does their work in-process."""
    started: list[tuple[str, str]] = []

    def start_run(_settings: Settings, caller, key_id: str) -> str:
        started.append((caller.tenant_id, key_id))
        return f"flow-run-{len(started)}"

    monkeypatch.setattr(keys, "start_reencryption_run", start_run)
    return started


def _reencrypt(database: str, tenant_id: str) -> Outcome:
    """What the rotation's `flowyard-reencrypt` flow run does, here (key caches of a tenth of a second)."""
    settings = get_settings()
    fast = settings.model_copy(update={"keys": settings.keys.model_copy(update={"cache_seconds": 0.1})})
    with get_session_factory(database)() as db:
        return run_reencryption(db, tenant_id, fast)


@pytest.fixture
def start(database, tmp_path, fake_services, monkeypatch, blocks, reencryptions) -> Iterator[Start]:
    """`start(master_key, previous=[...])`: the API under these master keys, talking to the fakes."""
    for name, value in {**fake_services.env, "FLOWYARD_DATABASE_URL": database}.items():
        monkeypatch.setenv(name, value)

    @contextmanager
    def started(master_key: str, previous: list[str] | None = None) -> Iterator[InProcessApi]:
        monkeypatch.setenv("FLOWYARD_MASTER_KEY", master_key)
        monkeypatch.setenv("FLOWYARD_PREVIOUS_MASTER_KEYS", json.dumps(previous or []))
        get_settings.cache_clear()  # the blocks read the process's settings
        settings = Settings(
            home=tmp_path / "home", dispatcher={"enabled": False}, prefect={"api_url": "http://127.0.0.1:9/api"}
        )
        with TestClient(create_app(settings), base_url="http://testserver") as client:
            yield InProcessApi(client)

    yield started
    get_settings.cache_clear()


def _mail_connection(owner: InProcessApi, fake_services) -> dict:
    created = owner.post(
        "/api/v1/connections",
        json={
            "type": "sendgrid",
            "name": "Mail",
            "config": {"from_email": "news@example.com"},
            "secrets": {"api_key": fake_services.sendgrid.add_key()},
        },
    )
    assert created.status_code == 201, created.text
    return created.json()


def _works(api: InProcessApi, connection: dict) -> bool:
    tested = api.post(f"/api/v1/connections/{connection['id']}/test")
    assert tested.status_code == 200, tested.text
    return bool(tested.json()["ok"])


def _webhook(owner: InProcessApi, database: str, minimal_graph: dict) -> tuple[str, str]:
    """A live workflow's webhook endpoint (bearer auth) and its secret, which the API set and sealed."""
    graph = json.loads(json.dumps(minimal_graph))
    graph["nodes"][0] |= {"type": "trigger.webhook", "config": {"auth": "bearer"}}
    workflow = owner.post("/api/v1/workflows", json={"name": f"Hook {uuid.uuid4().hex[:6]}", "graph": graph})
    assert workflow.status_code == 201, workflow.text
    workflow_id = workflow.json()["id"]
    with get_session_factory(database).begin() as db:  # what publishing records (no workflow engine runs here)
        row = db.get_one(Workflow, workflow_id)
        row.published_version, row.deployment_id = 1, str(uuid.uuid4())
        endpoint = WebhookEndpoint(tenant_id=row.tenant_id, workflow_id=row.id, sealed_secret="")
        db.add(endpoint)
        db.flush()
        endpoint_id = endpoint.id
    rotated = owner.post(f"/api/v1/workflows/{workflow_id}/webhook/rotate", json={})
    assert rotated.status_code == 200, rotated.text
    return endpoint_id, rotated.json()["secret"]


def _delivered(api: InProcessApi, endpoint_id: str, secret: str) -> int:
    answer = api.http.post(f"/hooks/{endpoint_id}", json={"name": "Ada"}, headers={"Authorization": f"Bearer {secret}"})
    return answer.status_code


def _tenant_id(owner: InProcessApi) -> str:
    return owner.signup_body["tenant"]["id"]


# --- the workspace's data key ----------------------------------------------------------------------


def test_rotating_the_data_key_keeps_secrets_working_and_retires_the_old_key(
    start, database, blocks, fake_services, minimal_graph, reencryptions
):
    with start(new_master_key()) as anonymous:
        owner = anonymous.signup()
        connection = _mail_connection(owner, fake_services)
        endpoint_id, secret = _webhook(owner, database, minimal_graph)
        stored_before = blocks.data[connection["block_name"]]
        old_key_id = key_id_of(stored_before["api_key"])
        assert key_id_of(stored_before["settings_mac"]) == old_key_id

        rotated = owner.post("/api/v1/tenant/keys/rotate")

        assert rotated.status_code == 200, rotated.text
        body = rotated.json()
        assert body["key_id"] != old_key_id
        assert (body["connections"], body["webhook_secrets"], body["lost_secrets"]) == (1, 1, [])
        assert body["retired_keys_deleted"] == 0  # the workflow's graph is still sealed with it
        assert body["remaining"]["workflow_versions.graph"] == 1
        assert body["remaining_total"] == sum(body["remaining"].values())
        assert body["reencryption_flow_run_id"] == "flow-run-1"
        assert reencryptions == [(_tenant_id(owner), body["key_id"])]
        stored = blocks.data[connection["block_name"]]
        assert {key_id_of(stored["api_key"]), key_id_of(stored["settings_mac"])} == {body["key_id"]}
        assert _works(owner, connection)
        assert _delivered(owner, endpoint_id, secret) == 202
        assert _delivered(owner, endpoint_id, "whsec_" + "x" * 40) == 401
        assert _reencrypt(database, _tenant_id(owner)).retired_keys_deleted == 1
        assert _delivered(owner, endpoint_id, secret) == 202

        with get_session_factory(database)() as db:  # the old key is gone: what it sealed opens no more
            assert (
                db.scalars(select(RetiredTenantKey).where(RetiredTenantKey.tenant_id == _tenant_id(owner))).all() == []
            )
            cipher = tenant_cipher(db, _tenant_id(owner), master_key=MasterKeys.of(owner.http.app.state.settings))
            with pytest.raises(DecryptionError, match="is gone"):
                cipher.unseal(stored_before["api_key"], context=f"{connection['block_name']}:api_key:authenticated")


def test_secrets_sealed_with_the_old_key_open_while_the_rotation_runs(start, database, blocks, fake_services):
    with start(new_master_key()) as anonymous:
        owner = anonymous.signup()
        connection = _mail_connection(owner, fake_services)
        settings = owner.http.app.state.settings
        with get_session_factory(database).begin() as db:  # the rotation's first step: a new key, the old one retired
            new_key_id = rotate_data_key(db, _tenant_id(owner), master_key=MasterKeys.of(settings))
        assert key_id_of(blocks.data[connection["block_name"]]["api_key"]) != new_key_id

        assert _works(owner, connection)  # not sealed again yet: opens with the retired key
        updated = owner.request("PATCH", f"/api/v1/connections/{connection['id']}", json={"config": {}})
        assert updated.status_code == 200, updated.text
        assert key_id_of(blocks.data[connection["block_name"]]["api_key"]) == new_key_id  # a save seals anew
        assert _works(owner, connection)
        assert owner.post("/api/v1/tenant/keys/rotate").json()["retired_keys_deleted"] == 0
        assert _works(owner, connection)
        assert _reencrypt(database, _tenant_id(owner)).retired_keys_deleted == 2
        assert _works(owner, connection)


def test_the_rotations_progress_is_visible_until_the_reencryption_is_done(start, database, minimal_graph):
    with start(new_master_key()) as anonymous:
        owner = anonymous.signup()
        workflow = owner.post("/api/v1/workflows", json={"name": "Sealed", "graph": minimal_graph})
        assert workflow.status_code == 201, workflow.text
        before = owner.get("/api/v1/tenant/keys/rotation").json()
        assert (before["retired_keys"], before["remaining_total"]) == (0, 0)

        rotated = owner.post("/api/v1/tenant/keys/rotate").json()
        during = owner.get("/api/v1/tenant/keys/rotation")

        assert during.status_code == 200, during.text
        assert during.json() | {"remaining": None} == {
            "key_id": rotated["key_id"],
            "retired_keys": 1,
            "remaining": None,
            "remaining_total": rotated["remaining_total"],
            "reencryption": None,
            "engine_available": False,  # no Prefect here: the counts come from the platform database
        }
        assert during.json()["remaining"]["workflow_versions.graph"] == 1
        assert owner.get(f"/api/v1/workflows/{workflow.json()['id']}").status_code == 200  # reads work throughout

        _reencrypt(database, _tenant_id(owner))

        after = owner.get("/api/v1/tenant/keys/rotation").json()
        assert (after["key_id"], after["retired_keys"], after["remaining_total"]) == (rotated["key_id"], 0, 0)
        assert set(after["remaining"].values()) == {0}
        assert owner.get(f"/api/v1/workflows/{workflow.json()['id']}").json()["graph"]["nodes"]


def test_a_rotation_whose_reencryption_cannot_start_answers_503_and_keeps_the_old_key(start, monkeypatch):
    monkeypatch.setattr(keys, "start_reencryption_run", ORIGINAL_START)  # Prefect (127.0.0.1:9) is unreachable
    with start(new_master_key()) as anonymous:
        owner = anonymous.signup()
        key_before = owner.get("/api/v1/tenant/keys/rotation").json()["key_id"]

        refused = owner.post("/api/v1/tenant/keys/rotate")

        assert refused.status_code == 503, refused.text
        assert refused.json()["type"].endswith("/engine-unavailable")
        status = owner.get("/api/v1/tenant/keys/rotation").json()
        assert status["key_id"] != key_before and status["retired_keys"] == 1  # in force; the old one kept


def test_only_an_owner_rotates_the_data_key_or_sees_the_rotation(start, fake_services):
    with start(new_master_key()) as anonymous:
        owner = anonymous.signup()
        admin_key = owner.post("/api/v1/api-keys", json={"name": "ops", "role": "admin"})
        assert admin_key.status_code == 201, admin_key.text
        admin = InProcessApi(owner.http, admin_key.json()["key"])

        refused = admin.post("/api/v1/tenant/keys/rotate")

        assert refused.status_code == 403
        assert "manage_keys" in refused.json()["detail"]
        assert admin.get("/api/v1/tenant/keys/rotation").status_code == 403
        assert anonymous.post("/api/v1/tenant/keys/rotate").status_code == 401


def test_the_rotation_is_in_the_audit_trail(start):
    with start(new_master_key()) as anonymous:
        owner = anonymous.signup()
        first = owner.post("/api/v1/tenant/keys/rotate").json()["key_id"]
        second = owner.post("/api/v1/tenant/keys/rotate").json()["key_id"]
        events = owner.get("/api/v1/audit", params={"action": "keys.rotated"})
        assert events.status_code == 200, events.text
        assert [(event["target"], event["detail"]) for event in events.json()] == [
            (f"tenant:{_tenant_id(owner)}", {"new_id": second, "replaced_id": first}),
            (f"tenant:{_tenant_id(owner)}", {"new_id": first, "replaced_id": ANY}),
        ]


# --- the master key --------------------------------------------------------------------------------


def _flowyard(*args: str, env: dict[str, str], home: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWYARD_", "PREFECT_"))}
    return subprocess.run(
        [sys.executable, "-m", "flowyard", *args],
        env={**clean, "FLOWYARD_HOME": str(home), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_rotated_master_key_still_opens_every_secret(start, database, fake_services, minimal_graph, tmp_path):
    old, new = new_master_key(), new_master_key()
    with start(old) as anonymous:
        owners = [anonymous.signup() for _ in range(2)]
        connections = [_mail_connection(owner, fake_services) for owner in owners]
        hooks = [_webhook(owner, database, minimal_graph) for owner in owners]

    rotated = _flowyard(
        "keys",
        "rotate-master",
        env={
            "FLOWYARD_DATABASE_URL": database,
            "FLOWYARD_MASTER_KEY": new,
            "FLOWYARD_PREVIOUS_MASTER_KEYS": json.dumps([old]),
            "FLOWYARD_KEYS__VAULT_URL": get_settings().keys_vault_url,  # the same vault as the API's
        },  # fmt: skip
        home=tmp_path / "home",
    )

    assert rotated.returncode == 0, rotated.stderr
    assert "re-wrapped 2 data keys" in rotated.stdout
    with start(new) as anonymous:  # the old key is no longer configured anywhere
        for owner, connection, (endpoint_id, secret) in zip(owners, connections, hooks, strict=True):
            api = InProcessApi(anonymous.http, owner.token)
            assert _works(api, connection)
            assert _delivered(api, endpoint_id, secret) == 202
    with get_session_factory(database)() as db:
        wrapped = db.scalars(select(TenantKey.tenant_id)).all()
        assert len(wrapped) == 2
        for tenant_id in wrapped:
            with pytest.raises(DecryptionError):
                tenant_cipher(db, tenant_id, master_key=old)


def test_rotate_master_names_a_data_key_no_configured_key_opens(start, database, fake_services, tmp_path):
    with start(new_master_key()) as anonymous:
        _mail_connection(anonymous.signup(), fake_services)

    rotated = _flowyard(
        "keys", "rotate-master",
        env={
            "FLOWYARD_DATABASE_URL": database,
            "FLOWYARD_MASTER_KEY": new_master_key(),
            "FLOWYARD_KEYS__VAULT_URL": get_settings().keys_vault_url,
        },
        home=tmp_path / "home",
    )  # fmt: skip

    assert rotated.returncode == 1
    assert "1 data keys are wrapped by a master key that is neither" in rotated.stderr
    assert "Traceback" not in rotated.stderr


# --- production and development master keys --------------------------------------------------------


@pytest.mark.parametrize("weak", ["flowyard-development-master-key-change-me", "short", "k" * 32, "a" * 64])
def test_production_refuses_a_placeholder_or_weak_master_key(weak, monkeypatch):
    monkeypatch.setenv("PREFECT_API_AUTH_STRING", "ops:secret")
    with pytest.raises(ValidationError, match="FLOWYARD_MASTER_KEY must be 32 random bytes, base64-encoded") as caught:
        Settings(environment="production", master_key=weak)
    assert "base64.b64encode(os.urandom(32))" in str(caught.value)
    assert Settings(environment="production", master_key=new_master_key()).environment == "production"


def test_up_generates_a_development_master_key_once_and_keeps_it_private(tmp_path, monkeypatch):
    monkeypatch.delenv("FLOWYARD_MASTER_KEY", raising=False)
    settings = Settings(home=tmp_path / "home")

    generated = master_key.resolve(settings)

    path = master_key.master_key_path(settings.home_dir)
    assert generated is not None and path.read_text().strip() == generated
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert Settings(environment="production", master_key=generated, prefect={"auth_string": "a:b"})  # a strong key
    assert master_key.resolve(settings) == generated  # the next `up` reuses it
    assert master_key.with_stored_key(settings).master_key.get_secret_value() == generated  # `flowyard worker`
    given = Settings(home=tmp_path / "home", master_key=new_master_key())
    assert master_key.resolve(given) is None  # a configured key is the children's own
    assert master_key.with_stored_key(given) is given


def test_up_rewraps_data_keys_of_the_public_placeholder_with_its_own_key(database, tmp_path, monkeypatch):
    monkeypatch.delenv("FLOWYARD_MASTER_KEY", raising=False)  # the tests' own (tests/conftest.py): none here
    with get_session_factory(database).begin() as db:  # a workspace of an earlier version, under the placeholder
        tenant = Tenant(name="Earlier", slug=f"t{uuid.uuid4().hex[:10]}")
        db.add(tenant)
        db.flush()
        tenant_id = tenant.id
        data_key = tenant_cipher(db, tenant_id, master_key=PLACEHOLDER_MASTER_KEY).key
    settings = Settings(home=tmp_path / "home", database_url=database)
    generated = master_key.resolve(settings)
    assert generated is not None

    assert master_key.rewrap_placeholder_keys(settings, generated) == 1

    with get_session_factory(database)() as db:
        assert tenant_cipher(db, tenant_id, master_key=generated).key == data_key
        with pytest.raises(DecryptionError):
            tenant_cipher(db, tenant_id, master_key=PLACEHOLDER_MASTER_KEY)
    assert master_key.rewrap_placeholder_keys(settings, generated) == 0


def test_flowyard_up_seals_with_its_master_key(stack, fake_services):
    # the stack is given the tests' master key (tests/conftest.py); generating one is tested above
    owner = Api(stack.api_url).signup()
    created = owner.post(
        "/api/v1/connections",
        json={
            "type": "sendgrid",
            "name": "Mail",
            "config": {"from_email": "news@example.com"},
            "secrets": {"api_key": fake_services.sendgrid.add_key()},
        },
    )
    assert created.status_code == 201, created.text
    tested = owner.post(f"/api/v1/connections/{created.json()['id']}/test")
    assert tested.status_code == 200 and tested.json()["ok"], tested.text
    url = stack.env.get("FLOWYARD_DATABASE_URL") or f"sqlite:///{stack.home / 'platform.db'}"
    with get_session_factory(url)() as db:
        wrapped_by = db.scalar(select(TenantKey.master_key_id).where(TenantKey.tenant_id == _tenant_id(owner)))
    assert wrapped_by == master_key_id(stack.master_key) != master_key_id(PLACEHOLDER_MASTER_KEY)


def test_a_rotated_master_key_rewraps_the_search_index_key_too(database, tmp_path):
    old, new = new_master_key(), new_master_key()
    with get_session_factory(database).begin() as db:
        tenant = Tenant(name="Indexed", slug=f"t{uuid.uuid4().hex[:10]}")
        db.add(tenant)
        db.flush()
        tenant_id = tenant.id
        before = index_key(db, tenant_id, Settings(home=tmp_path, master_key=old))
    rotated = Settings(home=tmp_path, master_key=new, previous_master_keys=[old])
    with get_session_factory(database)() as db:
        assert rewrap_data_keys(db, MasterKeys.of(rotated)) == 1
    with get_session_factory(database).begin() as db:
        assert index_key(db, tenant_id, Settings(home=tmp_path, master_key=new)) == before  # same key: digests hold
        with pytest.raises(DecryptionError):
            index_key(db, tenant_id, Settings(home=tmp_path, master_key=old))
