"""Crypto-shredding (issue 22 item 4): deleting a workspace destroys its key-vault secret, so what its data
keys sealed stays unreadable in a copy of the database made before, with the master key in hand."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import Engine, Text, cast, delete, insert, literal, select, type_coerce
from sqlalchemy.orm import Session

from blocks.crypto import DecryptionError, forget_tenant_keys
from store import Base, Tenant, TenantKey
from store.db import get_engine
from store.sealed import Sealed


def _backup(engine: Engine, tenant_id: str) -> dict[str, Any]:
    """What a backup holds of the workspace: its tenant and key rows, and every sealed value it owns."""
    with engine.connect() as connection:
        tenant = connection.execute(select(Tenant.__table__).where(Tenant.id == tenant_id)).mappings().one()
        keys = connection.execute(select(TenantKey.__table__).where(TenantKey.tenant_id == tenant_id)).mappings()
        sealed = [
            (column, raw)
            for table in Base.metadata.sorted_tables
            if "tenant_id" in table.c
            for column in table.c
            if isinstance(column.type, Sealed)
            for raw in connection.scalars(
                select(type_coerce(column, Text)).where(table.c.tenant_id == tenant_id, column.is_not(None))
            )
        ]
        return {"tenant": dict(tenant), "keys": [dict(row) for row in keys], "sealed": sealed}


def _open(engine: Engine, column: Any, raw: str) -> Any:
    """Read a stored value back as the platform reads it: its key is looked up in the database."""
    with Session(engine) as db:
        return db.scalar(select(type_coerce(cast(literal(raw, Text), Text), column.type)))


def test_a_deleted_workspace_stays_unreadable_in_an_earlier_copy_of_the_database(anonymous, platform_db_url):
    owner = anonymous.signup()
    marker = f"shred-{uuid.uuid4().hex}"
    tenant_id = owner.get("/api/v1/tenant").json()["id"]
    graph = {
        "nodes": [
            {"id": "start", "type": "trigger.manual", "label": "Start", "config": {}, "position": {"x": 0, "y": 0}},
            {"id": "say", "type": "util.log", "label": marker, "config": {"message": marker}, "position": {"x": 1, "y": 0}},
        ],
        "edges": [{"id": "e1", "source": "start", "target": "say"}],
    }  # fmt: skip
    assert owner.post("/api/v1/workflows", json={"name": "Shredded", "graph": graph}).status_code == 201
    assert owner.post("/api/v1/crm/activities", json={"body": f"note {marker}"}).status_code == 201
    engine = get_engine(platform_db_url)
    backup = _backup(engine, tenant_id)
    assert {column.table.name for column, _ in backup["sealed"]} >= {"workflow_versions", "crm_activities"}
    assert all(raw.startswith("fy2.") and marker not in raw for _, raw in backup["sealed"])
    assert any(marker in str(_open(engine, column, raw)) for column, raw in backup["sealed"])  # opens before

    deleted = owner.request("DELETE", "/api/v1/tenant", json={"confirm": owner.signup_body["tenant"]["slug"]})
    assert deleted.status_code == 204, deleted.text

    with engine.begin() as connection:  # the backup restored beside the live data, master key unchanged
        connection.execute(insert(Tenant.__table__), [backup["tenant"]])
        connection.execute(insert(TenantKey.__table__), backup["keys"])
    try:
        forget_tenant_keys(tenant_id)  # as a fresh process would start
        for column, raw in backup["sealed"]:
            with pytest.raises(DecryptionError, match="destroyed"):
                _open(engine, column, raw)
    finally:
        with engine.begin() as connection:
            connection.execute(delete(Tenant.__table__).where(Tenant.id == tenant_id))
