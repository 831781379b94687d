"""Turns queued executions into batches and each batch into one Prefect flow run.

An execution is claimed by setting its batch in the same UPDATE that checks it is still
queued, so two dispatchers never batch the same execution. A batch whose flow run could not
be created is submitted again later with the same idempotency key (its id): never twice.

Fairness: a pass looks at each tenant's oldest queued executions, at most `claim_per_tenant` of each
(tenants in turn up to the pass's limit), so a tenant whose backlog is held back by a conflict policy or
its quota never keeps other tenants' executions from being looked at. PostgreSQL picks them with one
LATERAL query per tenant under `FOR UPDATE SKIP LOCKED` (window functions cannot be locked); SQLite, which
has one writer at a time, ranks them with ROW_NUMBER.

Filling batches: when the previous pass dispatched something (a burst is going on), a pass first
waits `batch_wait_ms` so that more executions join the batch; after a pass that found nothing
(idle), the next execution is dispatched at once. Under a sustained load that Prefect or the
workers cannot keep up with, `max_pending_batches` (batches of a deployment not started yet) holds
new executions in the queue, so that batches grow with the load instead of flow runs piling up.

Every `reconcile_seconds` the dispatcher also runs `engine.reconcile`: flow runs of dead
Flowyard workers become `Crashed` (judged only once Prefect has answered for as long as a worker may stay
silent: while Prefect is down, no worker can heartbeat), and executions of batches whose flow run ended
without finishing them resume or end.

It runs in the platform API process (`FLOWYARD_DISPATCHER__ENABLED`, on by default) or alone (`serve`,
`flowyard dispatcher`: its own Kubernetes Deployment). Several may run at once: claims, outbox rows and
search-index rows are taken under `FOR UPDATE SKIP LOCKED`, rollup folds under an advisory lock, flow runs are
created with the batch id as idempotency key, and an alert is open at most once per rule and subject.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext
from datetime import datetime
from itertools import groupby
from typing import Any, TypeVar, cast

from prefect.client.orchestration import SyncPrefectClient
from sqlalchemy import CursorResult, Result, distinct, func, select, true, update
from sqlalchemy.orm import Session, defer

from core import prefect_client as prefect_retries
from core.prefect_client import few_retries, prefect_client
from core.settings import Settings
from engine import outbox
from engine.admission import admit
from engine.kube.doors import open_doors
from engine.listen import listen_in_background
from engine.reconcile import crash_runs_of_dead_workers, end_executions_of_ended_batches
from engine.rollups import fold_ended_runs
from engine.search_index import index_new_runs
from engine.wakeup import notify_flow_runs_created
from engine.watch import late_flow_runs, watch
from store import Batch, Execution, ExecutionStatus, Tenant, Workflow, utcnow
from store.batches import BatchStore
from store.db import get_session_factory

log = logging.getLogger("flowyard.dispatcher")
CONGESTED_POLL_SECONDS = 0.2
FOLD_LIMIT = 2000  # ended runs counted into the reports (or new runs indexed for search) per pass
SEARCH_INDEX_SECONDS = 1.0
STALLED_SECONDS = 60.0  # a pass blocked this long (e.g. on Prefect) means nothing is dispatched
T = TypeVar("T")


def _group_key(execution: Execution) -> tuple[str, str, int, str]:
    return (execution.tenant_id, execution.workflow_id, execution.version, execution.deployment_id)


def _chunks(items: list[T], size: int) -> list[list[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE matched (its result is a cursor result)."""
    return cast(CursorResult[Any], result).rowcount


def release_due_waits(db: Session) -> int:
    """Executions whose delay is over, or whose approval was answered or timed out, queue again."""
    result = db.execute(
        update(Execution)
        .where(Execution.status == ExecutionStatus.WAITING, Execution.resume_at <= utcnow())
        .values(status=ExecutionStatus.QUEUED, batch_id=None)
    )
    db.commit()
    return _rowcount(result)


def congested_deployments(db: Session, max_pending_batches: int) -> list[str]:
    """Deployments with `max_pending_batches` batches that no worker has started yet."""
    return list(
        db.scalars(
            select(Execution.deployment_id)
            .where(Execution.status == ExecutionStatus.BATCHED)
            .group_by(Execution.deployment_id)
            .having(func.count(distinct(Execution.batch_id)) >= max_pending_batches)
        )
    )


