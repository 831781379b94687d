"""Re-encryption after a data key rotation (`engine.reencrypt`), on SQLite and PostgreSQL: rows of several
sealed columns, some plain from before payload encryption (written by raw SQL), are sealed again with the new
key in bounded batches; a pass interrupted after one batch resumes, a write of the application meanwhile wins,
a process still sealing with the old key is caught by the final pass, and then every value opens with the new
key only: the retired key is deleted, and what it sealed opens no more. `flowyard keys reencrypt` does the
same in the foreground."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.orm import Session

from blocks.crypto import MasterKeys, rotate_data_key
from core.settings import get_settings
from engine import reencrypt
from engine.reencrypt import Progress, current_key_id, remaining, run_reencryption, sealed_columns
from store import CrmContact, Execution, Notification, RetiredTenantKey, WorkflowVersion, utcnow
from store.db import get_engine, get_session_factory
from store.sealed import DecryptionError, installed_keyring, seal, seal_as
from tests.platform_rows import Clock as CreationClock
from tests.platform_rows import add_execution, add_tenant, add_workflow

GRAPH = {
    "nodes": [{"id": "start", "type": "trigger.manual", "config": {}}, {"id": "say", "type": "util.log", "config": {}}],
    "edges": [{"id": "e1", "source": "start", "target": "say"}],
}


class Crash(Exception):
    """The process died after a batch."""


@dataclass
class Clock:
    ahead: timedelta = timedelta(0)

    def sleep(self, seconds: float) -> None:
        self.ahead += timedelta(seconds=seconds)


@dataclass
class Workspace:
    tenant_id: str
    # (model, row id, attribute) -> the value the application last wrote
    expected: dict[tuple[type, str, str], Any] = field(default_factory=dict)

    def ids(self, model: type) -> list[str]:
        return sorted({row_id for kind, row_id, _ in self.expected if kind is model})


def _engine(db_url: str) -> Engine:
    return get_engine(db_url)


def _workspace(db_url: str, *, runs: int = 5) -> Workspace:
    """A tenant's rows in several sealed columns, sealed with its first key; a few plain (written by raw SQL,
    as rows from before payload encryption are), one a bare JSON number."""
    with get_session_factory(db_url).begin() as db:
        tenant = add_tenant(db)
        seal_as(db, tenant.id)
        space = Workspace(tenant.id)
        workflow = add_workflow(db, tenant, graph=GRAPH)
        version = db.scalars(select(WorkflowVersion).where(WorkflowVersion.workflow_id == workflow.id)).one()
        space.expected[(WorkflowVersion, version.id, "graph")] = GRAPH
        clock = CreationClock()
        for i in range(runs):
            execution = add_execution(db, workflow, clock=clock, input={"email": f"run{i}@example.com", "n": i})
            space.expected[(Execution, execution.id, "input")] = {"email": f"run{i}@example.com", "n": i}
        for i in range(3):
            contact = CrmContact(
                tenant_id=tenant.id, email=f"c{i}@example.com", phone=f"+1415555000{i}", properties={"i": i}
            )
            db.add(contact)
            db.flush()
            space.expected |= {
                (CrmContact, contact.id, "email"): f"c{i}@example.com",
                (CrmContact, contact.id, "phone"): f"+1415555000{i}",
                (CrmContact, contact.id, "properties"): {"i": i},
            }
        note = Notification(tenant_id=tenant.id, kind="step_failed", title="t", body="sealed body", data={"a": 1})
        db.add(note)
        db.flush()
        legacy_run = space.ids(Execution)[0]
        legacy_contact = space.ids(CrmContact)[0]
        db.execute(text("UPDATE executions SET input = :v WHERE id = :id"), {"v": '{"legacy":true}', "id": legacy_run})
        db.execute(text("UPDATE notifications SET body = 'plain body', data = '42' WHERE id = :id"), {"id": note.id})
        db.execute(text("UPDATE crm_contacts SET email = 'legacy@example.com' WHERE id = :id"), {"id": legacy_contact})
        space.expected |= {
            (Execution, legacy_run, "input"): {"legacy": True},
            (Notification, note.id, "body"): "plain body",
            (Notification, note.id, "data"): 42,
            (CrmContact, legacy_contact, "email"): "legacy@example.com",
        }
    return space


def _rotate(db_url: str, tenant_id: str) -> tuple[str, str]:
    """A rotation's first step (what POST /api/v1/tenant/keys/rotate commits): (old key id, new key id)."""
    with get_session_factory(db_url).begin() as db:
        old = current_key_id(db, tenant_id)
        new = rotate_data_key(db, tenant_id, master_key=MasterKeys.of(get_settings()))
    assert old and new != old
    return old, new


