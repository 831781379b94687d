"""`python -m flowyard.prefect_server MB server start ...`: Prefect's CLI with SQLite's memory bounded to MB.

Prefect gives each SQLite connection of its server a page cache of 20,000 pages (about 80 MB), and keeps a pool of
connections per event loop, so on SQLite the server's RSS grows with its database until every cache is full.
SQLite's soft heap limit is process-wide: above it, SQLite reuses page-cache memory instead of allocating more."""

from __future__ import annotations

import sqlite3
import sys


def bound_sqlite_memory(megabytes: int) -> None:
    """Set the soft heap limit of every SQLite connection in this process, those opened later included."""
    with sqlite3.connect(":memory:") as connection:
        connection.execute(f"PRAGMA soft_heap_limit={megabytes << 20}")


def main() -> None:
    megabytes = sys.argv.pop(1)  # Prefect's CLI reads the rest of sys.argv
    bound_sqlite_memory(int(megabytes))
    from prefect.cli import app  # after the limit: nothing of Prefect's has opened its database yet

    app()


if __name__ == "__main__":
    main()