def _oldest_per_tenant(db: Session, *, per_tenant: int, skip_deployments: list[str]) -> list[tuple[str, str, datetime]]:
    """(execution id, tenant id, created at) of each tenant's `per_tenant` oldest claimable executions; on
    PostgreSQL locked (rows another dispatcher holds are skipped)."""
    claimable = (
        Execution.status == ExecutionStatus.QUEUED,
        Execution.batch_id.is_(None),
        Execution.deployment_id.not_in(skip_deployments),
    )
    oldest_first = (Execution.created_at, Execution.id)
    if db.get_bind().dialect.name == "postgresql":
        tenants = select(Execution.tenant_id).where(*claimable).distinct().subquery("tenants")
        picked = (
            select(Execution.id, Execution.tenant_id, Execution.created_at)
            .where(Execution.tenant_id == tenants.c.tenant_id, *claimable)
            .order_by(*oldest_first)
            .limit(per_tenant)
            .with_for_update(skip_locked=True)
            .lateral("picked")
        )
        rows = db.execute(
            select(picked.c.id, picked.c.tenant_id, picked.c.created_at).select_from(tenants).join(picked, true())
        )
    else:
        ranked = (
            select(
                Execution.id,
                Execution.tenant_id,
                Execution.created_at,
                func.row_number().over(partition_by=Execution.tenant_id, order_by=oldest_first).label("rank"),
            )
            .where(*claimable)
            .subquery("ranked")
        )
        rows = db.execute(
            select(ranked.c.id, ranked.c.tenant_id, ranked.c.created_at).where(ranked.c.rank <= per_tenant)
        )
    return [(id, tenant_id, created_at) for id, tenant_id, created_at in rows]


def fair_candidates(
    db: Session, *, limit: int, per_tenant: int, skip_deployments: list[str] | None = None
) -> list[Execution]:
    """Up to `limit` queued executions, oldest first, taken from the tenants in turn: every tenant's oldest
    one, then every tenant's second, and so on, at most `per_tenant` of one tenant."""
    picked = _oldest_per_tenant(db, per_tenant=per_tenant, skip_deployments=skip_deployments or [])
    turns: Counter[str] = Counter()
    in_turn: list[tuple[int, datetime, str]] = []
    for id, tenant_id, created_at in sorted(picked, key=lambda row: (row[2], row[0])):
        turns[tenant_id] += 1
        in_turn.append((turns[tenant_id], created_at, id))
    chosen = [id for _, _, id in sorted(in_turn)[:limit]]
    oldest_first = (Execution.created_at, Execution.id)
    payloads = defer(Execution.input), defer(Execution.error)  # sealed, and not the dispatcher's to read
    return list(
        db.scalars(select(Execution).where(Execution.id.in_(chosen)).order_by(*oldest_first).options(*payloads))
    )


def claim_batches(
    db: Session,
    *,
    batch_size: int,
    limit: int,
    per_tenant: int | None = None,
    skip_deployments: list[str] | None = None,
    default_max_running: int | None = None,
) -> int:
    """Group queued executions of the same workflow version into batches. Returns executions claimed.

    Looks at `limit` executions at most, `per_tenant` (default: `limit`) of one tenant, and admits them
    (`engine.admission`; `default_max_running` is the limit of tenants without their own). Executions of
    `skip_deployments` (congested ones) stay queued and join a larger batch later.
    """
    candidates = fair_candidates(db, limit=limit, per_tenant=per_tenant or limit, skip_deployments=skip_deployments)
    queued = admit(db, candidates, default_max_running=default_max_running)
    claimed = 0
    for key, group in groupby(sorted(queued, key=_group_key), key=_group_key):
        for chunk in _chunks(list(group), batch_size):
            tenant_id, workflow_id, version, deployment_id = key
            batch = Batch(tenant_id=tenant_id, workflow_id=workflow_id, version=version, deployment_id=deployment_id)
            db.add(batch)
            db.flush()
            result = db.execute(
                update(Execution)
                .where(
                    Execution.id.in_([e.id for e in chunk]),
                    Execution.status == ExecutionStatus.QUEUED,
                    Execution.batch_id.is_(None),
                )
                .values(status=ExecutionStatus.BATCHED, batch_id=batch.id)
            )
            claimed += _rowcount(result)
    db.commit()
    return claimed


def flow_run_labels(db: Session, batches: list[Batch]) -> dict[str, tuple[str, list[str]]]:
    """Batch id -> (flow run name, extra tags), so that an operator finds a tenant's work in the Prefect UI:
    `acme/welcome-lead · batch of 37`, tagged `workflow:welcome-lead` (the deployment adds the tenant's tags)."""
    sizes = (
        select(Execution.batch_id, func.count().label("size"))
        .where(Execution.batch_id.in_([b.id for b in batches]))
        .group_by(Execution.batch_id)
        .subquery()
    )
    rows = db.execute(
        select(Batch.id, Tenant.slug, Workflow.slug, func.coalesce(sizes.c.size, 0))
        .join(Tenant, Tenant.id == Batch.tenant_id)
        .join(Workflow, Workflow.id == Batch.workflow_id)
        .outerjoin(sizes, sizes.c.batch_id == Batch.id)
        .where(Batch.id.in_([b.id for b in batches]))
    )
    return {
        id: (f"{tenant}/{workflow} · batch of {size}", [f"workflow:{workflow}"]) for id, tenant, workflow, size in rows
    }


