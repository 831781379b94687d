"""PostgreSQL LISTEN for the engine's wake-ups: one connection and one loop per process, however many
channels it listens on, each with its handler.

The channels: `flowyard_outbox` (a CRM change committed: the dispatcher fans it out, `engine.outbox`) and
`flowyard_flow_runs` (the dispatcher created flow runs: workers poll Prefect now, `engine.wakeup`). A
notification only says "look now": whoever is woken reads the database, and its regular poll covers
anything missed while the connection was being made again. SQLite has no LISTEN: `listen` returns at
once and callers poll (the dispatcher its queue, the worker `PRAGMA data_version`, see `engine.wakeup`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

log = logging.getLogger("flowyard.listen")
RECONNECT_SECONDS = 2.0
WAIT_SECONDS = 1.0  # how often the loop looks at `stop` while no notification comes

Handler = Callable[[], None]


def is_postgres(database_url: str) -> bool:
    return database_url.startswith(("postgresql", "postgres"))


def listen(database_url: str, handlers: Mapping[str, Handler], stop: threading.Event) -> None:
    """Call each channel's handler for every notification on it until `stop` is set (blocks: run it in a
    thread, e.g. with `listen_in_background`). Reconnects when the database goes away."""
    if not is_postgres(database_url) or not handlers:
        return
    import psycopg
    from psycopg import sql

    plain = "postgresql://" + database_url.split("://", 1)[1]  # psycopg itself, whatever driver the URL names
    while not stop.is_set():
        try:
            with psycopg.connect(plain, autocommit=True) as conn:
                for channel in handlers:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                while not stop.is_set():
                    for notify in conn.notifies(timeout=WAIT_SECONDS, stop_after=1):
                        handlers[notify.channel]()
        except Exception:  # the database restarted: listen again; the callers' polls cover the gap
            log.warning("LISTEN on %s lost its connection", ", ".join(handlers), exc_info=True)
            stop.wait(RECONNECT_SECONDS)


def listen_in_background(
    database_url: str, handlers: Mapping[str, Handler], stop: threading.Event, *, name: str
) -> threading.Thread:
    """`listen` in a daemon thread of its own, started."""
    thread = threading.Thread(target=listen, args=(database_url, dict(handlers), stop), name=name, daemon=True)
    thread.start()
    return thread