def _raw_values(db_url: str, tenant_id: str) -> dict[tuple[str, Any], str]:
    """Every stored sealed value of the tenant, as the database holds it."""
    found = {}
    with get_session_factory(db_url)() as db:
        for sealed in sealed_columns():
            rows = db.execute(
                select(sealed.primary_key, sealed.raw).where(
                    sealed.table.c.tenant_id == tenant_id, sealed.raw.is_not(None)
                )
            )
            found |= {(sealed.name, row_id): raw for row_id, raw in rows}
    return found


def _read_back(db_url: str, space: Workspace) -> dict[tuple[type, str, str], Any]:
    with get_session_factory(db_url)() as db:
        return {
            (model, row_id, name): getattr(db.get_one(model, row_id), name) for model, row_id, name in space.expected
        }


def _seal_with(db_url: str, key_id: str, tenant_id: str, execution_id: str, value: dict) -> None:
    """What a process whose key cache still holds the old key writes: the value sealed with that key."""
    _, key = installed_keyring().opening_key(key_id, _engine(db_url))
    token = seal(key, json.dumps(value), aad=f"{tenant_id}|executions.input", key_id=key_id)
    with get_session_factory(db_url).begin() as db:
        db.execute(text("UPDATE executions SET input = :v WHERE id = :id"), {"v": token, "id": execution_id})


def test_a_rotation_seals_every_row_again_resumes_after_a_crash_and_keeps_concurrent_writes(
    platform_db_url, monkeypatch
):
    space = _workspace(platform_db_url)
    bystander = _workspace(platform_db_url, runs=1)  # another tenant: none of its rows changes
    bystander_raw = _raw_values(platform_db_url, bystander.tenant_id)
    old, new = _rotate(platform_db_url, space.tenant_id)
    with get_session_factory(platform_db_url)() as db:
        sealed_before = db.scalar(text("SELECT input FROM executions WHERE id = :id"), {"id": space.ids(Execution)[1]})
        before = remaining(db, space.tenant_id)
    assert sealed_before.startswith(f"fy2.{old}.")
    assert before["executions.input"] == 5 and before["crm_contacts.email"] == 3 and before["notifications.data"] == 1
    assert before["workflow_versions.graph"] == 1 and before["approvals.approvers"] == 0

    batches: list[Progress] = []

    def crash_after_one_batch(progress: Progress) -> None:
        batches.append(progress)
        raise Crash

    with get_session_factory(platform_db_url)() as db, pytest.raises(Crash):
        reencrypt.reencrypt(db, space.tenant_id, batch_size=2, on_progress=crash_after_one_batch)

    assert [(p.done, p.total) for p in batches] == [(2, sum(before.values()))]
    with get_session_factory(platform_db_url)() as db:
        assert sum(remaining(db, space.tenant_id).values()) == sum(before.values()) - 2  # the batch was kept

    # The rerun meets two writers: the application writing a run's input between the job's read and its
    # update (the application wins), and a process still sealing with the old key until its cache expires.
    raced, straggler = space.ids(Execution)[2], space.ids(Execution)[3]
    raced_raw = _raw_values(platform_db_url, space.tenant_id)[("executions.input", raced)]
    opened = reencrypt._open

    def write_meanwhile(db: Session, tenant_id: str, sealed: reencrypt.SealedColumn, raw: str) -> Any:
        if raw == raced_raw:  # read by the job, then written by the application before the job's update
            db.execute(update(Execution).where(Execution.id == raced).values(input={"written": "meanwhile"}))
        return opened(db, tenant_id, sealed, raw)

    monkeypatch.setattr(reencrypt, "_open", write_meanwhile)
    clock = Clock()  # the wait for other processes' key caches, on a clock of the test's own
    monkeypatch.setattr(reencrypt, "utcnow", lambda: utcnow() + clock.ahead)
    waits: list[float] = []

    def late_writer(seconds: float) -> None:
        if not waits:
            _seal_with(platform_db_url, old, space.tenant_id, straggler, {"written": "late"})
        waits.append(seconds)

    with get_session_factory(platform_db_url)() as db:
        outcome = run_reencryption(
            db, space.tenant_id, get_settings(), batch_size=2, on_wait=late_writer, sleep=clock.sleep
        )

    space.expected[(Execution, raced, "input")] = {"written": "meanwhile"}
    space.expected[(Execution, straggler, "input")] = {"written": "late"}
    assert waits and outcome.skipped == 1 and outcome.unreadable == 0
    assert outcome.retired_keys_deleted == 1 and outcome.remaining_total == 0
    with get_session_factory(platform_db_url)() as db:
        assert set(remaining(db, space.tenant_id).values()) == {0}
        assert db.scalar(select(func.count()).where(RetiredTenantKey.tenant_id == space.tenant_id)) == 0
        contact = db.get_one(CrmContact, space.ids(CrmContact)[0])
        assert contact.email_index is not None  # the legacy contact was indexed on the way
    raw = _raw_values(platform_db_url, space.tenant_id)
    assert len(raw) == len(space.expected) and all(value.startswith(f"fy2.{new}.") for value in raw.values())
    assert _read_back(platform_db_url, space) == space.expected
    assert _raw_values(platform_db_url, bystander.tenant_id) == bystander_raw

    with pytest.raises(DecryptionError):  # the old key is gone: what it sealed opens no more
        installed_keyring().opening_key(old, _engine(platform_db_url))
    with pytest.raises(DecryptionError):
        Execution.__table__.c.input.type.process_result_value(sealed_before, _engine(platform_db_url).dialect)


