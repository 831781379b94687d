"""Fixtures: platform databases (SQLite always, PostgreSQL when FLOWYARD_TEST_POSTGRES_URL is set),
an in-process API for fast tests, and the whole platform started by `flowyard up` for end-to-end ones."""

from __future__ import annotations

import base64
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.fixtures import EGRESS_ALLOW, fake_services  # noqa: F401  (session fixture)
from tests.support import Api, RecordingServer, TlsFiles, free_port, make_tls_files

POSTGRES_ENV = "FLOWYARD_TEST_POSTGRES_URL"
# Test servers listen on 127.0.0.1; steps run in this process (and in every stack) reach them only
# through the egress allow-list. Flowyard's own services stay refused (tests/security/test_egress.py).
os.environ.setdefault("FLOWYARD_EGRESS__ALLOW", EGRESS_ALLOW)
# Prefect code that needs a client where no server is named (prefect-kubernetes' job templates) starts an ephemeral
# server and waits 20 s for it by default: too little beside the other legs on a 2-core machine.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
# One key vault for this process and every stack it starts (as in production, where every process names the
# same vault): a test that writes a workspace's rows itself must wrap its keys as the stack does.
# The same goes for the master key.
os.environ.setdefault("FLOWYARD_KEYS__VAULT_URL", f"sqlite:///{tempfile.mkdtemp(prefix='flowyard-vault-')}/vault.db")
os.environ.setdefault("FLOWYARD_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
BACKENDS = ["sqlite", "postgres"]
STACK_FIXTURES = {"stack", "restartable_stack", "https_stack", "kube_stack"}  # each starts `flowyard up`
BROWSER_DIR = Path(__file__).parent / "browser"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--leg",
        choices=("all", "sqlite", "postgres"),
        default="all",
        help="run only the PostgreSQL leg (tests marked postgres), or only the rest; tests/run_suites.sh runs both "
        "side by side",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Markers from what a test uses, so a new test gets them without remembering (see pyproject.toml):
    `stack` for the fixtures that start the platform, directly or through another fixture; `browser` under
    tests/browser; `postgres` for the PostgreSQL leg of a backend-parametrised fixture or test (its param id)
    and for a test that asks for the `postgres` fixture itself."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & STACK_FIXTURES:
            item.add_marker(pytest.mark.stack)
        if item.path.is_relative_to(BROWSER_DIR):
            item.add_marker(pytest.mark.browser)
        callspec = getattr(item, "callspec", None)
        if "postgres" in fixtures or (callspec is not None and "postgres" in callspec.id.split("-")):
            item.add_marker(pytest.mark.postgres)
    leg = config.getoption("--leg")
    if leg != "all":
        on_postgres = {item: item.get_closest_marker("postgres") is not None for item in items}
        config.hook.pytest_deselected(items=[item for item in items if on_postgres[item] != (leg == "postgres")])
        items[:] = [item for item in items if on_postgres[item] == (leg == "postgres")]


def _postgres_admin_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{POSTGRES_ENV} is not set: in CI the PostgreSQL leg must run, not skip")
        pytest.skip(f"set {POSTGRES_ENV} to run the PostgreSQL leg")
    return url


class PostgresDatabases:
    """Creates throwaway databases on the test server; fails (never skips) when it is unreachable."""

    def __init__(self, admin_url: str) -> None:
        import psycopg

        self.admin_url = admin_url
        self.created: list[str] = []
        try:
            self.conn = psycopg.connect(admin_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
        except Exception as exc:
            pytest.fail(f"PostgreSQL at {POSTGRES_ENV} is unreachable: {exc}")

    def create(self, label: str) -> str:
        name = f"flowyard_test_{label}_{uuid.uuid4().hex[:8]}"
        self.conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        base = self.admin_url.rsplit("/", 1)[0]
        return f"{base}/{name}"

    def drop_all(self) -> None:
        for name in self.created:
            self.conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.conn.close()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases(_postgres_admin_url())
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session", params=BACKENDS)
def platform_db_url(request, tmp_path_factory) -> str:
    """A migrated, empty platform database on each backend."""
    from store.migrate import upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('platform-db') / 'platform.db'}"
    else:
        url = request.getfixturevalue("postgres").create("platform")
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def api_app(platform_db_url: str, tmp_path_factory):
    """The platform API in-process, dispatcher off: for tests that need no workflow engine."""
    from fastapi.testclient import TestClient

    from core.settings import Settings
    from platform_api.app import create_app

    settings = Settings(
        home=tmp_path_factory.mktemp("home"),
        database_url=platform_db_url,
        dispatcher={"enabled": False},
        prefect={"api_url": "http://127.0.0.1:9/api"},  # nothing listens: engine calls fail fast
    )
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        yield client


class InProcessApi(Api):
    def __init__(self, client, token: str | None = None) -> None:
        self.base_url = "http://testserver"
        self.http = client
        self.token = token

    def with_token(self, token: str) -> InProcessApi:
        return InProcessApi(self.http, token)

    def signup(self, tenant_name: str | None = None) -> InProcessApi:
        response = self.http.post(
            "/api/v1/signup",
            json={
                "tenant_name": tenant_name or f"Tenant {uuid.uuid4().hex[:8]}",
                "email": f"{uuid.uuid4().hex[:10]}@example.com",
                "password": "correct horse battery",
            },
        )
        assert response.status_code == 201, response.text
        api = InProcessApi(self.http, response.json()["token"])
        api.signup_body = response.json()
        return api


@pytest.fixture
def anonymous(api_app) -> InProcessApi:
    return InProcessApi(api_app)


@pytest.fixture
def tenant(anonymous) -> InProcessApi:
    return anonymous.signup()


# --- the whole platform, as `flowyard up` starts it -------------------------------------------


class Stack:
    def __init__(self, home: Path, env: dict[str, str], own_worker: bool = False, tls: TlsFiles | None = None) -> None:
        self.home, self.env, self.own_worker, self.tls = home, env, own_worker, tls
        self.worker: subprocess.Popen | None = None
        if own_worker:
            env["FLOWYARD_WORKER__START"] = "false"
        if tls:  # the API over HTTPS with a certificate of the test CA, which the tests' clients trust
            env["FLOWYARD_API__TLS_CERT"], env["FLOWYARD_API__TLS_KEY"] = str(tls.cert), str(tls.key)
        self.verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=tls.ca) if tls else True
        self.api_url = f"{'https' if tls else 'http'}://127.0.0.1:{env['FLOWYARD_API__PORT']}"
        self.prefect_url = f"http://127.0.0.1:{env['FLOWYARD_PREFECT__PORT']}/api"
        log = open(home / "flowyard-up.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flowyard.cli", "up"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def auth_string(self) -> str:
        """The Prefect API's auth string, as `flowyard up` made and keeps it in the home."""
        from flowyard.prefect_secrets import auth_string_path

        return auth_string_path(self.home).read_text().strip()

    @property
    def master_key(self) -> str:
        """The stack's master key: the tests' own, or the one `flowyard up` generated in the home without it."""
        from flowyard.master_key import master_key_path

        return self.env.get("FLOWYARD_MASTER_KEY") or master_key_path(self.home).read_text().strip()

    @property
    def prefect_auth(self) -> httpx.BasicAuth:
        """For raw HTTP calls to the Prefect API (`httpx.get(..., auth=stack.prefect_auth)`)."""
        user, password = self.auth_string.split(":", 1)
        return httpx.BasicAuth(user, password)

    def wait_ready(self, timeout: float = 420) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"flowyard up exited {self.process.returncode}:\n{self.log_tail()}")
            try:
                healthy = httpx.get(self.api_url + "/api/v1/health", timeout=2, verify=self.verify).status_code == 200
                if healthy and (self.own_worker or self._worker_up()):
                    self.env["PREFECT_API_AUTH_STRING"] = self.auth_string  # for the processes tests start
                    self.env["FLOWYARD_MASTER_KEY"] = self.master_key
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"flowyard up not ready after {timeout}s:\n{self.log_tail()}")

    def _worker_up(self) -> bool:
        response = httpx.post(
            self.prefect_url + "/work_pools/flowyard/workers/filter", json={}, timeout=2, auth=self.prefect_auth
        )
        return response.status_code == 200 and bool(response.json())

    def log_tail(self) -> str:
        parts = []
        for path in [self.home / "flowyard-up.log", *sorted((self.home / "logs").glob("*.log"))]:
            if path.exists():
                parts.append(f"== {path.name}\n" + path.read_text(errors="replace")[-4000:])
        return "\n".join(parts)

    def start_worker(self) -> None:
        """`flowyard worker`, as an operator (or a Kubernetes pod) would start it."""
        log = open(self.home / "own-worker.log", "ab")
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "flowyard.cli", "worker"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop_worker(self) -> None:
        if self.worker and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGTERM)
            try:
                self.worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.worker.pid, signal.SIGKILL)
                self.worker.wait()

    def stop(self) -> None:
        self.stop_worker()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


