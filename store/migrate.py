"""Run the platform database migrations (also used by `flowyard db upgrade`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from store.catalog import FTS_TABLE

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def is_modelled(name: str | None, type_: str, _parent_names: dict[str, str | None]) -> bool:
    """Alembic's include_name: leave out what the models do not describe on purpose."""
    return not (type_ == "table" and name and name.startswith(FTS_TABLE))


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")
