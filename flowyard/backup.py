"""`flowyard backup` and `flowyard restore` (docs/backups.md).

A backup is a directory `<UTC time>-<kind>` under FLOWYARD_BACKUP__DIR with a `manifest.json` (times, kind,
files with sizes and SHA-256). On SQLite (the embedded default) it holds online copies of the platform, Prefect
and key-vault databases made with SQLite's backup API while Flowyard runs; on PostgreSQL, a base backup of the
platform database's cluster (`flowyard.backup_postgres`), which WAL archiving turns into point-in-time recovery.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import DownloadColumn, Progress, TaskID

from core.settings import LAST_BACKUP_FILE, Settings, is_postgres
from flowyard import backup_postgres
from flowyard.backup_postgres import BackupError

MANIFEST = "manifest.json"
PAGES_PER_STEP = 1024  # SQLite pages copied between two progress updates
CHUNK_BYTES = 1 << 20
SettingsLoader = Callable[[], Settings]


@dataclass(frozen=True)
class Backup:
    path: Path
    kind: str  # sqlite | postgres
    finished_at: datetime
    manifest: dict[str, Any]


# --- taking a backup ---------------------------------------------------------------------------------------------


def take_backup(settings: Settings, *, keep: int, console: Console) -> tuple[Backup, list[Path]]:
    """One new backup, then retention: returns it and the older backups deleted."""
    root = settings.backup.directory(settings.home_dir)
    root.mkdir(parents=True, exist_ok=True)
    with exclusively(root):
        for leftover in root.glob("*.partial"):  # an interrupted backup's
            shutil.rmtree(leftover)
        started = now()
        kind = "postgres" if is_postgres(settings.platform_database_url) else "sqlite"
        name = unique_name(root, f"{started:%Y%m%dT%H%M%S.%fZ}-{kind}")
        work = root / f"{name}.partial"
        work.mkdir()
        try:
            contents = (
                copy_sqlite_databases(settings, work, console)
                if kind == "sqlite"
                else base_backup(settings, work, console)
            )
            manifest = {"format": 1, "kind": kind, "flowyard": flowyard_version(), "started_at": started.isoformat()}
            manifest |= contents | {"finished_at": now().isoformat()}
            (work / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
            work.rename(root / name)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        (root / LAST_BACKUP_FILE).touch()
        return read_backup(root / name), prune(settings, root, keep)


def copy_sqlite_databases(settings: Settings, work: Path, console: Console) -> dict[str, Any]:
    databases = sqlite_databases(settings)
    present = [(name, source, relative) for name, source, relative in databases if source.exists()]
    if not any(name == "platform" for name, _, _ in present):
        raise BackupError(f"no platform database at {databases[0][1]}: nothing to back up (is FLOWYARD_HOME right?)")
    files = []
    with Progress(*Progress.get_default_columns(), console=console, transient=True) as progress:
        for name, source, relative in present:
            task = progress.add_task(f"Copying the {name} database", total=None)
            target = work / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            copy_sqlite(source, target, on_pages=partial(show_pages, progress, task))
            files.append(describe(work, target, database=name, source=source))
    return {"files": files, "bytes": sum(entry["bytes"] for entry in files)}


def show_pages(progress: Progress, task: TaskID, left: int, total: int) -> None:
    progress.update(task, completed=total - left, total=total)


def sqlite_databases(settings: Settings) -> list[tuple[str, Path, str]]:
    """Flowyard's SQLite databases: name, file, and path inside a backup (that of FLOWYARD_HOME)."""
    databases = [
        ("platform", settings.platform_database_url, "platform.db"),
        ("prefect", settings.prefect_database_url, "prefect/prefect.db"),
        ("vault", settings.keys_vault_url, "key-vault.db"),
    ]
    return [(name, Path(file), relative) for name, url, relative in databases if (file := sqlite_file(url))]


def sqlite_file(url: str) -> str | None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return (
        parsed.database
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:")
        else None
    )


