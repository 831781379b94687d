"""Retention: purging what a workspace's policy no longer keeps, in the platform database and in Prefect.

Each workspace's policy (`tenants.retention_*`, else `FLOWYARD_RETENTION__*`) is applied to its own rows only:

- run history: ended executions (their steps and approvals go with them, by cascade) and notifications;
- step payloads: an ended execution's input and its steps' inputs and outputs are cleared (the run stays,
  marked `payload_cleared_at`), and delivered outbox rows (record snapshots) are deleted;
- logs: the Prefect flow run of each batch (its task runs and logs go with it) and then the batch row; and
  the workspace's other ended flow runs (schedule ticks) by their tenant tag.

Deleted workflows (`workflows.deleted_at`) are purged `TRASH_DAYS` after their deletion, whatever the policy:
their Prefect deployment, their runs (in batches) and then the workflow row, with its versions, batches and
triggers by cascade; each purge is audited (`workflow.purged`). `purge_deleted_workflows`.

Every statement touches at most `batch_size` rows and commits, and is repeated until less than a batch
is left, so that the purge never holds long locks. `purge_expired` is what the hourly `flowyard-maintenance`
flow (`engine.maintenance`) and `flowyard maintenance run` call.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, cast
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterExpectedStartTime,
    FlowRunFilterId,
    FlowRunFilterState,
    FlowRunFilterStateType,
    FlowRunFilterTags,
)
from prefect.client.schemas.objects import StateType
from prefect.exceptions import ObjectNotFound
from sqlalchemy import Select, delete, exists, null, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from core.prefect_client import prefect_client
from core.settings import RetentionSettings, Settings
from store import (
    FINAL_EXECUTION_STATUSES,
    Batch,
    Execution,
    Notification,
    Outbox,
    RunSearchKey,
    StepResult,
    Tenant,
    Workflow,
    record_event,
    utcnow,
)
from store.db import get_session_factory
from store.sealed import seal_as
from store.workflows import TRASH_DAYS

PREFECT_DELETE_LIMIT = 50  # Prefect's POST /flow_runs/bulk_delete deletes at most 50 flow runs per call
ENDED_FLOW_RUN_STATES = [StateType.COMPLETED, StateType.FAILED, StateType.CANCELLED, StateType.CRASHED]
SYSTEM_TAG = "flowyard-system"  # Flowyard's own flow runs (the maintenance flow), kept for the default log days


@dataclass(frozen=True)
class Policy:
    run_history_days: int
    step_payload_days: int
    log_days: int


def tenant_policy(tenant: Any, defaults: RetentionSettings) -> Policy:
    """The workspace's policy: its own days where it has set them, else the platform's defaults."""

    def own_or_default(name: str) -> int:
        own: int | None = getattr(tenant, f"retention_{name}")
        return getattr(defaults, name) if own is None else own

    return Policy(*(own_or_default(name) for name in ("run_history_days", "step_payload_days", "log_days")))


@dataclass
class PurgeReport:
    """What one purge did: per kind of row, the size of each batch (never more than the batch size)."""

    batches: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))

    def add(self, kind: str, count: int) -> None:
        if count:
            self.batches[kind].append(count)

    def totals(self) -> dict[str, int]:
        return {kind: sum(counts) for kind, counts in self.batches.items()}


@dataclass(frozen=True)
class TenantPurge:
    """One workspace's cutoffs, and the SQL of each kind of purge."""

    tenant_id: str
    now: datetime
    policy: Policy
    limit: int

    def _before(self, days: int) -> datetime:
        return self.now - timedelta(days=days)

    def _ended_runs(self, days: int) -> Select[str]:
        """Ids of executions that ended more than `days` ago (created before the cutoff: an index finds them)."""
        cutoff = self._before(days)
        return (
            select(Execution.id)
            .where(
                Execution.tenant_id == self.tenant_id,
                Execution.status.in_(FINAL_EXECUTION_STATUSES),
                Execution.created_at < cutoff,
                or_(Execution.ended_at.is_(None), Execution.ended_at < cutoff),
            )
            .limit(self.limit)
        )

    def clear_payloads(self, db: Session) -> int:
        ids = db.scalars(
            self._ended_runs(self.policy.step_payload_days).where(Execution.payload_cleared_at.is_(None))
        ).all()
        if ids:
            seal_as(db, self.tenant_id)
            db.execute(update(StepResult).where(StepResult.execution_id.in_(ids)).values(input=null(), output=null()))
            db.execute(update(Execution).where(Execution.id.in_(ids)).values(input={}, payload_cleared_at=self.now))
            db.execute(delete(RunSearchKey).where(RunSearchKey.execution_id.in_(ids)))  # nothing left to find
        return len(ids)

    def delete_runs(self, db: Session) -> int:
        ids = db.scalars(self._ended_runs(self.policy.run_history_days)).all()
        if ids:  # their step results and approvals go by ON DELETE CASCADE
            db.execute(delete(Execution).where(Execution.id.in_(ids)))
        return len(ids)

    def delete_notifications(self, db: Session) -> int:
        cutoff = self._before(self.policy.run_history_days)
        return self._delete_where(
            db, Notification, Notification.tenant_id == self.tenant_id, Notification.created_at < cutoff
        )

    def delete_snapshots(self, db: Session) -> int:
        """Delivered outbox rows: their before/after snapshots of a record are payload."""
        cutoff = self._before(self.policy.step_payload_days)
        return self._delete_where(
            db,
            Outbox,
            Outbox.tenant_id == self.tenant_id,
            Outbox.dispatched_at.is_not(None),
            Outbox.created_at < cutoff,
        )

    def _delete_where(self, db: Session, table: Any, *conditions: Any) -> int:
        ids = db.scalars(select(table.id).where(*conditions).limit(self.limit)).all()
        if ids:
            db.execute(delete(table).where(table.id.in_(ids)))
        return len(ids)

    def expired_batches(self, db: Session) -> Sequence[tuple[str, str]]:
        """(batch id, flow run id) of submitted batches older than the log days with nothing left to run."""
        unfinished = exists().where(Execution.batch_id == Batch.id, Execution.status.not_in(FINAL_EXECUTION_STATUSES))
        rows = db.execute(
            select(Batch.id, Batch.flow_run_id)
            .where(
                Batch.tenant_id == self.tenant_id,
                Batch.flow_run_id.is_not(None),
                Batch.created_at < self._before(self.policy.log_days),
                ~unfinished,
            )
            .limit(min(self.limit, PREFECT_DELETE_LIMIT))
        ).all()
        return [(batch_id, cast(str, flow_run_id)) for batch_id, flow_run_id in rows]


