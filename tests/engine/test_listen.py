"""The engine's wake-ups through the platform database, without Prefect: on PostgreSQL one LISTEN loop
hears every channel it was given and calls that channel's handler (a CRM change for the dispatcher, new
flow runs for the workers); on SQLite there is no LISTEN and a worker watches the file instead."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable

from sqlalchemy import update

from engine import outbox, wakeup
from engine.listen import listen, listen_in_background
from store import Batch, Outbox, utcnow
from store.db import get_session_factory
from tests.platform_rows import add_tenant, add_workflow


def _wait_for(condition: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def _add_outbox_row(db_url: str) -> None:
    with get_session_factory(db_url).begin() as db:
        tenant = add_tenant(db)
        db.add(
            Outbox(
                tenant_id=tenant.id,
                topic="crm.contact.created",
                record_type="contact",
                record_id=str(uuid.uuid4()),
                after={"email": "a@example.com"},
                dispatched_at=utcnow(),
            )
        )  # notifies all the same; leaves no work for other tests' dispatchers


def _submit_a_batch(db_url: str) -> None:
    """What the dispatcher does when it has created a batch's flow run."""
    sessions = get_session_factory(db_url)
    with sessions.begin() as db:
        workflow = add_workflow(db, add_tenant(db))
        batch = Batch(
            tenant_id=workflow.tenant_id, workflow_id=workflow.id, version=1, deployment_id=workflow.deployment_id
        )
        db.add(batch)
    with sessions.begin() as db:
        db.execute(update(Batch).where(Batch.id == batch.id).values(flow_run_id=str(uuid.uuid4())))
        wakeup.notify_flow_runs_created(db)


def test_one_listener_calls_each_channels_handler(platform_db_url):
    heard: Counter[str] = Counter()
    stop = threading.Event()
    handlers = {outbox.CHANNEL: lambda: heard.update(["outbox"]), wakeup.CHANNEL: lambda: heard.update(["runs"])}
    thread = listen_in_background(platform_db_url, handlers, stop, name="test-listener")
    try:
        if not platform_db_url.startswith("postgresql"):
            assert _wait_for(lambda: not thread.is_alive(), timeout=2)  # SQLite: nothing to listen to
            return
        time.sleep(0.5)  # LISTEN is issued
        _add_outbox_row(platform_db_url)
        assert _wait_for(lambda: heard["outbox"] == 1), heard
        _submit_a_batch(platform_db_url)
        assert _wait_for(lambda: heard["runs"] == 1), heard
        time.sleep(0.3)
        assert heard == {"outbox": 1, "runs": 1}  # each notification to its own handler, once
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()


def test_a_worker_is_woken_when_a_batch_gets_its_flow_run_on_either_database(platform_db_url):
    woken = threading.Event()
    stop = threading.Event()
    thread = threading.Thread(target=wakeup.listen, args=(platform_db_url, woken.set, stop), daemon=True)
    thread.start()
    try:
        time.sleep(0.5)  # listening, or the SQLite watcher has taken its first look
        assert not woken.is_set()
        _submit_a_batch(platform_db_url)
        assert woken.wait(10)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()


def test_listen_returns_at_once_without_channels_or_postgres():
    stop = threading.Event()
    started = time.monotonic()
    listen("sqlite:///nowhere.db", {"any": lambda: None}, stop)
    listen("postgresql://127.0.0.1:9/none", {}, stop)
    assert time.monotonic() - started < 1
