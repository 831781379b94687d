"""`flowyard backup` and `flowyard restore`, for real: SQLite's online backup of live databases, retention, and
point-in-time recovery of a PostgreSQL cluster of its own from a base backup and a WAL archive."""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.settings import LAST_BACKUP_FILE, BackupSettings, KeySettings, PrefectSettings, Settings
from engine.maintenance import DAILY_BACKUP_COMMAND, backup_due
from flowyard import backup
from flowyard.cli import build_parser
from tests.pg_cluster import Cluster, give_to_postgres, scratch_directory, wait_for


def sqlite_settings(home: Path, **backup_settings: object) -> Settings:
    return Settings(
        home=home,
        database_url=f"sqlite:///{home / 'platform.db'}",
        prefect=PrefectSettings(database_url=f"sqlite+aiosqlite:///{home / 'prefect' / 'prefect.db'}"),
        keys=KeySettings(vault_url=f"sqlite:///{home / 'key-vault.db'}"),
        backup=BackupSettings(**backup_settings),
    )


def flowyard(settings: Settings, *argv: str) -> int:
    """A `flowyard` command run in this process with these settings."""
    args: argparse.Namespace = build_parser().parse_args(argv)
    return args.handler(lambda: settings, args)


def live_database(path: Path, rows: int) -> sqlite3.Connection:
    """A database as Flowyard leaves it running: WAL mode, commits not checkpointed into the file yet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA wal_autocheckpoint=0")
    connection.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, payload TEXT)")
    add_rows(connection, rows)
    return connection


def add_rows(connection: sqlite3.Connection, rows: int) -> None:
    """`rows` rows in one transaction."""
    connection.execute("BEGIN IMMEDIATE")
    connection.executemany("INSERT INTO runs (payload) VALUES (?)", [("x" * 200,)] * rows)
    connection.execute("COMMIT")


def count(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return connection.execute("SELECT count(*) FROM runs").fetchone()[0]


@pytest.fixture
def home(tmp_path: Path):
    home = tmp_path / "home"
    connections = [
        live_database(home / "platform.db", 3000),
        live_database(home / "prefect" / "prefect.db", 20),
        live_database(home / "key-vault.db", 2),
    ]
    yield home
    for connection in connections:
        connection.close()


def test_sqlite_backup_restores_the_databases_as_they_were(home: Path, tmp_path: Path):
    settings = sqlite_settings(home)
    platform = sqlite3.connect(home / "platform.db", isolation_level=None)

    assert flowyard(settings, "backup") == 0
    add_rows(platform, 500)  # after the backup: not in it
    platform.close()
    [taken] = backup.list_backups(home / "backups")
    target = tmp_path / "restored"
    assert flowyard(settings, "restore", "--from", str(taken.path), "--target-dir", str(target)) == 0

    assert (count(target / "platform.db"), count(target / "prefect/prefect.db"), count(target / "key-vault.db")) == (
        3000,
        20,
        2,
    )
    assert count(home / "platform.db") == 3500
    files = {entry["path"]: entry for entry in taken.manifest["files"]}
    assert sorted(files) == ["key-vault.db", "platform.db", "prefect/prefect.db"]
    assert files["platform.db"]["sha256"] == backup.sha256_of(target / "platform.db")
    assert taken.manifest["kind"] == "sqlite" and (home / "backups" / LAST_BACKUP_FILE).exists()


def test_a_backup_is_one_snapshot_while_writers_go_on(home: Path, tmp_path: Path):
    settings = sqlite_settings(home)
    stop = threading.Event()

    def write() -> None:
        with sqlite3.connect(home / "platform.db", isolation_level=None, timeout=30) as writer:
            while not stop.is_set():
                add_rows(writer, 10)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert flowyard(settings, "backup") == 0
    finally:
        stop.set()
        writer.join()
    [taken] = backup.list_backups(home / "backups")
    copied = count(taken.path / "platform.db")
    assert 3000 <= copied <= count(home / "platform.db") and copied % 10 == 0  # whole transactions only


def test_restore_overwrites_nothing_without_force(home: Path, tmp_path: Path, capsys):
    settings = sqlite_settings(home)
    assert flowyard(settings, "backup") == 0
    target = tmp_path / "restored"
    other = live_database(target / "platform.db", 7)  # with a -wal beside it that would spoil a copied-in file
    other.close()
    (target / "platform.db-wal").write_bytes(b"stale")

    assert flowyard(settings, "restore", "--target-dir", str(target)) == 1
    assert "add --force" in capsys.readouterr().err
    assert count(target / "platform.db") == 7

    assert flowyard(settings, "restore", "--target-dir", str(target), "--force") == 0
    assert count(target / "platform.db") == 3000 and not (target / "platform.db-wal").exists()


def test_restore_refuses_an_instant_before_the_backup(home: Path, tmp_path: Path, capsys):
    settings = sqlite_settings(home)
    assert flowyard(settings, "backup") == 0
    [taken] = backup.list_backups(home / "backups")
    target = str(tmp_path / "restored")

    assert flowyard(settings, "restore", "--to", "2020-01-01T00:00:00Z", "--target-dir", target) == 1
    assert "is before every backup" in capsys.readouterr().err
    assert (
        flowyard(settings, "restore", "--from", str(taken.path), "--to", "2020-01-01T00:00Z", "--target-dir", target)
        == 1
    )
    assert "is before backup" in capsys.readouterr().err
    assert not Path(target).exists()


def test_retention_deletes_the_oldest_backups_only(home: Path):
    settings = sqlite_settings(home, keep=3)
    taken = []
    for _ in range(4):
        assert flowyard(settings, "backup") == 0
        taken.append(backup.list_backups(home / "backups")[-1].path.name)
    assert [kept.path.name for kept in backup.list_backups(home / "backups")] == taken[1:]

    assert flowyard(settings, "backup", "--keep", "2") == 0

    left = [kept.path.name for kept in backup.list_backups(home / "backups")]
    assert left[0] == taken[-1] and len(left) == 2 and left[1] not in taken


def test_the_daily_backup_is_due_a_day_after_the_last(home: Path):
    settings = sqlite_settings(home)
    now = datetime.now(UTC)
    assert backup_due(settings, now)  # none yet

    assert flowyard(settings, "backup") == 0
    assert not backup_due(settings, now + timedelta(hours=23))
    assert backup_due(settings, now + timedelta(hours=24))

    on_postgres = settings.model_copy(update={"database_url": "postgresql+psycopg://flowyard@db/flowyard"})
    assert not backup_due(on_postgres, now + timedelta(days=2))  # off by default there
    on_postgres.backup.daily = True
    assert backup_due(on_postgres, now + timedelta(days=2))


def test_the_command_the_maintenance_flow_runs_takes_a_backup(home: Path):
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("FLOWYARD_", "PREFECT_"))}
    env = {**clean, "FLOWYARD_HOME": str(home), "FLOWYARD_KEYS__VAULT_URL": f"sqlite:///{home / 'key-vault.db'}"}

    result = subprocess.run(DAILY_BACKUP_COMMAND, env=env, capture_output=True, text=True, timeout=300)

    assert result.returncode == 0, result.stderr
    [taken] = backup.list_backups(home / "backups")
    assert count(taken.path / "platform.db") == 3000 and str(taken.path) in result.stdout


# --- PostgreSQL: point-in-time recovery -----------------------------------------------------------------------


@pytest.fixture
def scratch() -> Iterator[Path]:
    with scratch_directory("flowyard-pitr-") as path:
        yield path


@pytest.mark.postgres
def test_point_in_time_recovery_from_a_base_backup_and_the_wal_archive(scratch: Path, capsys):
    archive, restored = scratch / "wal-archive", scratch / "restored"
    archive.mkdir()
    give_to_postgres(archive)
    probe = sqlite_settings(scratch / "home")
    primary, recovered = Cluster(probe, scratch / "primary"), Cluster(probe, restored)
    try:
        primary.initdb(archive)
        primary.start()
        settings = Settings(
            home=scratch / "home",
            database_url=primary.url(),
            prefect=PrefectSettings(database_url=primary.url(driver="asyncpg")),
            keys=KeySettings(vault_url=primary.url()),
            backup=BackupSettings(dir=scratch / "backups", wal_archive=archive),
        )
        assert flowyard(settings, "backup") == 0
        with primary.connect() as connection:
            connection.execute("CREATE TABLE a (x int)")
            connection.execute("INSERT INTO a VALUES (1)")
            noted = datetime.now(UTC)
            time.sleep(1.1)
            connection.execute("CREATE TABLE b (x int)")
            connection.execute("DROP TABLE a")
            [segment] = connection.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()

            def archived() -> bool:
                [last] = connection.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()
                return last is not None and last >= segment

            wait_for(archived, timeout=120, what=f"WAL segment {segment} to be archived")
        [base] = backup.list_backups(scratch / "backups")
        before_it = (base.finished_at - timedelta(minutes=1)).isoformat()
        assert (
            flowyard(settings, "restore", "--from", str(base.path), "--to", before_it, "--target-dir", str(restored))
            == 1
        )
        assert "is before backup" in capsys.readouterr().err and not restored.exists()

        assert flowyard(settings, "restore", "--to", noted.isoformat(), "--target-dir", str(restored)) == 0
        give_to_postgres(restored)
        started = time.monotonic()
        recovered.start()
        with recovered.connect() as connection:
            wait_for(
                lambda: not connection.execute("SELECT pg_is_in_recovery()").fetchone()[0],
                timeout=180,
                what="the restored server to reach the target and promote",
            )
        print(f"recovery to the target and promotion took {time.monotonic() - started:.1f} s")
        assert recovered.has_table("a") and not recovered.has_table("b")
        assert primary.has_table("b") and not primary.has_table("a")

        assert flowyard(settings, "backup", "--keep", "1") == 0  # retention: the first base backup and its WAL go
        [newer] = backup.list_backups(scratch / "backups")
        left = [path.name for path in archive.iterdir() if len(path.name) == 24]  # WAL segments, any timeline
        assert newer.path != base.path and segment not in left
        assert all(name[8:] >= newer.manifest["start_wal"][8:] for name in left)
    finally:
        recovered.stop()
        primary.stop()
