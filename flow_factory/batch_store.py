"""What the interpreter reads from and writes to the platform database, in bulk per batch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from store.db import get_session_factory
from store.models import FINAL_RUN_STATUSES, Execution, StepResult, WorkflowVersion, utcnow


@dataclass(frozen=True)
class QueuedExecution:
    id: str
    tenant_id: str
    mode: str
    input: dict[str, Any]


@dataclass(frozen=True)
class BatchWork:
    batch_id: str
    graph: dict[str, Any]
    executions: list[QueuedExecution]


@dataclass
class StepRecord:
    """One step result as the interpreter writes it."""

    id: str
    tenant_id: str
    execution_id: str
    node_id: str
    status: str
    attempts: int = 0
    input: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    handle: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None

    def row(self) -> dict[str, Any]:
        return dict(self.__dict__)


class BatchStore:
    def __init__(self, database_url: str) -> None:
        self._sessions = get_session_factory(database_url)

    def load(self, batch_id: str) -> BatchWork:
        """The batch's executions that have not ended yet, and their workflow version's graph."""
        with self._sessions() as db:
            executions = db.scalars(
                select(Execution)
                .where(Execution.batch_id == batch_id, Execution.status.not_in(FINAL_RUN_STATUSES))
                .order_by(Execution.created_at)
            ).all()
            if not executions:
                return BatchWork(batch_id, {}, [])
            first = executions[0]
            graph = db.scalar(
                select(WorkflowVersion.graph).where(
                    WorkflowVersion.workflow_id == first.workflow_id, WorkflowVersion.version == first.version
                )
            )
            queued = [QueuedExecution(e.id, e.tenant_id, e.mode, e.input or {}) for e in executions]
            return BatchWork(batch_id, graph, queued)

    def mark_running(self, execution_ids: list[str]) -> None:
        with self._sessions.begin() as db:
            db.execute(
                update(Execution)
                .where(Execution.id.in_(execution_ids), Execution.status.not_in(FINAL_RUN_STATUSES))
                .values(status="running", started_at=utcnow())
            )

    def insert_steps(self, records: list[StepRecord]) -> None:
        if records:
            with self._sessions.begin() as db:
                db.execute(insert(StepResult), [r.row() for r in records])

    def update_steps(self, records: list[StepRecord]) -> None:
        if records:
            with self._sessions.begin() as db:
                db.execute(update(StepResult), [r.row() for r in records])

    def finish(self, outcomes: dict[str, tuple[str, dict[str, Any] | None]]) -> None:
        """Write each execution's final status and error, unless it already ended (e.g. cancelled)."""
        now = utcnow()
        with self._sessions.begin() as db:
            for execution_id, (status, error) in outcomes.items():
                db.execute(
                    update(Execution)
                    .where(Execution.id == execution_id, Execution.status.not_in(FINAL_RUN_STATUSES))
                    .values(status=status, error=error, ended_at=now)
                )

    def fail_unfinished(self, batch_id: str, status: str, error: dict[str, Any]) -> None:
        """After a crash or a cancellation: nothing of the batch stays `running` forever."""
        now = utcnow()
        with self._sessions.begin() as db:
            db.execute(
                update(Execution)
                .where(Execution.batch_id == batch_id, Execution.status.not_in(FINAL_RUN_STATUSES))
                .values(status=status, error=error, ended_at=now)
            )
            db.execute(
                update(StepResult)
                .where(
                    StepResult.execution_id.in_(select(Execution.id).where(Execution.batch_id == batch_id)),
                    StepResult.status == "running",
                )
                .values(status=status, error=error, ended_at=now)
            )
