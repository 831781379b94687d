"""Run the platform database migrations (also used by `flowyard db upgrade`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config

from store.catalog import FTS_TABLE
from store.sealed import Sealed

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def is_modelled(name: str | None, type_: str, _parent_names: dict[str, str | None]) -> bool:
    """Alembic's include_name: leave out what the models do not describe on purpose."""
    return not (type_ == "table" and name and name.startswith(FTS_TABLE))


def compare_type(context: Any, _inspected: Any, metadata_column: Any, _inspected_type: Any, _type: Any) -> bool | None:
    """Alembic's compare_type: a sealed column keeps its earlier declared type on SQLite (migration 0019)."""
    if context.dialect.name == "sqlite" and isinstance(metadata_column.type, Sealed):
        return False
    return None  # Alembic's own comparison


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")
