"""`flowyard up`: the embedded platform (Prefect server, platform API, worker) as supervised children."""

from __future__ import annotations

import fcntl
import os
import signal
import ssl
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import SecretStr
from rich.console import Console

from core.settings import Settings
from flowyard import master_key, prefect_secrets
from flowyard.prefect_secrets import PrefectSecrets
from flowyard.processes import (
    ChildFailed,
    ChildProcess,
    HealthCheck,
    RestartPolicy,
    Supervisor,
    port_is_free,
    report_failure,
)

HEALTH_TIMEOUT_SECONDS = 300.0  # a loaded 2-core machine can take minutes to start Prefect
STOP_GRACE_SECONDS = 10.0
SUPERVISOR_LOG = "supervisor.log"
EXIT_CONFIG_ERROR = 2
SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

console = Console(soft_wrap=True, highlight=False)

# glibc malloc in the children (read when each starts; a value already in the environment wins). By default every
# thread that allocates gets an arena of its own, up to 8 per core (aiosqlite's connection threads, anyio's and
# asyncio's worker threads), each keeping what its threads freed, and the threshold above which a block is mmapped
# (and given back when freed) rises with the largest block freed so far. Under a sustained load the Prefect server's
# RSS grew 3.6-5 MB/min while the memory it used stayed flat: free memory kept in the arenas, not a leak. Two arenas
# and a fixed 128 KiB threshold: +0.7 MB/min in the same conditions (bench/README.md, Soak, with what remains).
MALLOC_ENV = {"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_TRIM_THRESHOLD_": "131072"}


class StartupError(Exception):
    """Something other than a child failed while starting."""


class Shutdown(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived; like Ctrl-C, it is no `Exception`, so nothing on the way swallows it."""


def port_conflict(settings: Settings) -> str | None:
    """One line naming the setting to change if a port `up` will bind is taken, else None."""
    ports = [("FLOWYARD_API__PORT", settings.api.host, settings.api.port)]
    if settings.prefect.start_server:
        if settings.prefect.port == settings.api.port:
            return (
                f"FLOWYARD_API__PORT and FLOWYARD_PREFECT__PORT are both {settings.api.port}: give them different ports"
            )
        ports.append(("FLOWYARD_PREFECT__PORT", "127.0.0.1", settings.prefect.port))
    for variable, host, port in ports:
        if not port_is_free(host, port):
            return f"port {port} is already in use: set {variable} to a free port"
    return None


def tls_problem(settings: Settings) -> str | None:
    """One line if the API's certificate and key (when set) cannot serve TLS, else None."""
    api = settings.api
    if api.tls_cert is None or api.tls_key is None:
        return None
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(api.tls_cert, api.tls_key)
    except (OSError, ssl.SSLError) as exc:
        return (
            f"FLOWYARD_API__TLS_CERT ({api.tls_cert}) and FLOWYARD_API__TLS_KEY ({api.tls_key}) are not a PEM "
            f"certificate and its unencrypted key: {exc}"
        )
    return None


def api_health_probe(settings: Settings) -> tuple[str, ssl.SSLContext | bool, str | None]:
    """Where `up` asks whether its API is up, what it trusts there, and the name the certificate must carry.

    Over TLS the probe reaches the local address, trusts only the certificate the API serves (as a trust anchor
    of its own, partial chain: a self-signed, a private CA's or a public certificate all verify) and checks it
    for the host users reach (that of FLOWYARD_API__PUBLIC_URL, else the local address)."""
    host, port = _probe_host(settings.api.host), settings.api.port
    if settings.api.tls_cert is None:
        return f"http://{host}:{port}/api/v1/health", True, None
    trust = ssl.create_default_context(cafile=settings.api.tls_cert)
    trust.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    server_name = urlsplit(settings.api.public_url).hostname if settings.api.public_url else None
    return f"https://{host}:{port}/api/v1/health", trust, server_name


def child_env(settings: Settings, auth_string: str | None = None) -> dict[str, str]:
    """What every child (and this process) sees: one home, one Prefect API and its auth string, no telemetry,
    malloc tuned to give back what it frees (`MALLOC_ENV`).

    Prefect's clients in the children (the worker's, a flow run's, the API's) read PREFECT_API_AUTH_STRING, and
    Prefect's workers copy it into the environment of every flow run they start."""
    home = settings.home_dir
    env = {
        **MALLOC_ENV,
        **os.environ,
        "FLOWYARD_HOME": str(home),
        "PREFECT_HOME": str(home / "prefect"),
        "PREFECT_API_URL": settings.prefect_api_url,
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PYTHONUNBUFFERED": "1",
    }
    if auth_string:
        env["PREFECT_API_AUTH_STRING"] = auth_string
    return env


def _probe_host(host: str) -> str:
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)


