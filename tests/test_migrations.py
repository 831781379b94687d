"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL: a model
change without its migration (or a migration without its model) fails here, not in production."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from store import Base
from store.db import get_engine
from store.migrate import is_modelled


def test_migrated_schema_matches_the_models(platform_db_url):
    with get_engine(platform_db_url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": is_modelled})
        assert compare_metadata(context, Base.metadata) == []