def repeat_in_batches(
    factory: sessionmaker[Session], kind: str, step: Callable[[Session], int], limit: int, report: PurgeReport
) -> None:
    """Run `step` (one bounded batch) in its own transaction until it finds less than a full batch."""
    while True:
        with factory() as db:
            count = step(db)
            db.commit()
        report.add(kind, count)
        if count < limit:
            return


def purge_platform_rows(factory: sessionmaker[Session], purge: TenantPurge, report: PurgeReport) -> None:
    """The platform database's rows of one workspace: payloads first (the runs kept longer), then runs."""
    for kind, step in (
        ("step_payloads", purge.clear_payloads),
        ("outbox_snapshots", purge.delete_snapshots),
        ("runs", purge.delete_runs),
        ("notifications", purge.delete_notifications),
    ):
        repeat_in_batches(factory, kind, step, purge.limit, report)


def bulk_delete_flow_runs(client: SyncPrefectClient, flow_runs: FlowRunFilter, limit: int) -> int:
    """Delete up to `limit` (at most 50) flow runs matching the filter; their task runs and logs go with them."""
    response = client.request(
        "POST",
        cast(Any, "/flow_runs/bulk_delete"),  # no method of its own in Prefect's client
        json={"flow_runs": flow_runs.model_dump(mode="json", exclude_unset=True), "limit": limit},
    )
    return len(response.json()["deleted"])


def purge_batches(
    factory: sessionmaker[Session], client: SyncPrefectClient, purge: TenantPurge, report: PurgeReport
) -> None:
    """Each expired batch's Prefect flow run, then the batch row (its executions' batch_id becomes empty)."""
    while True:
        with factory() as db:
            batches = purge.expired_batches(db)
            if batches:
                flow_run_ids = [flow_run_id for _, flow_run_id in batches]
                flow_runs = FlowRunFilter(id=FlowRunFilterId(any_=cast(Any, flow_run_ids)))
                report.add("prefect_flow_runs", bulk_delete_flow_runs(client, flow_runs, PREFECT_DELETE_LIMIT))
                db.execute(delete(Batch).where(Batch.id.in_([batch_id for batch_id, _ in batches])))
                db.commit()
        report.add("batches", len(batches))
        if len(batches) < min(purge.limit, PREFECT_DELETE_LIMIT):
            return


