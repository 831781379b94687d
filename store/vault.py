"""The key vault: one random secret per tenant, kept apart from the platform database.

A tenant's data key is wrapped by a key derived from the master key *and* its vault secret
(`blocks.crypto`). Deleting a workspace destroys its vault secret, so its data key no longer opens
anywhere: not in the live database, and not in any backup, dump or replica of it made earlier, even with
the master key. The vault is small and is backed up on its own, with a short retention (see
docs/encryption.md); by default it is a SQLite file beside the platform database.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Column, Engine, LargeBinary, MetaData, String, Table, create_engine, delete, insert, select
from sqlalchemy.exc import IntegrityError

from store.db import normalise_url

_metadata = MetaData()
vault_secrets = Table(
    "tenant_vault_secrets",
    _metadata,
    Column("tenant_id", String(36), primary_key=True),
    Column("secret", LargeBinary(32), nullable=False),
)


@lru_cache(maxsize=8)
def _engine(url: str) -> Engine:
    engine = create_engine(normalise_url(url), pool_pre_ping=True)
    if engine.url.get_backend_name() == "sqlite" and engine.url.database:
        Path(engine.url.database).parent.mkdir(parents=True, exist_ok=True)
    _metadata.create_all(engine)
    return engine


class KeyVault:
    def __init__(self, url: str) -> None:
        self._engine = _engine(url)

    def secret(self, tenant_id: str) -> bytes | None:
        with self._engine.connect() as connection:
            return connection.scalar(select(vault_secrets.c.secret).where(vault_secrets.c.tenant_id == tenant_id))

    def create(self, tenant_id: str) -> bytes:
        """The tenant's secret, made on first use (the same one for concurrent callers)."""
        try:
            with self._engine.begin() as connection:
                connection.execute(insert(vault_secrets).values(tenant_id=tenant_id, secret=os.urandom(32)))
        except IntegrityError:
            pass
        secret = self.secret(tenant_id)
        if secret is None:
            raise RuntimeError(f"tenant {tenant_id}'s vault secret was neither made nor found")
        return secret

    def destroy(self, tenant_id: str) -> bool:
        with self._engine.begin() as connection:
            return bool(
                connection.execute(delete(vault_secrets).where(vault_secrets.c.tenant_id == tenant_id)).rowcount
            )
