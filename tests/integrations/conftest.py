"""Fast integration tests: actions run directly against the fakes and a real platform database (SQLite
and PostgreSQL), without Prefect. A connection's block is sealed and placed in the loader's cache
exactly as `blocks.connections` would have loaded it from Prefect."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import SecretStr

from blocks import connections
from blocks.base import ActionContext, IntegrationBlock
from blocks.crypto import TenantCipher, tenant_cipher
from core.settings import get_settings
from store import Connection, ConnectionStatus, Tenant
from store.db import get_session_factory


@dataclass
class TenantHandle:
    id: str
    slug: str
    cipher: TenantCipher
    db_url: str

    def sessions(self):
        return get_session_factory(self.db_url)

    def ctx(self, node_id: str = "step", mode: str = "live", execution_id: str | None = None) -> ActionContext:
        return ActionContext(
            self.id, execution_id or str(uuid.uuid4()), node_id, mode, logging.getLogger("flowyard.test")
        )

    def connection(
        self, block_type: type[IntegrationBlock], name: str, *, secrets: dict[str, str], **config: Any
    ) -> IntegrationBlock:
        """A saved connection: its row in the database and its sealed block in the loader's cache."""
        block_name = connections.block_name(self.slug, block_type.slug, name)
        sealed = {k: SecretStr(self.cipher.seal(v, context=f"{block_name}:{k}")) for k, v in secrets.items()}
        block = block_type(**config, **sealed)
        with self.sessions().begin() as db:
            row = Connection(
                tenant_id=self.id,
                type=block_type.slug,
                name=name,
                block_name=block_name,
                config={},
                secrets_set={k: True for k in secrets},
                status=ConnectionStatus.OK,
            )
            db.add(row)
            db.flush()
            connection_id, updated_at = row.id, row.updated_at
        connections._blocks[(block_name, updated_at.isoformat())] = (float("inf"), block)
        return block.attach(self.cipher, block_name, connection_id)


TIMEOUT_SECONDS = 1  # in-process the fakes answer in milliseconds
SLOWER_THAN_TIMEOUT = 2  # a fake's Delay that the client gives up on


@pytest.fixture
def integration_env(platform_db_url, fake_services, monkeypatch):
    """Settings of this process point at the test database and the fakes, as the worker's do."""
    monkeypatch.setenv("FLOWYARD_DATABASE_URL", platform_db_url)
    for name, value in fake_services.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FLOWYARD_INTEGRATIONS__TIMEOUT_SECONDS", str(TIMEOUT_SECONDS))
    get_settings.cache_clear()
    yield platform_db_url
    get_settings.cache_clear()


def make_tenant(db_url: str) -> TenantHandle:
    sessions = get_session_factory(db_url)
    slug = f"t{uuid.uuid4().hex[:10]}"
    with sessions.begin() as db:
        tenant = Tenant(name=f"Tenant {slug}", slug=slug)
        db.add(tenant)
        db.flush()
        tenant_id = tenant.id
    with sessions.begin() as db:  # the data key is created in the caller's transaction
        cipher = tenant_cipher(db, tenant_id, master_key=get_settings().master_key.get_secret_value())
    return TenantHandle(tenant_id, slug, cipher, db_url)


@pytest.fixture
def acme(integration_env) -> TenantHandle:
    return make_tenant(integration_env)


@pytest.fixture
def globex(integration_env) -> TenantHandle:
    return make_tenant(integration_env)