def submit_batches(db: Session, settings: Settings, client: SyncPrefectClient | None = None) -> int:
    """Create a flow run for every batch that has none yet."""
    batches = db.scalars(select(Batch).where(Batch.flow_run_id.is_(None)).order_by(Batch.created_at).limit(500)).all()
    labels = flow_run_labels(db, list(batches)) if batches else {}
    job_variables, waiting = open_doors(db, list(batches), settings)  # batches that run as tenants' Jobs
    db.commit()  # hold no transaction (nor SQLite's lock) while asking Prefect
    if not batches:
        return 0
    with nullcontext(client) if client else prefect_client(settings) as client:
        prefect_retries.install(client)
        for batch in (b for b in batches if b.id not in waiting):
            name, tags = labels.get(batch.id, (f"batch-{batch.id[:8]}", []))
            flow_run = prefect_retries.call(  # quick retries of a 503 (SQLite Prefect); the key makes it safe
                client.create_flow_run_from_deployment,
                batch.deployment_id,
                parameters={"batch_id": batch.id},
                idempotency_key=f"batch-{batch.id}",
                name=name,
                tags=tags,
                job_variables=job_variables.get(batch.id),
            )
            batch.flow_run_id, batch.submitted_at = str(flow_run.id), utcnow()
            notify_flow_runs_created(db)  # workers poll Prefect now rather than at their next poll
            db.commit()
    return len(batches) - len(waiting)


def reconcile(db: Session, settings: Settings, client: SyncPrefectClient, *, judge_heartbeats: bool = True) -> None:
    """Crash flow runs of dead Flowyard workers (unless `judge_heartbeats` is False: Prefect has not been
    answering for long enough to have heard their heartbeats), then end executions of batches whose flow run
    ended."""
    if judge_heartbeats:
        crash_runs_of_dead_workers(client, missed_heartbeats=settings.dispatcher.missed_heartbeats)
    end_executions_of_ended_batches(
        db, client, BatchStore(settings.platform_database_url), max_resumptions=settings.execution.max_resumptions
    )


