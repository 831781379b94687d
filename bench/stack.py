"""The platform as `flowyard up` starts it, in a throwaway home, on SQLite or PostgreSQL; plus helpers
to read process memory and the platform database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("FLOWYARD_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_available() -> bool:
    try:
        import psycopg

        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
        return True
    except Exception:
        return False


class PostgresDatabases:
    def __init__(self) -> None:
        import psycopg

        self.conn = psycopg.connect(POSTGRES_URL, autocommit=True)
        self.names: list[str] = []

    def create(self, label: str) -> str:
        name = f"flowyard_bench_{label}_{uuid.uuid4().hex[:6]}"
        self.conn.execute(f'CREATE DATABASE "{name}"')
        self.names.append(name)
        return f"{POSTGRES_URL.rsplit('/', 1)[0]}/{name}"

    def drop_all(self) -> None:
        for name in self.names:
            self.conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.conn.close()


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB."""
    total = 0
    for child in [pid, *descendants(pid)]:
        try:
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError, TypeError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int(Path(entry, "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.append(int(entry.name))
                found.extend(descendants(int(entry.name)))
    return found


def child_pid(parent: int, needle: str) -> int | None:
    """The descendant of `parent` whose command line contains `needle`."""
    for pid in descendants(parent):
        try:
            if needle in Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode():
                return pid
        except OSError:
            pass
    return None


class Stack:
    """`flowyard up` with its own home and ports; `backend` is "sqlite" or "postgres"."""

    def __init__(self, backend: str, **settings: str) -> None:
        self.backend = backend
        self.home = Path(tempfile.mkdtemp(prefix=f"flowyard-bench-{backend}-"))
        self.api_port, self.prefect_port = free_port(), free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.prefect_url = f"http://127.0.0.1:{self.prefect_port}/api"
        self.env = {
            **os.environ,
            "FLOWYARD_HOME": str(self.home),
            "FLOWYARD_API__PORT": str(self.api_port),
            "FLOWYARD_PREFECT__PORT": str(self.prefect_port),
            "PREFECT_API_URL": self.prefect_url,
            "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            # the benchmarks' target servers and fakes listen on 127.0.0.1: reachable only when allowed
            # (Flowyard's own API, Prefect and databases stay refused)
            "FLOWYARD_EGRESS__ALLOW": '["127.0.0.1/32"]',
            **settings,
        }
        self.env.pop("PREFECT_API_AUTH_STRING", None)  # `flowyard up` makes its own, read back in `start`
        self.databases = None
        if backend == "postgres":
            self.databases = PostgresDatabases()
            self.env["FLOWYARD_DATABASE_URL"] = self.databases.create("platform")
            self.env["FLOWYARD_PREFECT__DATABASE_URL"] = self.databases.create("prefect").replace(
                "postgresql://", "postgresql+asyncpg://"
            )
        self.platform_db_url = self.env.get("FLOWYARD_DATABASE_URL") or f"sqlite:///{self.home / 'platform.db'}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 420) -> Stack:
        log = open(self.home / "up.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flowyard.cli", "up"],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"flowyard up exited: {(self.home / 'up.log').read_text()[-2000:]}")
            try:
                if httpx.get(self.api_url + "/api/v1/health", timeout=2).status_code == 200 and self.worker_pid():
                    self.env["PREFECT_API_AUTH_STRING"] = self.auth_string  # for the processes a benchmark starts
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError("flowyard up did not become ready")

    @property
    def auth_string(self) -> str:
        """The Prefect API's auth string, as `flowyard up` keeps it in the home."""
        from flowyard.prefect_secrets import auth_string_path

        return auth_string_path(self.home).read_text().strip()

    def worker_pid(self) -> int | None:
        return child_pid(self.process.pid, "engine.worker") or child_pid(self.process.pid, "prefect worker")

    def prefect_pid(self) -> int | None:
        return child_pid(self.process.pid, "prefect server start")

    def api_pid(self) -> int | None:
        return child_pid(self.process.pid, "uvicorn")

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by the worker, the Prefect server and the platform API."""
        return {
            "worker": cpu_seconds(self.worker_pid()),
            "prefect": cpu_seconds(self.prefect_pid()),
            "api": cpu_seconds(self.api_pid()),
        }

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        if self.databases:
            time.sleep(1)
            self.databases.drop_all()
