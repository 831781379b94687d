"""Tell Flowyard workers at once that the dispatcher created flow runs, instead of leaving them to find
the runs at their next poll of Prefect (half a second on average, and a Prefect API call per poll).

The signal goes through the platform database, which the dispatcher and every worker already share:

- PostgreSQL: the dispatcher's `NOTIFY flowyard_flow_runs` commits with the batch's flow-run id;
  each worker LISTENs on a connection of its own (`engine.listen`).
- SQLite (one machine): a worker checks `PRAGMA data_version` every `SQLITE_CHECK_SECONDS` (it changes
  when another connection commits; reading it costs microseconds and takes no lock) and, when it
  changed, whether a batch got its flow-run id since the last look.

A wake-up only makes the worker poll Prefect now: which flow runs are its own (pool, queues) and
which one it may take (`Pending`) is still Prefect's answer, and the regular poll stays as the
fallback for anything missed (a listener reconnecting, flow runs created by Prefect's scheduler or UI).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from contextlib import closing

from sqlalchemy import text
from sqlalchemy.orm import Session

from engine.listen import is_postgres
from engine.listen import listen as listen_postgres

log = logging.getLogger("flowyard.wakeup")
CHANNEL = "flowyard_flow_runs"
SQLITE_CHECK_SECONDS = 0.05


def notify_flow_runs_created(db: Session) -> None:
    """Wake the workers when `db`'s transaction commits (PostgreSQL; SQLite workers see the commit)."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text(f"NOTIFY {CHANNEL}"))


def listen(database_url: str, wake: Callable[[], None], stop: threading.Event) -> None:
    """Call `wake()` whenever the dispatcher created flow runs, until `stop` is set (blocks: run it in a thread)."""
    if is_postgres(database_url):
        listen_postgres(database_url, {CHANNEL: wake}, stop)
    elif database_url.startswith("sqlite"):
        _watch_sqlite(database_url, wake, stop)


class _SubmittedBatches:
    """Which batches (by rowid) have a flow run; `changed()` says whether one got it since the last call.
    Only the window from the oldest batch still without a flow run onwards is read."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._low = conn.execute("SELECT coalesce(max(rowid), 0) + 1 FROM batches").fetchone()[0]
        self._submitted: set[int] = set()

    def changed(self) -> bool:
        rows = self._conn.execute(
            "SELECT rowid, flow_run_id IS NOT NULL FROM batches WHERE rowid >= ? ORDER BY rowid", (self._low,)
        ).fetchall()
        submitted = {rowid for rowid, has_run in rows if has_run}
        new = bool(submitted - self._submitted)
        waiting = [rowid for rowid, has_run in rows if not has_run]
        self._low = waiting[0] if waiting else (rows[-1][0] + 1 if rows else self._low)
        self._submitted = {rowid for rowid in submitted if rowid >= self._low}
        return new


def _watch_sqlite(database_url: str, wake: Callable[[], None], stop: threading.Event) -> None:
    path = database_url.split("///", 1)[1] if "///" in database_url else ""
    if not path or path == ":memory:":
        return
    while not stop.is_set():
        try:
            with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)) as conn:
                batches = _SubmittedBatches(conn)
                version = conn.execute("PRAGMA data_version").fetchone()[0]
                while not stop.wait(SQLITE_CHECK_SECONDS):
                    now = conn.execute("PRAGMA data_version").fetchone()[0]
                    if now != version:
                        version = now
                        if batches.changed():
                            wake()
        except Exception:  # e.g. the database is not created yet: look again; the worker's poll covers the gap
            log.warning("flow-run wake-up watcher failed", exc_info=True)
            stop.wait(2)
