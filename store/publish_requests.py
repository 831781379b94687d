"""Approval before production: a workspace's publish policy, workflows' overrides of it, and the requests to
publish a version that an owner or admin approves or rejects (migration 0022)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, text, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from store.base import Base, IdMixin, TenantOwnedMixin, TimestampMixin, utcnow

DEFAULT_DIRECT_ROLES = ("owner", "admin")  # who may still publish directly while approval is required


class PublishRequestStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    STALE = "stale"  # another version was published after it was made: it can no longer be approved


class PublishPolicy(IdMixin, TenantOwnedMixin, Base):
    """Whether publishing needs approval: the workspace's rule (`workflow_id` NULL, one per workspace) or one
    workflow's override of it (`requires_approval` NULL: follow the workspace). No row: the defaults (no approval;
    owners and admins publish directly). Kept beside the requests rather than on `tenants` and `workflows`."""

    __tablename__ = "publish_policies"
    __table_args__ = (
        Index(
            "uq_publish_policies_workspace",
            "tenant_id",
            unique=True,
            postgresql_where=text("workflow_id IS NULL"),
            sqlite_where=text("workflow_id IS NULL"),
        ),
        Index("uq_publish_policies_workflow", "workflow_id", unique=True),
    )
    tenant_index = False  # found through the workspace's unique index or its workflow
    workflow_id: Mapped[str | None] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"))
    requires_approval: Mapped[bool | None] = mapped_column(Boolean)
    direct_roles: Mapped[list[str] | None] = mapped_column(JSON)  # the workspace's row only; None: the default


class PublishRequest(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    """A request to make exactly `version` of a workflow live, made by someone who may not publish directly.
    `comment` is the decider's (in clear, like a version's message: workflow metadata, not run data)."""

    __tablename__ = "publish_requests"
    __table_args__ = (
        Index("ix_publish_requests_tenant_created", "tenant_id", "created_at"),
        Index("ix_publish_requests_tenant_status_created", "tenant_id", "status", "created_at"),
        Index(  # one open request per version: asking again returns it
            "uq_publish_requests_pending",
            "workflow_id",
            "version",
            unique=True,
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )
    tenant_index = False  # found through the composite indexes
    workflow_id: Mapped[str] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    requested_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default=PublishRequestStatus.PENDING)
    decided_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    comment: Mapped[str | None] = mapped_column(String(2000))


def mark_stale_publish_requests(db: Session, *, workflow_id: str, live_version: int) -> int:
    """`live_version` was just published: the workflow's pending requests for any other version become stale.
    Returns how many did."""
    result = db.execute(
        update(PublishRequest)
        .where(
            PublishRequest.workflow_id == workflow_id,
            PublishRequest.status == PublishRequestStatus.PENDING,
            PublishRequest.version != live_version,
        )
        .values(status=PublishRequestStatus.STALE)
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0)


def close_fulfilled_publish_requests(db: Session, *, workflow_id: str, version: int, published_by: str | None) -> int:
    """`version` was just published directly by someone who may: a request still pending for it is approved by
    them, since what it asked for is live. Returns how many were."""
    result = db.execute(
        update(PublishRequest)
        .where(
            PublishRequest.workflow_id == workflow_id,
            PublishRequest.status == PublishRequestStatus.PENDING,
            PublishRequest.version == version,
        )
        .values(
            status=PublishRequestStatus.APPROVED,
            decided_by=published_by,
            decided_at=utcnow(),
            comment="Published directly",
        )
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0)