def prefect_server(settings: Settings, env: dict[str, str], logs: Path, secrets: PrefectSecrets) -> ChildProcess:
    """The local Prefect server: its API closed to requests without the auth string (all but GET /api/health
    and /api/ready, and the UI's static files and settings: the UI asks for the auth string at login), its
    blocks encrypted with a key kept outside its database."""
    port = str(settings.prefect.port)
    argv = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", port]
    if settings.prefect_database_url.startswith("sqlite") and settings.prefect.sqlite_memory_mb:
        argv[1:3] = ["-m", "flowyard.prefect_server", str(settings.prefect.sqlite_memory_mb)]
    env = {
        **env,
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": settings.prefect_database_url,
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": port,
        "PREFECT_UI_ENABLED": "true",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    if secrets.auth_string:
        env["PREFECT_SERVER_API_AUTH_STRING"] = secrets.auth_string
    if secrets.encryption_key:
        env["PREFECT_SERVER_ENCRYPTION_KEY"] = secrets.encryption_key
    return ChildProcess("prefect-server", argv, env, logs / "prefect-server.log")


def platform_api(settings: Settings, env: dict[str, str], logs: Path) -> ChildProcess:
    argv = [sys.executable, "-m", "uvicorn", "platform_api.app:create_app", "--factory",
            "--host", settings.api.host, "--port", str(settings.api.port),
            "--timeout-keep-alive", str(settings.api.keep_alive_seconds)]  # fmt: skip
    if settings.api.tls_cert and settings.api.tls_key:  # HTTPS only: plain HTTP to this port fails
        argv += ["--ssl-certfile", str(settings.api.tls_cert), "--ssl-keyfile", str(settings.api.tls_key)]
    return ChildProcess("platform-api", argv, env, logs / "platform-api.log")


def worker(settings: Settings, env: dict[str, str], logs: Path) -> ChildProcess:
    """The Flowyard worker (many flow runs in one process), or Prefect's process worker if configured."""
    config = settings.worker
    if config.type == "flowyard":
        argv = [
            sys.executable,
            "-m",
            "engine.worker",
            "--pool",
            config.work_pool,
            "--limit",
            str(settings.worker_limit),
        ]
        return ChildProcess("worker", argv, env, logs / "worker.log")
    argv = [sys.executable, "-m", "prefect", "worker", "start", "--pool", config.work_pool,
            "--type", "process", "--limit", str(settings.worker_limit), "--install-policy", "never"]  # fmt: skip
    env = {**env, "PREFECT_WORKER_QUERY_SECONDS": str(config.poll_seconds),
           "PREFECT_WORKER_PREFETCH_SECONDS": "5"}  # fmt: skip
    return ChildProcess("worker", argv, env, logs / "worker.log")


def ensure_work_pool(settings: Settings, name: str, pool_type: str) -> None:
    """Create the work pool, of the configured worker's type, unless it exists.

    Either worker runs a pool of the other type (Prefect only warns about the mismatch); only runs
    in pools of type "flowyard" get crash detection for dead Flowyard workers.
    """
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists
    from prefect.workers.process import ProcessWorker

    from core.prefect_client import prefect_client

    # The Flowyard worker fills in its (base) job template itself when the pool has none.
    template = ProcessWorker.get_default_base_job_template() if pool_type == "process" else {}
    pool = WorkPoolCreate(name=name, type=pool_type, base_job_template=template)
    with prefect_client(settings) as client:
        try:
            client.create_work_pool(pool)
        except ObjectAlreadyExists:
            existing = client.read_work_pool(name)
            if existing.type != pool_type:
                console.print(
                    f"[yellow]work pool {name!r} has type {existing.type!r}, the worker is "
                    f"{pool_type!r}: it runs it all the same[/]"
                )


def ensure_maintenance(settings: Settings) -> None:
    """The hourly `flowyard-maintenance` deployment (retention) in the worker's pool, created or updated."""
    from core.prefect_client import prefect_client
    from engine.maintenance import ensure_maintenance_deployment

    with prefect_client(settings) as client:
        ensure_maintenance_deployment(client, work_pool=settings.worker.work_pool)


def lock_home(home: Path):
    """Hold an exclusive lock on the home for as long as this process lives; None if another `up` holds it."""
    handle = open(home / "up.lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def _raise_shutdown(signum, _frame) -> None:
    raise Shutdown(signal.Signals(signum).name)


def _start(supervisor: Supervisor, child: ChildProcess, label: str, health: HealthCheck | None = None) -> None:
    supervisor.start(child, health)
    if health:
        with console.status(f"Starting {label} (log: {child.log_path}) ..."):
            child.wait_healthy(health.url, HEALTH_TIMEOUT_SECONDS, verify=health.verify, server_name=health.server_name)
    console.print(f"[green]✓[/] {label} started (pid {child.pid})")


def start_all(
    settings: Settings, supervisor: Supervisor, env: dict[str, str], logs: Path, secrets: PrefectSecrets
) -> None:
    if settings.prefect.start_server:
        health = settings.prefect_api_url.rstrip("/") + "/health"  # GET /health needs no auth string
        _start(supervisor, prefect_server(settings, env, logs, secrets), "Prefect server", HealthCheck(health))
    if settings.worker.start:  # before the API, which would otherwise create it (type "flowyard") on a publish
        try:
            ensure_work_pool(settings, settings.worker.work_pool, settings.worker.type)
        except Exception as exc:
            raise StartupError(f"could not create work pool {settings.worker.work_pool!r}: {exc}") from exc
        try:
            ensure_maintenance(settings)
        except Exception as exc:
            raise StartupError(f"could not create the flowyard-maintenance deployment: {exc}") from exc
    _start(supervisor, platform_api(settings, env, logs), "platform API", HealthCheck(*api_health_probe(settings)))
    if settings.worker.start:
        label = f"{settings.worker.type} worker (pool {settings.worker.work_pool!r})"
        _start(supervisor, worker(settings, env, logs), label)


def print_banner(settings: Settings, logs: Path) -> None:
    base = settings.api_public_url.rstrip("/")
    prefect_ui = settings.prefect_api_url.removesuffix("/").removesuffix("/api")
    console.print("\n[bold]Flowyard is running.[/]")
    console.print(f"  Builder UI   {base}/", markup=False)
    console.print(f"  API docs     {base}/docs", markup=False)
    console.print(f"  Prefect UI   {prefect_ui}", markup=False)
    if settings.prefect.start_server and settings.prefect.auth_string is None:
        # the path, never the secret: this banner ends up in logs
        where = prefect_secrets.auth_string_path(settings.home_dir)
        console.print(f"               log in with the auth string in {where}", markup=False)
    elif settings.prefect.start_server:
        console.print(
            "               log in with the auth string you set (FLOWYARD_PREFECT__AUTH_STRING)", markup=False
        )
    console.print(f"  Logs         {logs}/", markup=False)
    console.print(f"  Data         {settings.home_dir}", markup=False)
    console.print("Press Ctrl-C to stop.\n")


def _with_auth_string(settings: Settings, secrets: PrefectSecrets) -> Settings:
    """These settings, with the auth string `up` resolved (for its own Prefect calls)."""
    if secrets.auth_string is None:
        return settings
    prefect = settings.prefect.model_copy(update={"auth_string": SecretStr(secrets.auth_string)})
    return settings.model_copy(update={"prefect": prefect})


def run_up(settings: Settings) -> int:
    conflict = port_conflict(settings) or tls_problem(settings)
    if conflict:
        print(f"flowyard up: {conflict}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    home, logs = settings.home_dir, settings.home_dir / "logs"
    for directory in (home, logs, home / "prefect"):
        directory.mkdir(parents=True, exist_ok=True)
    lock = lock_home(home)
    if lock is None:
        print(f"flowyard up: another `flowyard up` is already using {home}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    try:
        secrets = prefect_secrets.resolve(settings)
        generated_master_key = master_key.resolve(settings)
    except (OSError, ValueError) as exc:
        print(f"flowyard up: secrets under {home / 'secrets'}: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    env = child_env(settings, secrets.auth_string)
    if generated_master_key:
        env["FLOWYARD_MASTER_KEY"] = generated_master_key
    os.environ.update(env)  # so in-process Prefect calls talk to our server and keep state under home
    from store.migrate import upgrade

    try:
        upgrade(settings.platform_database_url)
    except Exception as exc:  # one readable line, not a traceback
        first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
        print(f"flowyard up: platform database migration failed: {first_line}", file=sys.stderr)
        return 1
    if generated_master_key:
        from blocks.crypto import DecryptionError

        try:
            master_key.rewrap_placeholder_keys(settings, generated_master_key)
        except DecryptionError as exc:
            print(f"flowyard up: {exc}", file=sys.stderr)
            return EXIT_CONFIG_ERROR
    return supervise(settings, env, logs, secrets)


def supervise(settings: Settings, env: dict[str, str], logs: Path, secrets: PrefectSecrets) -> int:
    limits = settings.supervision
    policy = RestartPolicy(
        health_timeout=HEALTH_TIMEOUT_SECONDS, max_restarts=limits.max_restarts, window=limits.restart_window_seconds
    )
    supervisor = Supervisor(logs / SUPERVISOR_LOG, policy)

    def start() -> None:
        start_all(_with_auth_string(settings, secrets), supervisor, env, logs, secrets)
        print_banner(settings, logs)

    return keep_running(supervisor, start)


def keep_running(supervisor: Supervisor, start: Callable[[], None]) -> int:
    """Start the children, restart those that crash until Ctrl-C or SIGTERM (0), stop them all. 1 when a child
    fails to start or crash-loops, or something else fails while starting."""
    for sig in SHUTDOWN_SIGNALS:
        signal.signal(sig, _raise_shutdown)
    try:
        start()
        supervisor.run()
        return 0
    except ChildFailed as exc:
        report_failure(exc.child, str(exc))
        return 1
    except StartupError as exc:
        print(f"flowyard up: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C, or Shutdown
        console.print("\nStopping Flowyard ...")
        return 0
    finally:
        for sig in SHUTDOWN_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        supervisor.stop_all(STOP_GRACE_SECONDS)
        console.print("Flowyard stopped.")
