"""Tenants, their users, memberships with roles, invitations, API keys, login sessions, password resets and
login attempts (the throttle's counts, shared by every API replica)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, IdMixin, JsonType, TenantOwnedMixin, TimestampMixin

ALL_SCOPES = ["admin"]  # a key limited only by its role


class Tenant(IdMixin, TimestampMixin, Base):
    __tablename__ = "tenants"
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    alert_rules: Mapped[dict[str, Any] | None]  # notifications.rules.AlertRules; empty: the defaults
    search_fields: Mapped[list[str] | None] = mapped_column(JsonType)  # input fields runs are found by; None: defaults
    max_running: Mapped[int | None] = mapped_column(Integer)  # executions running at once; None: no limit
    # Retention policy in days; None: the platform's default (core.settings.RetentionSettings).
    retention_run_history_days: Mapped[int | None] = mapped_column(Integer)
    retention_step_payload_days: Mapped[int | None] = mapped_column(Integer)
    retention_log_days: Mapped[int | None] = mapped_column(Integer)
    # Kubernetes tier (core.settings.KubernetesSettings.tiers): namespace quota and whether the workspace has a
    # Prefect work pool of its own. None (rows older than migration 0020): the settings' default tier.
    tier: Mapped[str | None] = mapped_column(String(32))
    kube_reconciled_at: Mapped[datetime | None]  # last pass that applied its Kubernetes objects; None: never


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))


class Membership(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id"),)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))


class ApiKey(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    """A tenant API key. Only a SHA-256 hash of the secret is stored; the key is shown once."""

    __tablename__ = "api_keys"
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(JsonType, default=lambda: list(ALL_SCOPES))  # read, run, deploy, admin
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class LoginSession(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    """A login token (hashed), issued by signup, login, accepting an invitation and switching workspaces."""

    __tablename__ = "login_sessions"
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_address: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Invitation(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    """An invitation to join a workspace with a role. Only a hash of its one-time token is stored."""

    __tablename__ = "invitations"
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))
    invited_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]


class PasswordReset(IdMixin, TimestampMixin, Base):
    """A one-time password-reset token (hashed) of a user."""

    __tablename__ = "password_resets"
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class LoginAttempt(IdMixin, TimestampMixin, Base):
    """A failed login, counted per `subject` ("account:<email>" or "address:<client address>") for throttling."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_subject_created", "subject", "created_at"),)
    subject: Mapped[str] = mapped_column(String(400))
