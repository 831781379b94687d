"""`flowyard backup` and `flowyard restore`, for real: SQLite's online backup of live databases, retention, and
point-in-time recovery of a PostgreSQL cluster of its own from a base backup and a WAL archive."""

from __future__ import annotations

import argparse
import sqlite3
import threading
from pathlib import Path

import pytest

from core.settings import LAST_BACKUP_FILE, BackupSettings, KeySettings, PrefectSettings, Settings
from flowyard import backup
from flowyard.cli import build_parser


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