def purge_tagged_flow_runs(
    client: SyncPrefectClient, tag: str, before: datetime, limit: int, report: PurgeReport
) -> None:
    """Ended flow runs carrying `tag` that were due before `before` (a workspace's schedule ticks; ours)."""
    flow_runs = FlowRunFilter(
        tags=FlowRunFilterTags(all_=[tag]),
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=ENDED_FLOW_RUN_STATES)),
        expected_start_time=FlowRunFilterExpectedStartTime(before_=cast(Any, before)),
    )
    batch = min(limit, PREFECT_DELETE_LIMIT)
    while count := bulk_delete_flow_runs(client, flow_runs, batch):
        report.add("prefect_flow_runs", count)
        if count < batch:
            return


class DeploymentDeleter(Protocol):
    def delete_deployment(self, deployment_id: UUID) -> None: ...


def purge_deleted_workflows(
    factory: sessionmaker[Session], client: DeploymentDeleter, now: datetime, limit: int, report: PurgeReport
) -> None:
    """Workflows deleted more than `TRASH_DAYS` ago, oldest first, `limit` at a time: for each, its Prefect
    deployment (already gone is fine), its runs `limit` at a time (their steps and approvals by cascade), then
    the workflow row (its versions, batches, subscriptions and webhook endpoint by cascade) with an audit row in
    the same transaction. Idempotent: a purge cut short anywhere is finished by the next one."""
    cutoff = now - timedelta(days=TRASH_DAYS)
    while True:
        with factory() as db:
            expired = db.execute(
                select(Workflow.id, Workflow.tenant_id, Workflow.deployment_id, Workflow.deleted_name)
                .where(Workflow.deleted_at.is_not(None), Workflow.deleted_at < cutoff)
                .order_by(Workflow.deleted_at)
                .limit(limit)
            ).all()
        for workflow in expired:
            if workflow.deployment_id:
                try:
                    client.delete_deployment(UUID(workflow.deployment_id))
                    report.add("prefect_deployments", 1)
                except ObjectNotFound:
                    pass  # deleted by an earlier purge cut short, or by an operator
            runs = 0
            while True:
                with factory() as db:
                    ids = db.scalars(
                        select(Execution.id).where(Execution.workflow_id == workflow.id).limit(limit)
                    ).all()
                    if ids:
                        db.execute(delete(Execution).where(Execution.id.in_(ids)))
                    db.commit()
                report.add("runs", len(ids))
                runs += len(ids)
                if len(ids) < limit:
                    break
            with factory() as db:
                gone = db.execute(delete(Workflow).where(Workflow.id == workflow.id)).rowcount  # type: ignore[attr-defined]
                if gone:
                    record_event(
                        db,
                        tenant_id=workflow.tenant_id,
                        action="workflow.purged",
                        target=f"workflow:{workflow.id}",
                        detail={"name": workflow.deleted_name, "runs": runs, "trash_days": TRASH_DAYS},
                    )
                db.commit()
            report.add("workflows", gone)
        if len(expired) < limit:
            return


def tenant_purges(factory: sessionmaker[Session], defaults: RetentionSettings, now: datetime) -> list[TenantPurge]:
    with factory() as db:
        tenants = db.execute(
            select(
                Tenant.id,
                Tenant.retention_run_history_days,
                Tenant.retention_step_payload_days,
                Tenant.retention_log_days,
            )
        ).all()
    return [TenantPurge(tenant.id, now, tenant_policy(tenant, defaults), defaults.batch_size) for tenant in tenants]


def purge_platform_database(
    database_url: str, defaults: RetentionSettings, *, now: datetime | None = None
) -> PurgeReport:
    """Only the platform database's side of the purge (no Prefect), for every workspace."""
    factory = get_session_factory(database_url)
    report = PurgeReport()
    for purge in tenant_purges(factory, defaults, now or utcnow()):
        purge_platform_rows(factory, purge, report)
    return report


def purge_expired(settings: Settings, *, now: datetime | None = None) -> PurgeReport:
    """The whole purge: every workspace's expired rows, and the matching Prefect flow runs and logs."""
    now = now or utcnow()
    defaults = settings.retention
    factory = get_session_factory(settings.platform_database_url)
    report = PurgeReport()
    purges = tenant_purges(factory, defaults, now)
    with prefect_client(settings) as client:
        for purge in purges:
            purge_platform_rows(factory, purge, report)
            purge_batches(factory, client, purge, report)
            before = now - timedelta(days=purge.policy.log_days)
            purge_tagged_flow_runs(client, f"tenant:{purge.tenant_id}", before, purge.limit, report)
        purge_tagged_flow_runs(client, SYSTEM_TAG, now - timedelta(days=defaults.log_days), defaults.batch_size, report)
        purge_deleted_workflows(factory, client, now, defaults.batch_size, report)
    return report