def test_a_value_that_does_not_open_keeps_the_retired_keys(platform_db_url):
    space = _workspace(platform_db_url, runs=2)
    old, _ = _rotate(platform_db_url, space.tenant_id)
    damaged = space.ids(Execution)[0]
    with get_session_factory(platform_db_url).begin() as db:
        db.execute(text("UPDATE executions SET input = :v WHERE id = :id"), {"v": f"fy2.{old}.AAAA", "id": damaged})

    with get_session_factory(platform_db_url)() as db:
        outcome = run_reencryption(db, space.tenant_id, get_settings())

    assert outcome.unreadable >= 1 and outcome.retired_keys_deleted == 0
    assert outcome.remaining == {**{name: 0 for name in outcome.remaining}, "executions.input": 1}
    with get_session_factory(platform_db_url)() as db:
        assert db.scalar(select(func.count()).where(RetiredTenantKey.tenant_id == space.tenant_id)) == 1
        assert (
            db.get_one(Execution, space.ids(Execution)[1]).input
            == space.expected[(Execution, space.ids(Execution)[1], "input")]
        )


def test_every_sealed_column_of_the_models_is_covered():
    names = {sealed.name for sealed in sealed_columns()}
    assert {"executions.input", "step_results.output", "crm_contacts.email", "outbox.after"} <= names
    assert all("tenant_id" in sealed.table.c for sealed in sealed_columns())


def _flowyard(*args: str, db_url: str, home: Path) -> subprocess.CompletedProcess[str]:
    settings = get_settings()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWYARD_", "PREFECT_"))}
    env = {
        **clean,
        "FLOWYARD_HOME": str(home),
        "FLOWYARD_DATABASE_URL": db_url,
        "FLOWYARD_MASTER_KEY": settings.master_key.get_secret_value(),
        "FLOWYARD_KEYS__VAULT_URL": settings.keys_vault_url,  # the same vault as this process's
        "FLOWYARD_KEYS__CACHE_SECONDS": "0.2",
    }
    return subprocess.run(
        [sys.executable, "-m", "flowyard", *args], env=env, capture_output=True, text=True, timeout=180
    )


def test_flowyard_keys_reencrypt_seals_a_workspace_in_the_foreground(platform_db_url, tmp_path):
    space = _workspace(platform_db_url, runs=3)
    old, new = _rotate(platform_db_url, space.tenant_id)
    with get_session_factory(platform_db_url)() as db:
        slug = db.scalar(text("SELECT slug FROM tenants WHERE id = :id"), {"id": space.tenant_id})

    done = _flowyard("keys", "reencrypt", "--tenant", slug, db_url=platform_db_url, home=tmp_path / "home")

    assert done.returncode == 0, done.stderr
    assert f"{slug}: sealed " in done.stdout and "1 retired keys deleted" in done.stdout
    raw = _raw_values(platform_db_url, space.tenant_id)
    assert raw and all(value.startswith(f"fy2.{new}.") for value in raw.values())
    assert _read_back(platform_db_url, space) == space.expected
    unknown = _flowyard("keys", "reencrypt", "--tenant", f"nobody-{uuid.uuid4().hex[:6]}", db_url=platform_db_url,
                        home=tmp_path / "home")  # fmt: skip
    assert unknown.returncode == 1 and "no workspace has the slug" in unknown.stderr
    assert old != new
