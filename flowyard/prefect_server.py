"""`python -m flowyard.prefect_server MB server start ...`: Prefect's CLI with SQLite's memory bounded to MB, and
the memory the server frees handed back to the system every `TRIM_SECONDS`.

Prefect gives each SQLite connection of its server a page cache of 20,000 pages (about 80 MB), and keeps a pool of
connections per event loop, so on SQLite the server's RSS grows with its database until every cache is full.
SQLite's soft heap limit is process-wide: above it, SQLite reuses page-cache memory instead of allocating more.

Under steady load the server's Python objects stay level and malloc's in-use bytes rise only with SQLite's caches,
but a burst of requests in flight raises malloc's heap, and glibc keeps the pages freed inside it: without trimming
the RSS climbs to each new high-water mark and stays (bench/README.md, Soak)."""

from __future__ import annotations

import ctypes
import sys
import threading
import time

from store.db import bound_sqlite_memory

TRIM_SECONDS = 15.0


def trim_free_memory() -> bool:
    """Give the whole pages malloc holds free back to the system (glibc's `malloc_trim`, which also releases
    those inside the heap, not only at its top). False where the C library has no such call."""
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)  # the process's own C library
    if trim is None:
        return False
    trim(0)
    return True


def trim_every(seconds: float) -> None:
    while trim_free_memory():
        time.sleep(seconds)


def main() -> None:
    megabytes = sys.argv.pop(1)  # Prefect's CLI reads the rest of sys.argv
    bound_sqlite_memory(int(megabytes))
    threading.Thread(target=trim_every, args=(TRIM_SECONDS,), name="flowyard-malloc-trim", daemon=True).start()
    from prefect.cli import app  # after the limit: nothing of Prefect's has opened its database yet

    app()


if __name__ == "__main__":
    main()