def _start_stack(
    request, tmp_path_factory, own_worker: bool = False, tls: TlsFiles | None = None, extra_env: dict | None = None
) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp(f"stack-{request.param}")
    env = {
        **os.environ,
        "FLOWYARD_HOME": str(home),
        "FLOWYARD_API__PORT": str(free_port()),
        "FLOWYARD_PREFECT__PORT": str(free_port()),
        "FLOWYARD_EXECUTION__RETRY_BASE_SECONDS": "0.2",
        "FLOWYARD_EXECUTION__RETRY_MAX_SECONDS": "2",
        **request.getfixturevalue("fake_services").env,  # SendGrid, Twilio, X, Mastodon fakes (tests/fakes)
        **(extra_env or {}),
    }
    env.pop("PREFECT_API_URL", None)
    env.pop("PREFECT_API_AUTH_STRING", None)  # `flowyard up` makes its own
    if request.param == "postgres":
        databases = request.getfixturevalue("postgres")
        env["FLOWYARD_DATABASE_URL"] = databases.create("platform")
        env["FLOWYARD_PREFECT__DATABASE_URL"] = databases.create("prefect").replace(
            "postgresql://", "postgresql+asyncpg://"
        )
    running = Stack(home, env, own_worker, tls)
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()
        if request.node.session.testsfailed:
            print(running.log_tail())