class Dispatcher:
    """A background thread; `wake()` makes it look at the queue at once (or after the batch wait in a burst)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._sessions = get_session_factory(settings.platform_database_url)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="flowyard-dispatcher", daemon=True)
        self._busy = False  # the last pass dispatched something: let the next batch fill for batch_wait_ms
        self._congested = False  # some deployment has max_pending_batches batches not started yet
        self._next_reconcile = 0.0
        self._last_pass_ok_at: float | None = None  # time.monotonic() when a reconcile pass last succeeded
        self._steady_since = time.monotonic()  # since when every reconcile pass succeeded, each in time
        self._next_pass: dict[str, float] = {}  # _side_passes: when each is due next
        self._client: SyncPrefectClient | None = None  # one for the thread: a new one costs an SSL context
        self.last_pass_at: float | None = None  # time.monotonic() when the loop last looked at the queue

    def start(self) -> None:
        self._thread.start()
        listen_in_background(
            self._settings.platform_database_url,
            {outbox.CHANNEL: self.wake},
            self._stop,
            name="flowyard-outbox-listener",
        )

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)

    def wake(self) -> None:
        self._wake.set()

    def alive(self, *, within_seconds: float) -> bool:
        """The loop thread runs and finished a pass (or a wait) within the last `within_seconds`."""
        last = self.last_pass_at
        return self._thread.is_alive() and last is not None and time.monotonic() - last <= within_seconds

    def run_once(self) -> int:
        """One pass; returns executions claimed. Sets `_busy` when the next pass should come soon."""
        config = self._settings.dispatcher
        with self._sessions() as db:
            release_due_waits(db)
            outbox.fan_out(db)
            congested = congested_deployments(db, config.max_pending_batches)
            claimed = claim_batches(
                db,
                batch_size=config.batch_size,
                limit=config.batch_size * 10,
                per_tenant=self._settings.quotas.claim_per_tenant,
                skip_deployments=congested,
                default_max_running=self._settings.quotas.max_running,
            )
            submit_batches(db, self._settings, self._client)
        self._busy, self._congested = claimed > 0, bool(congested)
        return claimed

    def _reconcile_if_due(self) -> None:
        if self._client is None or time.monotonic() < self._next_reconcile:
            return
        self._next_reconcile = time.monotonic() + self._settings.dispatcher.reconcile_seconds
        try:  # a pass must not wait through an outage in the client's retries, then judge heartbeats
            with few_retries(), self._sessions() as db:
                reconcile(db, self._settings, self._client, judge_heartbeats=self._heartbeats_heard())
            self._last_pass_ok_at = time.monotonic()
        except Exception:  # Prefect may be restarting; the next pass tries again
            self._last_pass_ok_at = None
            log.exception("reconcile pass failed")

    def _heartbeats_heard(self) -> bool:
        """Whether Prefect has answered every reconcile pass, each in time, for longer than a worker may stay
        silent. While Prefect was down, live workers could not heartbeat either: judged at once when it is back,
        they would all look dead, and their running batches would be crashed and run a second time. A pass that
        failed, or one that came late (this loop waited on Prefect meanwhile, in a dispatch pass's retries),
        starts the wait again. A pass may be late by half the silence (with the defaults 10 + 30 s, against a
        silence of 60 s): an outage that goes unseen is then too short for a live worker to miss all its
        heartbeats."""
        config, now = self._settings.dispatcher, time.monotonic()
        silence = self._settings.worker.heartbeat_seconds * config.missed_heartbeats
        if self._last_pass_ok_at is None or now - self._last_pass_ok_at > config.reconcile_seconds + silence / 2:
            self._steady_since = now
        return now - self._steady_since > silence

    def _side_passes(self) -> None:
        """The passes beside dispatching, each when due: a pass that did a full share of work runs again
        at the next loop (catching up after a burst or an upgrade)."""
        config = self._settings.dispatcher
        self._when_due("rollups", config.rollup_seconds, lambda db: fold_ended_runs(db, limit=FOLD_LIMIT) == FOLD_LIMIT)
        self._when_due(
            "search index", SEARCH_INDEX_SECONDS,
            lambda db: index_new_runs(db, self._settings, limit=FOLD_LIMIT) == FOLD_LIMIT,
        )  # fmt: skip
        self._when_due("alert watch", config.watch_seconds, self._watch)

    def _when_due(self, name: str, every_seconds: float, work: Callable[[Session], bool]) -> None:
        if time.monotonic() < self._next_pass.get(name, 0.0):
            return
        self._next_pass[name] = time.monotonic() + every_seconds
        try:
            with self._sessions() as db:
                if work(db):
                    self._next_pass[name] = 0.0
        except Exception:
            log.exception("%s pass failed", name)

    def _watch(self, db: Session) -> bool:
        late = None  # unknown while Prefect does not answer: missed-schedule alerts stay as they are
        try:
            late = late_flow_runs(self._client) if self._client else None
        except Exception:
            log.warning("could not read late flow runs from Prefect", exc_info=True)
        watch(db, late=late)
        return False

    def _loop(self) -> None:
        with prefect_client(self._settings) as client:
            self._client = client
            self._dispatch_until_stopped()

    def _dispatch_until_stopped(self) -> None:
        config = self._settings.dispatcher
        while not self._stop.is_set():
            self.last_pass_at = time.monotonic()
            if self._busy:  # a burst: let the next batch fill a little
                self._stop.wait(config.batch_wait_ms / 1000)
            elif self._congested:  # batches wait to start: look again soon, whatever wakes us
                self._stop.wait(CONGESTED_POLL_SECONDS)
            else:
                self._wake.wait(timeout=config.poll_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.run_once()
            except Exception:  # keep dispatching; the queue is durable and the next pass retries
                self._busy = self._congested = False
                log.exception("dispatch pass failed")
            self._reconcile_if_due()
            self._side_passes()


def serve(settings: Settings, stop: threading.Event, *, check_seconds: float = 5.0) -> int:
    """Run a dispatcher until `stop` is set (0), or until its loop stops or stalls (1, so that whatever
    supervises this process restarts it): what `flowyard dispatcher` runs."""
    dispatcher = Dispatcher(settings)
    dispatcher.start()
    within = max(STALLED_SECONDS, 3 * settings.dispatcher.poll_seconds)
    started = time.monotonic()
    try:
        while not stop.wait(check_seconds):
            if time.monotonic() - started > within and not dispatcher.alive(within_seconds=within):
                log.error("the dispatcher loop has not completed a pass in the last %g s: exiting", within)
                return 1
        return 0
    finally:
        dispatcher.stop()
