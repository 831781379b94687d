"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL: a model
change without its migration (or a migration without its model) fails here, not in production."""

from __future__ import annotations

import uuid

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from store import Base
from store.db import get_engine
from store.migrate import alembic_config, compare_type, is_modelled, upgrade


def test_migrated_schema_matches_the_models(platform_db_url):
    with get_engine(platform_db_url).connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_name": is_modelled, "compare_type": compare_type}
        )
        assert compare_metadata(context, Base.metadata) == []


def _postgres_only(url: str) -> None:
    if not url.startswith("postgresql"):
        pytest.skip("row-level security is PostgreSQL's")


def test_every_tenant_owned_table_has_row_level_security(platform_db_url):
    """A new table with a tenant_id column needs its policy in its migration (see 0007)."""
    _postgres_only(platform_db_url)
    tenant_tables = {table.name for table in Base.metadata.tables.values() if "tenant_id" in table.c}
    with get_engine(platform_db_url).connect() as connection:
        secured = set(
            connection.scalars(
                text(
                    "SELECT c.relname FROM pg_class c JOIN pg_policies p ON p.tablename = c.relname"
                    " WHERE c.relrowsecurity AND c.relforcerowsecurity AND p.policyname = 'tenant_isolation'"
                )
            )
        )
    assert tenant_tables - secured == set()


def test_row_level_security_downgrades_and_upgrades_again(request, platform_db_url, tmp_path):
    url = f"sqlite:///{tmp_path / 'platform.db'}"
    if platform_db_url.startswith("postgresql"):
        url = request.getfixturevalue("postgres").create("rls")
    config = alembic_config(url)
    command.upgrade(config, "0007")
    command.downgrade(config, "0006")
    if url.startswith("postgresql"):
        with get_engine(url).connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM pg_policies")) == 0
    command.upgrade(config, "head")


def test_a_non_superuser_owner_still_crosses_tenants(postgres):
    """The platform's own processes run as the tables' owner, which FORCE puts under the policies: its
    `platform_owner` policy lets it see every tenant. Such an owner may not create or grant roles: the
    migration still succeeds (the API's role switch then needs a superuser's GRANT, or turning off)."""
    owner = f"flowyard_test_owner_{uuid.uuid4().hex[:8]}"
    postgres.conn.execute(f'CREATE ROLE "{owner}" LOGIN NOCREATEROLE NOBYPASSRLS')
    name = f"flowyard_test_owned_{uuid.uuid4().hex[:8]}"
    postgres.conn.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')
    url = postgres.admin_url.rsplit("/", 1)[0].replace("postgres@", f"{owner}@", 1) + f"/{name}"
    try:
        upgrade(url)
        with get_engine(url).begin() as connection:
            ids = [str(uuid.uuid4()) for _ in range(2)]
            for tenant_id in ids:
                connection.execute(
                    text(
                        "INSERT INTO tenants (id, slug, name, time_zone, created_at)"
                        " VALUES (:id, :id, 'tenant', 'UTC', now())"
                    ),
                    {"id": tenant_id},
                )
                connection.execute(
                    text(
                        "INSERT INTO workflows (id, tenant_id, name, slug, description, latest_version, created_at,"
                        " updated_at, conflict_policy, schedules_paused)"
                        " VALUES (:id, :tenant, 'w', 'w', '', 1, now(), now(), 'parallel', false)"
                    ),
                    {"id": str(uuid.uuid4()), "tenant": tenant_id},
                )
            assert connection.scalar(text("SELECT count(*) FROM workflows")) == 2
    finally:
        get_engine(url).dispose()
        postgres.conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        postgres.conn.execute(f'DROP ROLE IF EXISTS "{owner}"')
