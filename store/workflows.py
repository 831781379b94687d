"""Workflows and their immutable versions, and the trash deleted workflows wait in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, IdMixin, TenantOwnedMixin, TimestampMixin, utcnow
from store.sealed import EncryptedJSON
from store.statuses import ConflictPolicy

TRASH_DAYS = 30  # a deleted workflow can be restored this long; the hourly retention purge deletes it after


def trashed_name(name: str, workflow_id: str) -> str:
    """The name a deleted workflow holds while in the trash (its own in `deleted_name`), so that a live workflow
    may take its name: unique by the id, and still readable where its runs are listed."""
    return f"{name[:150]} (deleted {workflow_id})"


class Workflow(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    __tablename__ = "workflows"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        UniqueConstraint("tenant_id", "slug"),
        Index("ix_workflows_tenant_key", "tenant_id", "key", unique=True),
    )
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(Text, default="")
    latest_version: Mapped[int] = mapped_column(Integer, default=1)
    published_version: Mapped[int | None]
    deployment_id: Mapped[str | None] = mapped_column(String(36))
    conflict_policy: Mapped[str] = mapped_column(String(16), default=ConflictPolicy.PARALLEL)
    max_parallel: Mapped[int | None] = mapped_column(Integer)
    schedules_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)  # no trigger starts it; schedules pause
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(index=True)  # in the trash since; no trigger starts it
    deleted_name: Mapped[str | None] = mapped_column(String(200))  # its name, while `name` is `trashed_name`
    # metadata in clear, like the name: the key a workflow file is imported by (NULL until exported or imported)
    key: Mapped[str | None] = mapped_column(String(100))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")


class WorkflowVersion(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    """An immutable saved graph. Saving a workflow always adds a version."""

    __tablename__ = "workflow_versions"
    __table_args__ = (UniqueConstraint("workflow_id", "version"),)
    workflow_id: Mapped[str] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    graph: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON("workflow_versions.graph"))
    valid: Mapped[bool] = mapped_column(Boolean)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    message: Mapped[str | None] = mapped_column(String(500))  # the note given when saved; in clear, like the name
