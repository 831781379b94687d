"""`flowyard dispatcher`: the dispatcher as a process of its own (its Kubernetes Deployment), run for real.

Prefect is not running here, so a batch's flow run cannot be created; what the process is seen to do is the
dispatcher's own part: a queued execution is claimed into a batch, and SIGTERM ends the process cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from store import Execution, ExecutionStatus
from store.db import get_session_factory
from store.migrate import upgrade
from tests.engine.support import wait_until
from tests.platform_rows import Clock, add_execution, add_tenant, add_workflow


def queued_execution(db_url: str) -> str:
    with get_session_factory(db_url)() as db:
        workflow = add_workflow(db, add_tenant(db))
        execution = add_execution(db, workflow, clock=Clock())
        db.commit()
        return execution.id


def status(db_url: str, execution_id: str) -> str:
    with get_session_factory(db_url)() as db:
        return db.scalar(select(Execution.status).where(Execution.id == execution_id)) or ""


def test_flowyard_dispatcher_claims_queued_executions_and_stops_on_sigterm(tmp_path: Path):
    db_url = f"sqlite:///{tmp_path / 'platform.db'}"
    upgrade(db_url)
    execution_id = queued_execution(db_url)
    env = {
        **os.environ,
        "FLOWYARD_HOME": str(tmp_path),
        "FLOWYARD_DATABASE_URL": db_url,
        "FLOWYARD_PREFECT__API_URL": "http://127.0.0.1:9/api",  # nothing listens: flow runs wait for a later pass
        "FLOWYARD_DISPATCHER__POLL_SECONDS": "0.2",
    }
    log = open(tmp_path / "dispatcher.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "flowyard", "dispatcher"], env=env, stdout=log, stderr=log)
    try:
        wait_until(lambda: status(db_url, execution_id) == ExecutionStatus.BATCHED, timeout=60, what="the claim")
        assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, (tmp_path / "dispatcher.log").read_text()
    finally:
        if process.poll() is None:
            process.kill()
