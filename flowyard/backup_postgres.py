"""PostgreSQL's side of `flowyard backup` and `flowyard restore`: a base backup with pg_basebackup, checked with
pg_verifybackup, and point-in-time recovery settings over a WAL archive that the server's archive_command fills
(docs/backups.md). Everything is done by PostgreSQL's own tools."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from core.settings import Settings, is_postgres

BASE = "base"  # the base backup's directory inside a Flowyard backup (plain format, with its backup_manifest)
DEBIAN_BIN = Path("/usr/lib/postgresql")
LIBPQ_QUERY_KEYS = {"sslmode", "sslrootcert", "sslcert", "sslkey", "sslpassword", "connect_timeout", "options"}
START_WAL = re.compile(r"^START WAL LOCATION: \S+ \(file ([0-9A-F]{24})\)$", re.M)


class BackupError(Exception):
    """Something the operator must fix; the command prints it and exits 1."""


class PostgresToolError(BackupError):
    """A PostgreSQL tool is missing or failed."""


def tool(settings: Settings, name: str) -> str:
    """A PostgreSQL program: from FLOWYARD_BACKUP__POSTGRES_BIN, else PATH, else the newest Debian install."""
    if settings.backup.postgres_bin:
        candidates = [settings.backup.postgres_bin / name]
    else:
        found = shutil.which(name)
        installed = [path for path in DEBIAN_BIN.glob("*/bin") if path.parent.name.isdigit()]
        versions = sorted(installed, key=lambda path: int(path.parent.name), reverse=True)
        candidates = [Path(found)] if found else [path / name for path in versions]
    for candidate in candidates:
        if os.access(candidate, os.X_OK):
            return str(candidate)
    raise PostgresToolError(
        f"{name} not found on PATH or under {DEBIAN_BIN}/<version>/bin: install the PostgreSQL client tools or set "
        "FLOWYARD_BACKUP__POSTGRES_BIN to their directory"
    )


def run_tool(command: list[str], *, env: dict[str, str] | None = None, timeout: float | None = None) -> str:
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise PostgresToolError(f"{Path(command[0]).name} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


def libpq_connection(url: str) -> tuple[str, dict[str, str]]:
    """A libpq conninfo string for a SQLAlchemy URL, and the environment carrying its password (kept out of
    process listings)."""
    parsed: URL = make_url(url)
    fields: dict[str, object] = {"host": parsed.host, "port": parsed.port, "user": parsed.username}
    fields |= {"dbname": parsed.database}
    fields |= {key: value for key, value in parsed.query.items() if key in LIBPQ_QUERY_KEYS}
    conninfo = " ".join(f"{key}={_quote(str(value))}" for key, value in fields.items() if value not in (None, ""))
    env = {**os.environ, "PGPASSWORD": parsed.password} if parsed.password else dict(os.environ)
    return conninfo, env


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def cluster_of(url: str) -> tuple[str, int]:
    parsed = make_url(url)
    return parsed.host or "localhost", parsed.port or 5432


def databases_elsewhere(settings: Settings) -> list[str]:
    """Flowyard's databases that a base backup of the platform database's cluster does not hold."""
    cluster = cluster_of(settings.platform_database_url)
    others = {"Prefect's": settings.prefect_database_url, "the key vault's": settings.keys_vault_url}
    return [
        f"{name} database ({make_url(url).render_as_string(hide_password=True)})"
        for name, url in others.items()
        if not is_postgres(url) or cluster_of(url) != cluster
    ]


def base_backup(settings: Settings, into: Path, on_bytes: Callable[[int], None]) -> dict[str, str]:
    """pg_basebackup of the platform database's cluster into `into`/base (plain format, WAL streamed, SHA-256
    manifest, fast checkpoint); calls `on_bytes` with the bytes written so far. Returns its manifest entries."""
    conninfo, env = libpq_connection(settings.platform_database_url)
    base = into / BASE
    command = [tool(settings, "pg_basebackup"), "-d", conninfo, "-D", str(base), "-Fp", "-X", "stream",
               "-c", "fast", "--manifest-checksums=SHA256", "-l", f"flowyard {into.name}"]  # fmt: skip
    with subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as child:
        errors: list[str] = []
        reader = threading.Thread(target=lambda: errors.append(child.stderr.read() if child.stderr else ""))
        reader.start()
        while child.poll() is None:
            on_bytes(tree_size(base))
            reader.join(0.5)
        reader.join()
    if child.returncode != 0:
        raise PostgresToolError(f"pg_basebackup failed ({child.returncode}): {''.join(errors).strip()}")
    on_bytes(tree_size(base))
    match = START_WAL.search((base / "backup_label").read_text())
    host, port = cluster_of(settings.platform_database_url)
    return {"server": f"{host}:{port}", "start_wal": match.group(1) if match else ""}


def tree_size(root: Path) -> int:
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file()) if root.exists() else 0


def verify(settings: Settings, backup: Path) -> None:
    """pg_verifybackup: every file against the base backup's manifest, and the WAL it needs."""
    run_tool([tool(settings, "pg_verifybackup"), "--quiet", str(backup / BASE)], timeout=3600)


def prepare_target(target: Path, *, force: bool) -> None:
    """An empty data directory at `target`; with `force`, what is there is removed, unless a server runs on it."""
    if target.exists() and any(target.iterdir()):
        if not force:
            raise BackupError(f"{target} is not empty: restore into a new directory, or add --force to replace it")
        if (target / "postmaster.pid").exists():
            raise BackupError(f"{target} has a postmaster.pid: stop the PostgreSQL server running on it first")
        shutil.rmtree(target)
    target.mkdir(parents=True, exist_ok=True)
    target.chmod(0o700)  # PostgreSQL refuses a data directory others can read


def write_recovery_settings(target: Path, *, wal_archive: Path, to: datetime | None, backup_name: str) -> None:
    """Recovery from the WAL archive up to `to` (else to the archive's end), then promotion, on the next start."""
    lines = [
        f"# flowyard restore of {backup_name}",
        f"restore_command = {_conf_string(f'cp {_shell_quote(str(wal_archive))}/%f %p')}",
    ]
    if to is not None:
        lines += [f"recovery_target_time = {_conf_string(to.isoformat())}", "recovery_target_action = 'promote'"]
    with (target / "postgresql.auto.conf").open("a") as conf:
        conf.write("\n" + "\n".join(lines) + "\n")
    (target / "recovery.signal").touch()


def _conf_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _shell_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("`", "\\`") + '"'


def trim_wal_archive(settings: Settings, wal_archive: Path, oldest_start_wal: str) -> None:
    """Delete archived WAL older than the oldest base backup kept: no restore can use it any more."""
    run_tool([tool(settings, "pg_archivecleanup"), str(wal_archive), oldest_start_wal], timeout=600)
