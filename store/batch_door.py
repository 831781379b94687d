"""The batch door: what a tenant Job may do to the platform database, for its own batch only (issue 18 item 2).

A batch that runs in a tenant's namespace carries the SHA-256 of a token minted for it (`mint_door_token`). The
Job holds the token, never a database URL; the platform API's internal routes open the batch with it
(`OpenedBatch`) and make the `BatchStore` calls the interpreter makes, in the batch's tenant scope (row-level
security on PostgreSQL), after checking that every id the Job names belongs to the batch. The door closes when the
batch finishes, fails or resumes elsewhere, and when it expires.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store import Batch, Execution, ExecutionStatus, StepResult, utcnow
from store.batches import BatchStore, BatchWork, StepWrite
from store.db import TenantSessions, get_session_factory

OUTCOME_COLUMNS = frozenset({"status", "error", "resume_at", "waiting_node_id"})
ENDED_BY_A_JOB = (ExecutionStatus.FAILED, ExecutionStatus.CANCELLED)


class DoorRefused(Exception):
    """The token does not open the batch (unknown batch, wrong or expired token, or the batch has ended)."""


class NotThisBatch(Exception):
    """The Job named an execution or a step row that is not its batch's: nothing was written."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def mint_door_token(batch: Batch, expires_at: datetime) -> str:
    """A new token for `batch` (256 random bits); only its SHA-256 is stored. Replaces an earlier one."""
    token = secrets.token_urlsafe(32)
    batch.door_token_sha256, batch.door_expires_at = _digest(token), expires_at
    return token


def close_door(db: Session, batch_id: str) -> None:
    db.execute(update(Batch).where(Batch.id == batch_id).values(door_token_sha256=None, door_expires_at=None))


class OpenedBatch:
    """One batch, opened by its door token (`DoorRefused` otherwise)."""

    def __init__(self, database_url: str, batch_id: str, token: str) -> None:
        with get_session_factory(database_url)() as db:
            batch = db.get(Batch, batch_id)
            if batch is None or not _opens(batch, token):
                raise DoorRefused(f"the token does not open batch {batch_id}")
            self.batch_id, self.tenant_id, self.deployment_id = batch.id, batch.tenant_id, batch.deployment_id
        self._sessions = TenantSessions(get_session_factory(database_url), self.tenant_id)
        self.store = BatchStore.of_tenant_batch(database_url, self.tenant_id, self.batch_id)

    def start(self) -> BatchWork:
        return self.store.start_in_flow_run(self.batch_id, self.deployment_id)

    def cancelled_among(self, execution_ids: list[str]) -> set[str]:
        self._check_executions(execution_ids)
        return self.store.cancelled_among(execution_ids)

    def write_steps(self, writes: list[StepWrite]) -> None:
        self._check_steps(writes)
        self.store.write_steps(writes)

    def finish(self, outcomes: dict[str, dict[str, Any]], steps: list[StepWrite]) -> None:
        self._check_executions(list(outcomes))
        if any(set(values) - OUTCOME_COLUMNS for values in outcomes.values()):
            raise NotThisBatch(f"an outcome may set only {sorted(OUTCOME_COLUMNS)}")
        self._check_steps(steps)
        self.store.finish(outcomes, steps)
        self._close()

    def fail(self, status: ExecutionStatus, error: dict[str, Any], flow_run_id: str | None) -> None:
        if status not in ENDED_BY_A_JOB:
            raise NotThisBatch(f"a Job ends its batch's executions only as {[str(s) for s in ENDED_BY_A_JOB]}")
        self.store.fail_unfinished(
            self.batch_id, status, error, deployment_id=self.deployment_id, flow_run_id=flow_run_id
        )
        self._close()

    def resume(self, most: int, reason: str, flow_run_id: str | None) -> Counter[str]:
        outcome = self.store.resume_unfinished(
            self.batch_id, most=most, reason=reason, deployment_id=self.deployment_id, flow_run_id=flow_run_id
        )
        self._close()
        return outcome

    def _close(self) -> None:
        with self._sessions.begin() as db:
            close_door(db, self.batch_id)

    def _own_executions(self, db: Session) -> set[str]:
        return set(db.scalars(select(Execution.id).where(Execution.batch_id == self.batch_id)))

    def _check_executions(self, execution_ids: list[str]) -> None:
        with self._sessions() as db:
            foreign = set(execution_ids) - self._own_executions(db)
        if foreign:
            raise NotThisBatch(f"{len(foreign)} execution(s) named are not in batch {self.batch_id}")

    def _check_steps(self, writes: list[StepWrite]) -> None:
        """Every row is of an execution of the batch and of its tenant; an update changes a step row of the
        batch, an insert adds a row of a new id."""
        rows = [(kind, row) for kind, batch_rows in writes for row in batch_rows]
        if not rows:
            return
        with self._sessions() as db:
            own = self._own_executions(db)
            stored = dict(
                db.execute(
                    select(StepResult.id, StepResult.execution_id).where(StepResult.id.in_([r["id"] for _, r in rows]))
                ).all()
            )
        for kind, row in rows:
            if row["execution_id"] not in own or row["tenant_id"] != self.tenant_id:
                raise NotThisBatch(f"step row {row['id']} is not of an execution of batch {self.batch_id}")
            if kind == "insert" and row["id"] in stored:
                raise NotThisBatch(f"step row {row['id']} exists already: an insert adds a new row")
            if kind != "insert" and stored.get(row["id"]) not in own:
                raise NotThisBatch(f"step row {row['id']} is not a step row of batch {self.batch_id}")
            stored[row["id"]] = row["execution_id"]


def _opens(batch: Batch, token: str) -> bool:
    if batch.door_token_sha256 is None or batch.door_expires_at is None or batch.door_expires_at <= utcnow():
        return False
    return hmac.compare_digest(_digest(token), batch.door_token_sha256)
