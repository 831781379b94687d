"""Executions (the API's runs), the batches Prefect runs them in, their step results and approvals; and
accepting an execution: the one place every trigger writes a `queued` execution, exactly once per dedupe key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from store.base import Base, IdMixin, TenantOwnedMixin, TimestampMixin
from store.sealed import EncryptedJSON, EncryptedText, tenant_blind_index
from store.statuses import ApprovalStatus, ExecutionStatus
from store.workflows import Workflow


class Batch(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    """What Prefect runs: one flow run over executions of one workflow version."""

    __tablename__ = "batches"
    workflow_id: Mapped[str] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    deployment_id: Mapped[str] = mapped_column(String(36))
    flow_run_id: Mapped[str | None] = mapped_column(String(36))
    submitted_at: Mapped[datetime | None]
    door_token_sha256: Mapped[str | None] = mapped_column(String(64))  # a tenant Job's batch: `store.batch_door`
    door_expires_at: Mapped[datetime | None]


class Execution(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    """One triggering of one workflow version: the `run_id` of the API."""

    __tablename__ = "executions"
    __table_args__ = (
        Index("ix_executions_status_created", "status", "created_at"),
        Index("ix_executions_tenant_workflow_created", "tenant_id", "workflow_id", "created_at"),
        Index("ix_executions_tenant_created", "tenant_id", "created_at"),
        Index(  # what engine.rollups has not folded into the reports yet
            "ix_executions_not_rolled_up",
            "ended_at",
            postgresql_where=text("NOT rolled_up"),
            sqlite_where=text("rolled_up = 0"),
        ),
        Index(  # what engine.search_index has not indexed yet
            "ix_executions_not_search_indexed",
            "created_at",
            postgresql_where=text("NOT search_indexed"),
            sqlite_where=text("search_indexed = 0"),
        ),
        UniqueConstraint("workflow_id", "dedupe_key", name="uq_executions_workflow_dedupe"),
    )
    tenant_index = False  # found through a composite index or its parent row
    workflow_id: Mapped[str] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(8))
    deployment_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16), default=ExecutionStatus.QUEUED)
    input: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON("executions.input"))
    error: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON("executions.error"))
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.id", ondelete="SET NULL"), index=True)
    triggered_by: Mapped[str | None] = mapped_column(String(36))
    trigger: Mapped[str] = mapped_column(String(16), default="manual")
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    resume_at: Mapped[datetime | None] = mapped_column(index=True)
    waiting_node_id: Mapped[str | None] = mapped_column(String(64))
    stopped_at_node_id: Mapped[str | None] = mapped_column(String(64))  # the step a cancelled run stopped at
    retry_of: Mapped[str | None] = mapped_column(String(36), index=True)  # the run this one retries or replays
    resumptions: Mapped[int] = mapped_column(default=0)  # queued again after its batch's flow run crashed
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    payload_cleared_at: Mapped[datetime | None]  # retention cleared its input and its steps' payloads
    rolled_up: Mapped[bool] = mapped_column(default=False)  # counted in the reports' rollups (engine.rollups)
    search_indexed: Mapped[bool] = mapped_column(default=False)  # its input's blind index is written


class StepResult(IdMixin, TenantOwnedMixin, Base):
    """One node's result for one execution, written by the interpreter."""

    __tablename__ = "step_results"
    __table_args__ = (
        UniqueConstraint("execution_id", "node_id", "item_index", name="uq_step_results_execution_node_item"),
    )
    tenant_index = False  # found through a composite index or its parent row
    execution_id: Mapped[str] = mapped_column(ForeignKey("executions.id", ondelete="CASCADE"), index=True)
    node_id: Mapped[str] = mapped_column(String(64))
    item_index: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    input: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON("step_results.input"))
    output: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON("step_results.output"))
    error: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON("step_results.error"))
    handle: Mapped[str | None] = mapped_column(String(64))
    decision: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON("step_results.decision"))
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]


class Approval(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    """A `logic.approval` step waiting for a person. The one-time link carries a token stored hashed."""

    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("execution_id", "node_id"),)
    execution_id: Mapped[str] = mapped_column(ForeignKey("executions.id", ondelete="CASCADE"))
    node_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=ApprovalStatus.PENDING)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    message: Mapped[str] = mapped_column(EncryptedText("approvals.message"), default="")
    approvers: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON("approvals.approvers"))
    expires_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(320))
    decided_at: Mapped[datetime | None]
    comment: Mapped[str | None] = mapped_column(EncryptedText("approvals.comment"))


def enqueue_execution(
    db: Session,
    *,
    workflow: Workflow,
    version: int,
    mode: str,
    deployment_id: str,
    input: dict[str, Any],
    trigger: str,
    triggered_by: str | None = None,
    dedupe_key: str | None = None,
) -> tuple[Execution, bool]:
    """Add a queued execution (not committed). Returns it and whether it is new: a dedupe key seen before
    for this workflow returns the earlier execution instead. The key (`kind:id`) is stored with its id as a
    keyed hash: a sender's delivery id may be a field of its data."""
    if dedupe_key:
        kind, _, value = dedupe_key.partition(":")
        dedupe_key = f"{kind}:{tenant_blind_index(db, workflow.tenant_id, 'executions.dedupe_key', value)}"
        earlier = db.scalar(
            select(Execution).where(Execution.workflow_id == workflow.id, Execution.dedupe_key == dedupe_key)
        )
        if earlier:
            return earlier, False
    execution = Execution(
        tenant_id=workflow.tenant_id,
        workflow_id=workflow.id,
        version=version,
        mode=mode,
        deployment_id=deployment_id,
        status=ExecutionStatus.QUEUED,
        input=input,
        trigger=trigger,
        triggered_by=triggered_by,
        dedupe_key=dedupe_key,
    )
    try:
        with db.begin_nested():
            db.add(execution)
    except IntegrityError:  # the same key, accepted concurrently
        return db.scalars(
            select(Execution).where(Execution.workflow_id == workflow.id, Execution.dedupe_key == dedupe_key)
        ).one(), False
    return execution, True
