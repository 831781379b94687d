"""Engines and sessions. SQLite gets WAL, a busy timeout and immediate transactions: the API, the
dispatcher and the worker share its file. On PostgreSQL a session can be scoped to one tenant: each of
its transactions then runs under row-level security as that tenant (migration 0007)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from store.sealed import seal_as

# SQLite's page caches and statements, for all connections of a process together. Each connection's page cache
# grows with the database up to its own bound (2 MB for ours, 80 MB for Prefect's), so a process's RSS crept up
# for minutes under load (bench/README.md, Soak); above this soft limit SQLite reuses memory instead. An idle
# process uses about 2 MB (schema and statements); the database's pages are in the OS's cache anyway.
SQLITE_MEMORY_MB = 4

TENANT_ROLE = "flowyard_tenant"  # created by migration 0007; row-level security applies to it
TENANT_SETTING = "flowyard.tenant_id"  # the tenant the policies compare tenant_id with
_SCOPE_KEY = "flowyard.tenant_scope"


def bound_sqlite_memory(megabytes: int) -> None:
    """Set the soft heap limit of every SQLite connection in this process, those opened later included."""
    with sqlite3.connect(":memory:") as connection:
        connection.execute(f"PRAGMA soft_heap_limit={megabytes << 20}")


def _tune_sqlite(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _begin_immediate(connection: Connection) -> None:
    """Take SQLite's write lock when a transaction starts. A transaction that reads and then writes
    would otherwise fail at once with "database is locked" when another process wrote in between,
    whatever the busy timeout; waiting for the lock up front makes writers queue instead."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever driver the URL names."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url.replace("sqlite+aiosqlite://", "sqlite://")


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        bound_sqlite_memory(SQLITE_MEMORY_MB)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _tune_sqlite)
        event.listen(engine, "begin", _begin_immediate)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


@lru_cache(maxsize=8)
def get_session_factory(url: str) -> sessionmaker[Session]:
    factory = sessionmaker(get_engine(url), expire_on_commit=False)
    if not normalise_url(url).startswith("sqlite"):
        event.listen(factory, "after_begin", _apply_tenant_scope)
    return factory


@dataclass(frozen=True)
class TenantScope:
    tenant_id: str
    # Run as TENANT_ROLE. Without it only the tenant setting is made: the policies then filter only a login
    # role that is neither the tables' owner, a superuser nor BYPASSRLS (e.g. an API with a role of its own).
    switch_role: bool


def scope_to_tenant(session: Session, *, tenant_id: str, switch_role: bool = True) -> None:
    """From now on every transaction of `session` sees only `tenant_id`'s rows (PostgreSQL; nothing on
    SQLite). Settings made with `set_config(..., true)` and `SET LOCAL ROLE` end with their transaction,
    so a pooled connection never carries a tenant to its next user; the session's after_begin hook makes
    them again in each new transaction. A transaction already open is scoped at once."""
    session.info[_SCOPE_KEY] = TenantScope(tenant_id, switch_role)
    seal_as(session, tenant_id)
    if session.in_transaction() and session.get_bind().dialect.name == "postgresql":
        _set_scope(session.connection(), session.info[_SCOPE_KEY])


def _tenant_scope(session: Session) -> TenantScope | None:
    scope = session.info.get(_SCOPE_KEY)
    return scope if isinstance(scope, TenantScope) else None


def _apply_tenant_scope(session: Session, _transaction: SessionTransaction, connection: Connection) -> None:
    scope = _tenant_scope(session)
    if scope is not None and connection.dialect.name == "postgresql":
        _set_scope(connection, scope)


def _set_scope(connection: Connection, scope: TenantScope) -> None:
    if scope.switch_role:
        connection.exec_driver_sql(f"SET LOCAL ROLE {TENANT_ROLE}")
    connection.execute(
        text("SELECT set_config(:name, :tenant, true)"), {"name": TENANT_SETTING, "tenant": scope.tenant_id}
    )


class TenantSessions:
    """Sessions of `factory`, each scoped to one tenant (`scope_to_tenant`), used like a sessionmaker."""

    def __init__(self, factory: sessionmaker[Session], tenant_id: str) -> None:
        self._factory, self._tenant_id = factory, tenant_id

    def __call__(self) -> Session:
        session = self._factory()
        scope_to_tenant(session, tenant_id=self._tenant_id)
        return session

    @contextmanager
    def begin(self) -> Iterator[Session]:
        with self() as session, session.begin():
            yield session


SessionFactory = sessionmaker[Session] | TenantSessions
