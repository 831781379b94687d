"""What the interpreter reads from and writes to the platform database, in bulk per batch."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from store import (
    FINAL_EXECUTION_STATUSES,
    Approval,
    ApprovalStatus,
    Batch,
    Execution,
    ExecutionMode,
    ExecutionStatus,
    StepResult,
    StepStatus,
    Tenant,
    Workflow,
    WorkflowVersion,
    enqueue_execution,
    utcnow,
)
from store.db import SessionFactory, TenantSessions, get_session_factory
from store.sealed import seal_as


@dataclass
class StepRecord:
    """One step result as the interpreter writes it (item_index is set inside loop bodies)."""

    id: str
    tenant_id: str
    execution_id: str
    node_id: str
    status: str
    item_index: int | None = None
    attempts: int = 0
    input: Any = None
    output: Any = None
    error: dict[str, Any] | None = None
    handle: str | None = None
    decision: dict[str, Any] | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None

    def row(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class QueuedExecution:
    id: str
    tenant_id: str
    mode: str
    input: dict[str, Any]
    time_zone: str = "UTC"
    earlier_steps: list[StepRecord] = field(default_factory=list)  # when resuming after a wait


@dataclass(frozen=True)
class BatchWork:
    batch_id: str
    graph: dict[str, Any]
    executions: list[QueuedExecution]


StepWrite = tuple[str, list[dict[str, Any]]]  # ("insert" or "update", step rows)
TICK_SKIPPED = "skipped"


class BatchStorage(Protocol):
    """What the interpreter reads and writes for a batch: `BatchStore` (the database, on the shared workers) or
    `flow_factory.batch_door.BatchDoor` (the platform API, in a tenant's Job)."""

    def start_in_flow_run(self, batch_id: str, deployment_id: str | None) -> BatchWork: ...

    def cancelled_among(self, execution_ids: list[str]) -> set[str]: ...

    def write_steps(self, writes: list[StepWrite]) -> None: ...

    def finish(self, outcomes: dict[str, dict[str, Any]], steps: list[StepWrite] | None = None) -> None: ...

    def fail_unfinished(
        self,
        batch_id: str,
        status: ExecutionStatus,
        error: dict[str, Any],
        *,
        deployment_id: str | None = None,
        flow_run_id: str | None = None,
    ) -> None: ...

    def resume_unfinished(
        self,
        batch_id: str,
        *,
        most: int,
        reason: str,
        deployment_id: str | None = None,
        flow_run_id: str | None = None,
    ) -> Counter[str]: ...

    def enqueue_tick(
        self, workflow_id: str, flow_run_id: str, scheduled_at: datetime, deployment_id: str | None
    ) -> str: ...


class NotThisDeployment(Exception):
    """A flow run named a batch or a workflow that is not its deployment's: its parameters were forged (anyone
    with the Prefect API can create a flow run of any deployment with any parameters). Nothing is touched."""


def _write_steps(db: Session, writes: list[StepWrite]) -> None:
    for kind, rows in writes:
        if rows:
            db.execute(insert(StepResult) if kind == "insert" else update(StepResult), rows)


class StepWriter:
    """Writes a batch's step rows behind its steps: the flow queues each write and goes on, one background
    transaction at a time writes whatever has queued up, in order, and the batch's end takes what is left
    into its own transaction (`pending`). Steps thus never wait for the database between them; a write
    that fails is raised by `pending`.

    Rows are copied when queued: the records go on changing while they wait."""

    def __init__(self, store: BatchStorage) -> None:
        self._store = store
        self._queued: list[StepWrite] = []
        self._writing: asyncio.Task[None] | None = None
        self._error: Exception | None = None

    def insert(self, records: list[StepRecord]) -> None:
        self._queue("insert", records)

    def update(self, records: list[StepRecord]) -> None:
        self._queue("update", records)

    def _queue(self, kind: str, records: list[StepRecord]) -> None:
        if not records or self._error is not None:
            return
        self._queued.append((kind, [r.row() for r in records]))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.ensure_future(self._write_queued())

    async def _write_queued(self) -> None:
        while self._queued and self._error is None:
            writes, self._queued = self._queued, []
            try:
                await asyncio.to_thread(self._store.write_steps, writes)
            except Exception as exc:  # raised by `pending`, at the batch's end
                self._error = exc

    async def pending(self) -> list[StepWrite]:
        """Wait for the write under way; return the writes still queued (now the caller's to write)."""
        writing = self._writing
        if writing is not None and not writing.done():
            writes, self._queued = self._queued, []  # the running write takes nothing more
            await writing
            self._queued = writes + self._queued
        if self._error is not None:
            raise self._error
        writes, self._queued = self._queued, []
        return writes

    async def flush(self) -> None:
        """Write everything queued now."""
        writes = await self.pending()
        if writes:
            await asyncio.to_thread(self._store.write_steps, writes)


def _record(row: StepResult) -> StepRecord:
    return StepRecord(**{name: getattr(row, name) for name in StepRecord.__dataclass_fields__})


class BatchStore:
    def __init__(self, database_url: str) -> None:
        self._sessions: SessionFactory = get_session_factory(database_url)
        self._tenant_id: str | None = None  # the started batch's: whose payloads `finish` seals
        self._batch_id: str | None = None  # the started batch: `finish` ends only executions still in it

    @classmethod
    def of_tenant_batch(cls, database_url: str, tenant_id: str, batch_id: str) -> BatchStore:
        """A store for one batch whose every transaction sees only its tenant's rows (PostgreSQL)."""
        store = cls(database_url)
        store._sessions = TenantSessions(get_session_factory(database_url), tenant_id)
        store._tenant_id, store._batch_id = tenant_id, batch_id
        return store

    def start(self, batch_id: str) -> BatchWork:
        """The batch's work (`_load`), claimed (`_claim`), in one transaction."""
        with self._sessions.begin() as db:
            batch = db.get(Batch, batch_id)
            self._tenant_id, self._batch_id = (batch.tenant_id, batch.id) if batch else (None, None)
            return self._load(db, batch_id, self._claim(db, batch) if batch else [])

    def start_in_flow_run(self, batch_id: str, deployment_id: str | None) -> BatchWork:
        """`start`, for a flow run of `deployment_id` whose parameter names the batch: only a flow run of the
        batch's own deployment may start it (`NotThisDeployment`, before anything is read or written)."""
        with self._sessions.begin() as db:
            batch = db.get(Batch, batch_id)
            if batch is None or deployment_id is None or batch.deployment_id != deployment_id:
                raise NotThisDeployment(
                    f"batch {batch_id} is not a batch of this flow run's deployment {deployment_id}"
                )
            self._tenant_id, self._batch_id = batch.tenant_id, batch.id
            return self._load(db, batch_id, self._claim(db, batch))

    @staticmethod
    def _claim(db: Session, batch: Batch) -> list[str]:
        """Mark running the batch's executions that wait for it (`batched`), and return their ids. An
        execution that ended, or that another flow run of this batch runs now (a replay, the Prefect UI's
        "Retry"), is not claimed: no step of it runs twice. Only the batch's own tenant, workflow and
        deployment count, whatever else points at the batch."""
        claimed = db.execute(
            update(Execution)
            .where(
                Execution.batch_id == batch.id,
                Execution.status == ExecutionStatus.BATCHED,
                Execution.tenant_id == batch.tenant_id,
                Execution.workflow_id == batch.workflow_id,
                Execution.deployment_id == batch.deployment_id,
            )
            .values(
                status=ExecutionStatus.RUNNING,
                resume_at=None,
                waiting_node_id=None,
                started_at=func.coalesce(Execution.started_at, utcnow()),  # since it first started, after a wait
            )
            .returning(Execution.id)
            .execution_options(synchronize_session=False)
        )
        return list(claimed.scalars())

    @staticmethod
    def _load(db: Session, batch_id: str, execution_ids: list[str]) -> BatchWork:
        """These executions, their earlier steps, and their version's graph."""
        if not execution_ids:
            return BatchWork(batch_id, {}, [])
        rows = db.execute(
            select(Execution, Tenant.time_zone)
            .join(Tenant, Tenant.id == Execution.tenant_id)
            .where(Execution.id.in_(execution_ids))
            .order_by(Execution.created_at)
        ).all()
        if not rows:
            return BatchWork(batch_id, {}, [])
        first = rows[0][0]
        graph = db.scalar(
            select(WorkflowVersion.graph).where(
                WorkflowVersion.workflow_id == first.workflow_id, WorkflowVersion.version == first.version
            )
        )
        earlier: dict[str, list[StepRecord]] = {}
        for step in db.scalars(select(StepResult).where(StepResult.execution_id.in_([e.id for e, _ in rows]))):
            earlier.setdefault(step.execution_id, []).append(_record(step))
        executions = [
            QueuedExecution(e.id, e.tenant_id, e.mode, e.input or {}, zone or "UTC", earlier.get(e.id, []))
            for e, zone in rows
        ]
        return BatchWork(batch_id, graph or {}, executions)  # no graph: the interpreter fails the batch

    def enqueue_tick(
        self, workflow_id: str, flow_run_id: str, scheduled_at: datetime, deployment_id: str | None
    ) -> str:
        """A schedule fired: queue one execution of the published version (once per flow run). Returns
        `queued`, or `skipped` when the workflow is gone, deleted, unpublished, disabled or its schedules paused;
        refuses a flow run of another workflow's deployment (`NotThisDeployment`)."""
        with self._sessions.begin() as db:
            workflow = db.get(Workflow, workflow_id)
            if workflow is not None and workflow.deployment_id and workflow.deployment_id != deployment_id:
                raise NotThisDeployment(f"workflow {workflow_id} is not the workflow of this flow run's deployment")
            if (
                workflow is None
                or not workflow.published_version
                or not workflow.deployment_id
                or workflow.schedules_paused
                or workflow.disabled
                or workflow.deleted_at is not None
            ):
                return TICK_SKIPPED
            enqueue_execution(
                db,
                workflow=workflow,
                version=workflow.published_version,
                mode=ExecutionMode.LIVE,
                deployment_id=workflow.deployment_id,
                input={"scheduled_at": scheduled_at.isoformat()},
                trigger="schedule",
                dedupe_key=f"schedule:{flow_run_id}",
            )
            return ExecutionStatus.QUEUED

    def cancelled_among(self, execution_ids: list[str]) -> set[str]:
        """Which of these executions were cancelled (through the API) since their batch started."""
        if not execution_ids:
            return set()
        with self._sessions() as db:
            return set(
                db.scalars(
                    select(Execution.id).where(
                        Execution.id.in_(execution_ids), Execution.status == ExecutionStatus.CANCELLED
                    )
                )
            )

    def write_steps(self, writes: list[StepWrite]) -> None:
        """Step rows inserted or updated, in order, in one transaction."""
        if any(rows for _, rows in writes):
            with self._sessions.begin() as db:
                _write_steps(db, writes)

    def finish(self, outcomes: dict[str, dict[str, Any]], steps: list[StepWrite] | None = None) -> None:
        """Each execution's end of this batch: completed, failed, or waiting until `resume_at`; `steps`
        (step rows not written yet) are written in the same transaction. An execution that left the batch
        meanwhile (its worker was taken for dead and it was queued again) is left as it is."""
        now = utcnow()
        still_here = [Execution.batch_id == self._batch_id] if self._batch_id else []
        completed = [i for i, values in outcomes.items() if values["status"] == ExecutionStatus.COMPLETED]
        with self._sessions.begin() as db:
            if self._tenant_id is not None:
                seal_as(db, self._tenant_id)
            _write_steps(db, steps or [])
            if completed:  # the common case, in one statement
                db.execute(
                    update(Execution)
                    .where(Execution.id.in_(completed), Execution.status.not_in(FINAL_EXECUTION_STATUSES), *still_here)
                    .values(status=ExecutionStatus.COMPLETED, error=None, ended_at=now)
                )
            for execution_id, values in outcomes.items():
                if values["status"] == ExecutionStatus.COMPLETED:
                    continue
                ended = {"ended_at": now} if values["status"] in FINAL_EXECUTION_STATUSES else {}
                db.execute(
                    update(Execution)
                    .where(Execution.id == execution_id, Execution.status.not_in(FINAL_EXECUTION_STATUSES), *still_here)
                    .values(**values, **ended)
                )
            self._wake_answered_approvals(
                db, [i for i, v in outcomes.items() if v["status"] == ExecutionStatus.WAITING]
            )

    @staticmethod
    def _wake_answered_approvals(db: Session, waiting_ids: list[str]) -> None:
        """An approval answered while its batch was still running must not wait for its timeout."""
        if waiting_ids:
            answered = select(Approval.execution_id).where(
                Approval.execution_id.in_(waiting_ids), Approval.status != ApprovalStatus.PENDING
            )
            db.execute(update(Execution).where(Execution.id.in_(answered)).values(resume_at=utcnow()))

    def fail_unfinished(
        self,
        batch_id: str,
        status: ExecutionStatus,
        error: dict[str, Any],
        *,
        deployment_id: str | None = None,
        flow_run_id: str | None = None,
    ) -> None:
        """After a failure or a cancellation: nothing of the batch stays `running` forever. Given the flow run
        that ended (its deployment and id), nothing happens unless it is the batch's: a flow run with a forged
        batch id, or a second one of the batch, never ends the executions another flow run is running."""
        with self._sessions.begin() as db:
            batch = db.get(Batch, batch_id)
            if not _ended_flow_run_is_the_batchs(batch, deployment_id, flow_run_id):
                return
            if batch is not None:
                seal_as(db, batch.tenant_id)
            unfinished = select(Execution.id).where(Execution.batch_id == batch_id, Execution.status.in_(UNFINISHED))
            _end(db, list(db.scalars(unfinished)), status, error)

    def resume_unfinished(
        self,
        batch_id: str,
        *,
        most: int,
        reason: str,
        deployment_id: str | None = None,
        flow_run_id: str | None = None,
    ) -> Counter[str]:
        """After a crash (the worker died): the batch's unfinished executions queue again, to resume from their
        stored steps in a new batch. The step that was in flight runs again: a pure step may, an HTTP step
        sends the same Idempotency-Key, and an integration's ledger row keeps a message from going out twice.
        An execution already resumed `most` times fails instead (a step that kills its worker would kill the
        next one too), and so does one stopped inside a loop (its loop would write its item rows again).
        Guarded like `fail_unfinished`. Returns how many were resumed and failed."""
        outcome: Counter[str] = Counter()
        with self._sessions.begin() as db:
            batch = db.get(Batch, batch_id)
            if batch is None or not _ended_flow_run_is_the_batchs(batch, deployment_id, flow_run_id):
                return outcome
            seal_as(db, batch.tenant_id)
            unfinished = dict(
                db.execute(
                    select(Execution.id, Execution.resumptions).where(
                        Execution.batch_id == batch_id, Execution.status.in_(UNFINISHED)
                    )
                ).all()
            )
            in_loop = _stopped_inside_a_loop(db, list(unfinished))
            worn_out = [i for i, times in unfinished.items() if times >= most]
            resumable = [i for i in unfinished if i not in in_loop and i not in worn_out]
            _end(db, [i for i in in_loop if i not in worn_out], ExecutionStatus.FAILED, _crash_error(reason, None))
            _end(db, worn_out, ExecutionStatus.FAILED, _crash_error(reason, most))
            db.execute(
                delete(StepResult).where(
                    StepResult.execution_id.in_(resumable), StepResult.status == StepStatus.RUNNING
                )
            )
            db.execute(
                update(Execution)
                .where(Execution.id.in_(resumable))
                .values(status=ExecutionStatus.QUEUED, batch_id=None, resumptions=Execution.resumptions + 1)
            )
            outcome.update(resumed=len(resumable), failed=len(unfinished) - len(resumable))
        return outcome


UNFINISHED = (ExecutionStatus.RUNNING, ExecutionStatus.BATCHED, ExecutionStatus.QUEUED)


def _ended_flow_run_is_the_batchs(batch: Batch | None, deployment_id: str | None, flow_run_id: str | None) -> bool:
    """Whether the flow run that ended (when named: its deployment and id) is the one running `batch`."""
    if deployment_id is None and flow_run_id is None:
        return True
    if batch is None or batch.deployment_id != deployment_id:
        return False
    return batch.flow_run_id is None or flow_run_id is None or batch.flow_run_id == flow_run_id


def _end(db: Session, execution_ids: list[str], status: ExecutionStatus, error: dict[str, Any]) -> None:
    """End these executions and the steps they were running with `status` and `error`."""
    if not execution_ids:
        return
    now = utcnow()
    db.execute(
        update(StepResult)
        .where(StepResult.execution_id.in_(execution_ids), StepResult.status == StepStatus.RUNNING)
        .values(status=status, error=error, ended_at=now)
    )
    db.execute(
        update(Execution)
        .where(Execution.id.in_(execution_ids), Execution.status.in_(UNFINISHED))
        .values(status=status, error=error, ended_at=now)
    )


def _stopped_inside_a_loop(db: Session, execution_ids: list[str]) -> set[str]:
    """Executions with a step still running and loop items stored (loops write a row per item)."""
    running = select(StepResult.execution_id).where(
        StepResult.execution_id.in_(execution_ids), StepResult.status == StepStatus.RUNNING
    )
    with_items = select(StepResult.execution_id).where(
        StepResult.execution_id.in_(execution_ids), StepResult.item_index.is_not(None)
    )
    return set(db.scalars(running.intersect(with_items)))


def _crash_error(reason: str, most: int | None) -> dict[str, Any]:
    why = (
        f"it was already resumed {most} times, so it was not resumed again"
        if most is not None
        else "it stopped inside a loop, which cannot resume halfway"
    )
    return {
        "message": f"{reason}; {why}.",
        "hint": "Run it again; if it keeps happening, contact your operator.",
        "retryable": False,
    }
