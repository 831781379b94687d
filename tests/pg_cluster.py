"""A PostgreSQL server of a test's own, on a free port: for tests that stop, restart or restore a whole cluster,
which the shared test server must never be."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from core.settings import Settings
from flowyard import backup_postgres
from tests.support import free_port


def as_postgres(command: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: the tests do, so the server side runs as `postgres`."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def give_to_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", "postgres:postgres", str(path)], check=True)


@contextmanager
def scratch_directory(prefix: str) -> Iterator[Path]:
    """A directory the `postgres` user can reach (pytest's tmp_path sits under a root-only directory)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    give_to_postgres(path)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class Cluster:
    """A PostgreSQL server of the test's own, on a free port; with `wal_archive`, archiving its WAL there."""

    def __init__(self, settings: Settings, data: Path) -> None:
        self.settings, self.data, self.port = settings, data, free_port()
        self.log = data.parent / f"{data.name}.log"

    def tool(self, name: str) -> str:
        return backup_postgres.tool(self.settings, name)  # raises when the binaries are missing: the test fails

    def initdb(self, wal_archive: Path | None = None, max_connections: int = 100) -> None:
        initdb = [self.tool("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync"]
        subprocess.run(as_postgres(initdb), check=True, capture_output=True, timeout=300)
        conf = "listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\nfsync = off\n"
        conf += f"max_connections = {max_connections}\n"
        if wal_archive:  # what docs/backups.md asks for
            conf += (
                f'archive_mode = on\narchive_command = \'test ! -f "{wal_archive}/%f" && cp "%p" "{wal_archive}/%f"\'\n'
            )
        with (self.data / "postgresql.conf").open("a") as file:
            file.write(conf)

    def start(self) -> None:
        command = [self.tool("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", f"-p {self.port}"]
        started = subprocess.run(as_postgres([*command, "-w", "-t", "180", "start"]), capture_output=True, timeout=240)
        assert started.returncode == 0, self.log.read_text() if self.log.exists() else started.stderr

    def stop(self) -> None:
        """As a crash would: no checkpoint, every connection dropped."""
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                as_postgres([self.tool("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"]),
                capture_output=True,
                timeout=120,
            )

    def connect(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, autocommit=True)

    def url(self, dbname: str = "postgres", driver: str = "psycopg") -> str:
        return f"postgresql+{driver}://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> None:
        with self.connect() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')

    def has_table(self, name: str) -> bool:
        with self.connect() as connection:
            return connection.execute("SELECT to_regclass(%s) IS NOT NULL", [name]).fetchone()[0]


def wait_for(condition, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