def copy_sqlite(source: Path, target: Path, *, on_pages: Callable[[int, int], None]) -> None:
    """A consistent copy of a live SQLite database, as of the moment it starts, through SQLite's backup API."""
    with closing(sqlite3.connect(source, timeout=60)) as live, closing(sqlite3.connect(target)) as copy:
        # A read transaction held across the steps pins one snapshot: in WAL mode writers go on meanwhile, and
        # their commits neither enter the copy nor restart it.
        live.execute("BEGIN")
        live.execute("SELECT count(*) FROM sqlite_master").fetchone()
        live.backup(copy, pages=PAGES_PER_STEP, progress=lambda _status, left, total: on_pages(left, total))
        live.rollback()
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        if (check := copy.execute("PRAGMA quick_check").fetchone()[0]) != "ok":
            raise BackupError(f"the copy of {source} fails SQLite's quick_check: {check}")


def base_backup(settings: Settings, work: Path, console: Console) -> dict[str, Any]:
    elsewhere = backup_postgres.databases_elsewhere(settings)
    for database in elsewhere:
        console.print(f"not in this base backup: {database}; back it up on its own", style="yellow", highlight=False)
    columns = (*Progress.get_default_columns()[:1], DownloadColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("Base backup (pg_basebackup)", total=None)
        details = backup_postgres.base_backup(
            settings, work, on_bytes=lambda done: progress.update(task, completed=done)
        )
    manifest = work / backup_postgres.BASE / "backup_manifest"
    total = backup_postgres.tree_size(work / backup_postgres.BASE)
    return {
        "files": [describe(work, manifest, database="cluster")],
        "bytes": total,
        "not_included": elsewhere,
        **details,
    }


def describe(work: Path, path: Path, *, database: str, source: Path | None = None) -> dict[str, Any]:
    entry = {"database": database, "path": path.relative_to(work).as_posix(), "bytes": path.stat().st_size}
    entry["sha256"] = sha256_of(path)
    return entry | ({"source": str(source)} if source else {})


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def exclusively(root: Path) -> Iterator[None]:
    """One backup at a time in a backup directory (the daily run and an operator's may meet)."""
    with (root / ".lock").open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(f"another `flowyard backup` is writing to {root}") from None
        yield


def unique_name(root: Path, name: str) -> str:
    taken = {path.name.removesuffix(".partial") for path in root.iterdir()}
    candidates = (name if n == 0 else f"{name}-{n}" for n in range(len(taken) + 1))
    return next(candidate for candidate in candidates if candidate not in taken)


def now() -> datetime:
    return datetime.now(UTC)


def flowyard_version() -> str:
    try:
        return version("flowyard")
    except PackageNotFoundError:
        return "unknown"


# --- the backups there are, and retention ------------------------------------------------------------------------


def read_backup(path: Path) -> Backup:
    try:
        manifest = json.loads((path / MANIFEST).read_text())
        return Backup(path, manifest["kind"], datetime.fromisoformat(manifest["finished_at"]), manifest)
    except (OSError, ValueError, KeyError) as exc:
        raise BackupError(f"{path} is not a Flowyard backup (no readable {MANIFEST}: {exc})") from exc


def list_backups(root: Path) -> list[Backup]:
    """The finished backups in `root`, oldest first."""
    paths = [path for path in root.glob(f"*/{MANIFEST}")] if root.is_dir() else []
    return sorted((read_backup(path.parent) for path in paths), key=lambda backup: backup.finished_at)


def prune(settings: Settings, root: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups; then archived WAL older than the oldest base backup kept."""
    backups = list_backups(root)
    old, kept = backups[: max(len(backups) - keep, 0)], backups[max(len(backups) - keep, 0) :]
    for backup in old:
        shutil.rmtree(backup.path)
    kept_bases = [backup for backup in kept if backup.kind == "postgres" and backup.manifest.get("start_wal")]
    archive = settings.backup.wal_archive
    if archive and kept_bases and any(backup.kind == "postgres" for backup in old):
        backup_postgres.trim_wal_archive(settings, archive, kept_bases[0].manifest["start_wal"])
    return [backup.path for backup in old]


def choose_backup(root: Path, source: Path | None, to: datetime | None) -> Backup:
    """The backup named, or the latest one finished before `to` (the latest of all without it)."""
    if source is not None:
        backup = read_backup(source)
        if to is not None and to < backup.finished_at:
            raise BackupError(
                f"--to {to.isoformat()} is before backup {backup.path.name} finished ({backup.finished_at.isoformat()}): "
                "a backup restores only to instants after it; choose an older backup, or leave out --from"
            )
        return backup
    backups = list_backups(root)
    if not backups:
        raise BackupError(f"no backups in {root}: name one with --from")
    before = [backup for backup in backups if to is None or backup.finished_at <= to]
    if not before:
        raise BackupError(
            f"--to {to.isoformat() if to else ''} is before every backup in {root}: the oldest, {backups[0].path.name}, "
            f"finished at {backups[0].finished_at.isoformat()}"
        )
    return before[-1]


# --- restoring ----------------------------------------------------------------------------------------------------


def restore(
    settings: Settings,
    *,
    source: Path | None,
    to: datetime | None,
    target: Path,
    wal_archive: Path | None,
    force: bool,
    console: Console,
) -> Backup:
    if to is not None and to > now():
        raise BackupError(f"--to {to.isoformat()} is in the future")
    backup = choose_backup(settings.backup.directory(settings.home_dir), source, to)
    if backup.kind == "sqlite":
        restore_sqlite(backup, target.resolve(), force=force, console=console)
    else:
        archive = wal_archive or settings.backup.wal_archive
        if archive is None or not archive.is_dir():
            raise BackupError(
                f"a PostgreSQL restore replays the WAL archive: give it with --wal-archive or "
                f"FLOWYARD_BACKUP__WAL_ARCHIVE ({archive or 'not set'} is no directory)"
            )
        restore_cluster(
            settings, backup, target.resolve(), to=to, wal_archive=archive.resolve(), force=force, console=console
        )
    return backup


def restore_sqlite(backup: Backup, target: Path, *, force: bool, console: Console) -> None:
    """Each database file where FLOWYARD_HOME keeps it, checked against the manifest; existing files (and their
    -wal and -shm, which SQLite would otherwise apply to the restored file) only with `force`."""
    entries = backup.manifest["files"]
    clashes = [
        str(target / entry["path"]) for entry in entries if any(p.exists() for p in family(target / entry["path"]))
    ]
    if clashes and not force:
        raise BackupError(f"{', '.join(clashes)} already exist: restore into another directory, or add --force")
    with Progress(*Progress.get_default_columns(), console=console, transient=True) as progress:
        for entry in entries:
            task = progress.add_task(f"Restoring the {entry['database']} database", total=entry["bytes"])
            copy_checked(backup.path / entry["path"], target / entry["path"], entry["sha256"], progress, task)


def family(database: Path) -> list[Path]:
    return [database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")]


def copy_checked(source: Path, target: Path, sha256: str, progress: Progress, task: TaskID) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".restoring")
    digest = hashlib.sha256()
    with source.open("rb") as reading, partial.open("wb") as writing:
        while chunk := reading.read(CHUNK_BYTES):
            digest.update(chunk)
            writing.write(chunk)
            progress.advance(task, len(chunk))
        writing.flush()
        os.fsync(writing.fileno())
    if digest.hexdigest() != sha256:
        partial.unlink()
        raise BackupError(f"{source} is damaged: its SHA-256 differs from the manifest's")
    for stale in family(target)[1:]:
        stale.unlink(missing_ok=True)
    partial.replace(target)


def restore_cluster(
    settings: Settings,
    backup: Backup,
    target: Path,
    *,
    to: datetime | None,
    wal_archive: Path,
    force: bool,
    console: Console,
) -> None:
    """The base backup, verified, as a data directory that recovers to `to` from the WAL archive when started."""
    base = backup.path / backup_postgres.BASE
    with console.status("Checking the base backup (pg_verifybackup)"):
        backup_postgres.verify(settings, backup.path)
    backup_postgres.prepare_target(target, force=force)
    with Progress(*Progress.get_default_columns(), console=console, transient=True) as progress:
        task = progress.add_task("Copying the base backup", total=backup_postgres.tree_size(base))

        def copy_counted(source: str, destination: str) -> None:
            shutil.copy2(source, destination)
            progress.advance(task, os.path.getsize(destination))

        shutil.copytree(base, target, dirs_exist_ok=True, copy_function=copy_counted)
    (target / "backup_manifest").unlink(missing_ok=True)
    backup_postgres.write_recovery_settings(target, wal_archive=wal_archive, to=to, backup_name=backup.path.name)


# --- the commands -------------------------------------------------------------------------------------------------


def add_commands(commands: Any) -> None:
    backup = commands.add_parser("backup", help="back up the databases (docs/backups.md)")
    backup.add_argument("--keep", type=positive, metavar="N", help="backups to keep (default FLOWYARD_BACKUP__KEEP)")
    backup.set_defaults(handler=cmd_backup)
    restore = commands.add_parser("restore", help="restore a backup into a new directory (docs/backups.md)")
    restore.add_argument("--from", dest="source", type=Path, metavar="BACKUP", help="a backup directory")
    restore.add_argument(
        "--to",
        type=instant,
        metavar="TIME",
        help="ISO 8601 with a zone: the latest backup before it (PostgreSQL: recover to it)",
    )
    restore.add_argument("--target-dir", type=Path, required=True, metavar="DIR", help="where to write the databases")
    restore.add_argument("--wal-archive", type=Path, metavar="DIR", help="default FLOWYARD_BACKUP__WAL_ARCHIVE")
    restore.add_argument("--force", action="store_true", help="replace what is in the target directory")
    restore.set_defaults(handler=cmd_restore)


def positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of at least 1")
    return int(value)


def instant(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 8601 time, e.g. 2026-12-05T10:00:00Z") from None
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{value!r} has no time zone: add Z or +hh:mm")
    return parsed.astimezone(UTC)


def cmd_backup(settings_loader: SettingsLoader, args: argparse.Namespace) -> int:
    settings, console = settings_loader(), Console(stderr=True)
    started = time.monotonic()
    try:
        backup, deleted = take_backup(settings, keep=args.keep or settings.backup.keep, console=console)
    except (BackupError, sqlite3.Error, OSError) as exc:
        print(f"flowyard backup: {exc}", file=sys.stderr)
        return 1
    size = backup.manifest["bytes"] / 1e6
    print(f"backup {backup.path} ({backup.kind}, {size:.1f} MB) in {time.monotonic() - started:.1f} s")
    for path in deleted:
        print(f"deleted the older backup {path}")
    return 0


def cmd_restore(settings_loader: SettingsLoader, args: argparse.Namespace) -> int:
    settings, console = settings_loader(), Console(stderr=True)
    started = time.monotonic()
    try:
        backup = restore(
            settings,
            source=args.source,
            to=args.to,
            target=args.target_dir,
            wal_archive=args.wal_archive,
            force=args.force,
            console=console,
        )
    except (BackupError, sqlite3.Error, OSError) as exc:
        print(f"flowyard restore: {exc}", file=sys.stderr)
        return 1
    print(f"restored {backup.path.name} into {args.target_dir} in {time.monotonic() - started:.1f} s")
    if backup.kind == "postgres":
        until = f"to {args.to.isoformat()}" if args.to else "to the end of the WAL archive"
        print(
            f"start PostgreSQL on it as its owner (pg_ctl -D {args.target_dir} start): it recovers {until}, then promotes"
        )
    else:
        print(
            f"as of {backup.finished_at.isoformat()}; stop Flowyard, keep FLOWYARD_HOME/secrets, and move the files in"
        )
    return 0
