"""The `flowyard` command line and its process supervisor, run for real (no mocks).

The full `flowyard up` stack is exercised by the integration tests; here: the checks `up` makes
before it starts anything, `db upgrade`, `version`, and how the supervisor stops its children.
"""

from __future__ import annotations

import base64
import os
import socket
import sqlite3
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pytest

from flowyard.processes import ChildFailed, ChildProcess, RestartPolicy, Supervisor, port_is_free
from tests.support import alive, make_tls_files, python_child

FLOWYARD_SCRIPT = Path(sys.executable).with_name("flowyard")


def flowyard(*args: str, home: Path, env: dict[str, str] | None = None, timeout: float = 120):
    """Run the installed `flowyard` command (or `python -m flowyard`) with a clean FLOWYARD_ environment."""
    command = [str(FLOWYARD_SCRIPT)] if FLOWYARD_SCRIPT.exists() else [sys.executable, "-m", "flowyard"]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWYARD_", "PREFECT_"))}
    full_env = {**clean, "FLOWYARD_HOME": str(home), **(env or {})}
    return subprocess.run(
        [*command, *args], env=full_env, cwd=home.parent, capture_output=True, text=True, timeout=timeout
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def busy_port():
    """A port with a listening socket on it, like a server already running there."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.parametrize("variable", ["FLOWYARD_API__PORT", "FLOWYARD_PREFECT__PORT"])
def test_up_refuses_a_busy_port_before_starting_anything(tmp_path, busy_port, variable):
    home = tmp_path / "home"
    other = "FLOWYARD_PREFECT__PORT" if variable == "FLOWYARD_API__PORT" else "FLOWYARD_API__PORT"
    other_port = free_port()

    result = flowyard("up", home=home, env={variable: str(busy_port), other: str(other_port)})

    assert result.returncode == 2, result.stderr
    assert f"port {busy_port} is already in use: set {variable} to a free port" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not home.exists(), "nothing may be created or started when a port is taken"
    assert port_is_free("127.0.0.1", other_port)


def test_db_upgrade_creates_the_database_under_home_and_is_idempotent(tmp_path):
    home = tmp_path / "home"

    first = flowyard("db", "upgrade", home=home)
    assert first.returncode == 0, first.stderr
    database = home / "platform.db"
    assert database.is_file()
    with sqlite3.connect(database) as connection:
        (head,) = connection.execute("select version_num from alembic_version").fetchone()
        tables = {row[0] for row in connection.execute("select name from sqlite_master where type = 'table'")}
    assert "upgraded from revision None" in first.stdout

    second = flowyard("db", "upgrade", home=home)
    assert second.returncode == 0, second.stderr
    assert f"already at revision {head}" in second.stdout
    with sqlite3.connect(database) as connection:
        assert connection.execute("select version_num from alembic_version").fetchall() == [(head,)]
        assert {row[0] for row in connection.execute("select name from sqlite_master where type = 'table'")} == tables


def test_version_prints_the_package_version(tmp_path):
    result = flowyard("version", home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"flowyard {version('flowyard')}")


def test_invalid_settings_are_one_readable_line(tmp_path):
    result = flowyard("up", home=tmp_path / "home", env={"FLOWYARD_ENVIRONMENT": "production"})
    assert result.returncode == 2
    assert "FLOWYARD_MASTER_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_refuses_an_open_prefect_api(tmp_path):
    env = {"FLOWYARD_ENVIRONMENT": "production", "FLOWYARD_MASTER_KEY": base64.b64encode(b"k" * 32).decode()}
    result = flowyard("up", home=tmp_path / "home", env=env)
    assert result.returncode == 2
    assert "FLOWYARD_PREFECT__AUTH_STRING" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_production_refuses_an_unverified_database_naming_the_setting(tmp_path):
    env = {
        "FLOWYARD_ENVIRONMENT": "production",
        "FLOWYARD_MASTER_KEY": base64.b64encode(b"k" * 32).decode(),
        "FLOWYARD_PREFECT__AUTH_STRING": "ops:secret",
        "FLOWYARD_DATABASE_URL": "postgresql://flowyard:secret@db.internal/flowyard?sslmode=require",
    }
    result = flowyard("up", home=tmp_path / "home", env=env)
    assert result.returncode == 2
    assert result.stderr.startswith("flowyard: invalid settings: settings: FLOWYARD_DATABASE_URL has sslmode=require")
    assert "FLOWYARD_DATABASE_CA" in result.stderr and "secret" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_up_refuses_a_key_that_is_not_the_certificates_before_starting_anything(tmp_path):
    mine, other = make_tls_files(tmp_path), make_tls_files(tmp_path.joinpath("other"))
    home = tmp_path / "home"
    env = {"FLOWYARD_API__TLS_CERT": str(mine.cert), "FLOWYARD_API__TLS_KEY": str(other.key),
           "FLOWYARD_API__PORT": str(free_port()), "FLOWYARD_PREFECT__PORT": str(free_port())}  # fmt: skip

    result = flowyard("up", home=home, env=env)

    assert result.returncode == 2, result.stderr
    assert "FLOWYARD_API__TLS_CERT" in result.stderr and "KEY_VALUES_MISMATCH" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not home.exists(), "nothing may be created or started when the certificate cannot be served"


def gone(pid: int, timeout: float = 10) -> bool:
    """Whether the process is gone within `timeout` (a SIGKILLed process outside our children dies asynchronously)."""
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print("grandchild" + "-pid", grandchild.pid, flush=True)  # split: the log header quotes this code
time.sleep(600)
"""


def test_stop_kills_a_child_that_ignores_sigterm_and_its_children(tmp_path):
    child = python_child(tmp_path, "stubborn", STUBBORN)
    child.start()
    try:
        deadline = time.monotonic() + 30
        while not (announced := [line for line in child.log_tail().splitlines() if line.startswith("grandchild-pid ")]):
            assert time.monotonic() < deadline, child.log_tail()
            time.sleep(0.1)
        grandchild = int(announced[0].split()[1])
    finally:
        child.stop(grace=1.0)

    assert child.returncode() == -9
    assert not alive(child.pid)
    assert gone(grandchild)


def wait_for_line(child: ChildProcess, line: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while line not in child.log_tail().splitlines():
        assert time.monotonic() < deadline, child.log_tail()
        time.sleep(0.1)


def test_supervisor_stops_children_in_reverse_order_and_reports_a_dead_one(tmp_path):
    record = tmp_path / "stopped.txt"
    polite = (
        "import signal, sys, time\n"
        "def bye(*_):\n"
        f"    open({str(record)!r}, 'a').write(sys.argv[1] + '\\n'); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        "print('re' + 'ady', flush=True)\n"
        "time.sleep(600)\n"
    )
    supervisor = Supervisor(policy=RestartPolicy(max_restarts=0))
    try:
        for name in ("first", "second"):
            child = python_child(tmp_path, name, polite)
            child.argv.append(name)
            wait_for_line(supervisor.start(child), "ready")
        supervisor.start(python_child(tmp_path, "crasher", "print('boom'); raise SystemExit(3)"))

        with pytest.raises(ChildFailed, match="giving up") as gave_up:
            supervisor.run(interval=0.1)
        dead = gave_up.value.child
        assert (dead.name, dead.returncode()) == ("crasher", 3)
        assert "boom" in dead.log_tail()
    finally:
        supervisor.stop_all(grace=10.0)
    assert record.read_text().split() == ["second", "first"]
    assert not any(alive(child.pid) for child in supervisor.children)


def test_wait_healthy_fails_with_the_log_when_the_child_exits(tmp_path):
    child = python_child(tmp_path, "broken", "import sys; print('cannot start'); sys.exit(1)")
    child.start()
    try:
        with pytest.raises(ChildFailed, match="broken exited with code 1 before it became healthy"):
            child.wait_healthy(f"http://127.0.0.1:{free_port()}/health", timeout=60, interval=0.1)
    finally:
        child.stop()
    assert "cannot start" in child.log_tail()


def test_up_refuses_a_home_another_up_is_using(tmp_path):
    from flowyard.up import lock_home

    home = tmp_path / "home"
    home.mkdir()
    held = lock_home(home)
    try:
        result = flowyard("up", home=home, env={"FLOWYARD_API__PORT": str(free_port()),
                                               "FLOWYARD_PREFECT__PORT": str(free_port())})  # fmt: skip
    finally:
        held.close()
    assert result.returncode == 2, result.stderr
    assert f"another `flowyard up` is already using {home}" in result.stderr
    assert not (home / "logs" / "prefect-server.log").exists()


def test_children_get_the_malloc_tuning_unless_the_environment_sets_its_own(tmp_path, monkeypatch):
    from core.settings import Settings
    from flowyard.up import MALLOC_ENV, child_env

    for variable in MALLOC_ENV:
        monkeypatch.delenv(variable, raising=False)
    settings = Settings(home=tmp_path)
    env = child_env(settings)
    assert {variable: env[variable] for variable in MALLOC_ENV} == MALLOC_ENV
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")  # an operator's own value wins
    assert child_env(settings)["MALLOC_ARENA_MAX"] == "4"


def test_a_local_prefect_server_on_sqlite_starts_with_its_sqlite_memory_bounded(tmp_path):
    from core.settings import Settings
    from flowyard.prefect_secrets import PrefectSecrets
    from flowyard.up import prefect_server

    def argv(**settings) -> list[str]:
        return prefect_server(Settings(home=tmp_path, **settings), {}, tmp_path, PrefectSecrets(None, None)).argv

    assert argv()[1:5] == ["-m", "flowyard.prefect_server", "64", "server"]
    assert argv(prefect={"sqlite_memory_mb": 0})[1:4] == ["-m", "prefect", "server"]  # Prefect's own caches
    on_postgres = argv(prefect={"database_url": "postgresql+asyncpg://postgres@127.0.0.1/prefect"})
    assert on_postgres[1:4] == ["-m", "prefect", "server"]

    limit = subprocess.run(  # in a process of its own: the limit holds for the whole process
        [sys.executable, "-c", "import sqlite3; from store.db import bound_sqlite_memory as bound;"
         "bound(16); print(sqlite3.connect(':memory:').execute('PRAGMA soft_heap_limit').fetchone()[0])"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert int(limit.stdout) == 16 << 20
    version = subprocess.run(
        [sys.executable, "-m", "flowyard.prefect_server", "16", "version"], capture_output=True, text=True, check=True
    )
    assert "Version:" in version.stdout  # the rest of the command line is Prefect's


def test_a_process_on_an_sqlite_platform_database_bounds_its_sqlite_memory(tmp_path):
    probe = (  # in a process of its own: the limit holds for the whole process
        "import sqlite3; from store.db import get_engine;"
        f"get_engine('sqlite:///{tmp_path}/platform.db');"
        "print(sqlite3.connect(':memory:').execute('PRAGMA soft_heap_limit').fetchone()[0])"
    )
    limit = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert int(limit.stdout) == 4 << 20  # store.db.SQLITE_MEMORY_MB
