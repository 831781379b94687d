"""`python -m flowyard.prefect_server MB server start ...`: Prefect's CLI with SQLite's memory bounded to MB.

Prefect gives each SQLite connection of its server a page cache of 20,000 pages (about 80 MB), and keeps a pool of
connections per event loop, so on SQLite the server's RSS grows with its database until every cache is full.
SQLite's soft heap limit is process-wide: above it, SQLite reuses page-cache memory instead of allocating more."""

from __future__ import annotations

import sys

from store.db import bound_sqlite_memory


def main() -> None:
    megabytes = sys.argv.pop(1)  # Prefect's CLI reads the rest of sys.argv
    bound_sqlite_memory(int(megabytes))
    from prefect.cli import app  # after the limit: nothing of Prefect's has opened its database yet

    app()


if __name__ == "__main__":
    main()
