"""Alembic environment: migrates the platform database named in the config's `sqlalchemy.url`."""

from alembic import context

import store  # noqa: F401  (registers every table on Base.metadata)
from store.base import Base
from store.db import get_engine
from store.migrate import compare_type, is_modelled

config = context.config


def run_migrations_online() -> None:
    engine = get_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=True,
            include_name=is_modelled,
            compare_type=compare_type,
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