@pytest.fixture(scope="session", params=BACKENDS)
def stack(request, tmp_path_factory) -> Iterator[Stack]:
    """The whole platform as `flowyard up` starts it, worker included."""
    yield from _start_stack(request, tmp_path_factory)


@pytest.fixture(scope="session", params=BACKENDS)
def restartable_stack(request, tmp_path_factory) -> Iterator[Stack]:
    """The platform with a worker the test starts and stops itself (`flowyard worker`)."""
    yield from _start_stack(request, tmp_path_factory, own_worker=True)


@pytest.fixture(scope="module", params=["sqlite"])  # TLS is the API's: one backend is enough
def https_stack(request, tmp_path_factory) -> Iterator[Stack]:
    """The platform with its API served over HTTPS (`stack.tls`: a test CA and the certificate it signed)."""
    yield from _start_stack(request, tmp_path_factory, tls=make_tls_files(tmp_path_factory.mktemp("tls")))


@pytest.fixture(scope="session")
def target_server() -> Iterator[RecordingServer]:
    server = RecordingServer().start()
    yield server
    server.stop()


@pytest.fixture
def minimal_graph() -> dict:
    return {
        "nodes": [
            {"id": "start", "type": "trigger.manual", "label": "Start", "config": {}, "position": {"x": 0, "y": 0}},
            {
                "id": "say",
                "type": "util.log",
                "label": "Say",
                "config": {"message": "hi {{ trigger.name }}"},
                "position": {"x": 200, "y": 0},
            },
        ],
        "edges": [{"id": "e1", "source": "start", "target": "say"}],
    }
