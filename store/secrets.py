"""What protects and names credentials: wrapped tenant data keys, connections (their secrets live in Prefect blocks) and pending OAuth authorisations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, IdMixin, TenantOwnedMixin, TimestampMixin, utcnow
from store.statuses import ConnectionStatus

FIRST_KEY_ID = "k0"  # the id of a data key made before data keys had ids


class TenantKey(TimestampMixin, Base):
    """A tenant's current AES-256 data key, wrapped (AES-256-GCM) by the master key and, when `vaulted`, the
    tenant's key-vault secret (store.vault); never stored in clear. `key_id` names it in what it seals;
    `master_key_id` names the master key that wrapped it (None: wrapped before master keys had ids)."""

    __tablename__ = "tenant_keys"
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), server_default=FIRST_KEY_ID)
    wrapped_key: Mapped[str] = mapped_column(Text)
    master_key_id: Mapped[str | None] = mapped_column(String(32))
    wrapped_index_key: Mapped[str | None] = mapped_column(Text)  # the blind indexes' key, wrapped by the same master
    vaulted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # also by the vault secret


class RetiredTenantKey(TimestampMixin, Base):
    """A tenant's earlier data key, kept (wrapped) while a key rotation seals its secrets again: what it
    sealed still opens until then. Deleted when the rotation is done."""

    __tablename__ = "tenant_retired_keys"
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    wrapped_key: Mapped[str] = mapped_column(Text)
    master_key_id: Mapped[str | None] = mapped_column(String(32))
    vaulted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Connection(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    """A tenant's credentials for one service. The secrets live (encrypted) in the Prefect block
    `block_name`; this row keeps what may be shown: non-secret settings and which secrets are set."""

    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("tenant_id", "type", "name"),)
    type: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(60))
    block_name: Mapped[str] = mapped_column(String(200), unique=True)
    config: Mapped[dict[str, Any]]
    secrets_set: Mapped[dict[str, Any]]  # {"api_key": true}
    status: Mapped[str] = mapped_column(String(16), default=ConnectionStatus.UNTESTED)
    last_error: Mapped[dict[str, Any] | None]
    use_for_alerts: Mapped[bool] = mapped_column(Boolean, default=False)
    token_expires_at: Mapped[datetime | None]
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_tested_at: Mapped[datetime | None]


class OAuthState(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    """A pending OAuth authorisation: `state` (hashed) maps the callback to the connection;
    the PKCE verifier is sealed with the tenant's data key."""

    __tablename__ = "oauth_states"
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    sealed_verifier: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime]
