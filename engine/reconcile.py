"""Nothing stays `running` forever: flow runs of dead Flowyard workers, and executions of ended batches.

1. `crash_runs_of_dead_workers`: a Flowyard worker runs its flow runs in its own process, so when
   it dies they die with it. Each of its flow runs carries its name (label `prefect.worker.name`)
   and it heartbeats to Prefect; a flow run whose worker missed `missed_heartbeats` heartbeats (or
   is gone) is set `Crashed` (`Cancelled` if it was being cancelled). So is a run left `Pending`
   without a worker label for as long (its worker died between claiming and labelling it). Crashing
   a live worker's run by mistake (its label call was slow) costs a claim, not a double run: its
   executions leave the batch to resume in a new one, so its engine finds none left to run.
   Only pools of type "flowyard" are checked: a process worker's flow run lives in a subprocess that
   may outlive the worker.
2. `end_executions_of_ended_batches`: when a batch's flow run ended while some of its executions
   are still `batched` or `running` in the platform database:
   - `Crashed` (its worker died) or `Failed`: they queue again and resume from their stored steps in a
     new batch (`BatchStore.resume_unfinished`), at most `FLOWYARD_EXECUTION__MAX_RESUMPTIONS` times
     each, since a step that kills its worker would kill the next one too; then they fail. A failing
     interpreter ends its unfinished executions itself before its flow run fails, so a `Failed` one
     that left some unfinished could not write: the platform database was away;
   - `Cancelled` or any other final state: they end `cancelled` (`failed` for another state) with an
     error naming the flow run's state.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterState,
    FlowRunFilterStateType,
    WorkPoolFilter,
    WorkPoolFilterType,
)
from prefect.client.schemas.objects import FlowRun, State, StateType
from prefect.exceptions import ObjectNotFound
from prefect.states import Cancelled, Crashed
from sqlalchemy import select
from sqlalchemy.orm import Session

from store import Batch, Execution, ExecutionStatus
from store.batches import BatchStore

log = logging.getLogger("flowyard.reconcile")
WORKER_TYPE = "flowyard"
WORKER_LABEL = "prefect.worker.name"
DEFAULT_HEARTBEAT_SECONDS = 30  # Prefect's, for a worker that did not say
PAGE = 200
ACTIVE = [StateType.PENDING, StateType.RUNNING, StateType.CANCELLING]
ENDED = [StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED]


def _read_all(client: SyncPrefectClient, **filters: Any) -> list[FlowRun]:
    runs: list[FlowRun] = []
    offset = 0
    while True:
        page = client.read_flow_runs(limit=PAGE, offset=offset, **filters)
        runs.extend(page)
        if len(page) < PAGE:
            return runs
        offset += PAGE


def _live_workers(client: SyncPrefectClient, pool: str, missed_heartbeats: int, now: datetime) -> set[str]:
    live = set()
    for worker in client.read_workers_for_work_pool(pool):
        interval = worker.heartbeat_interval_seconds or DEFAULT_HEARTBEAT_SECONDS
        if worker.last_heartbeat_time and now - worker.last_heartbeat_time < timedelta(
            seconds=interval * missed_heartbeats
        ):
            live.add(worker.name)
    return live


def _silence_of_a_dead_worker(client: SyncPrefectClient, pool: str, missed_heartbeats: int) -> timedelta:
    """How long the pool's workers stay silent before they count as dead: their missed heartbeats."""
    intervals = [
        w.heartbeat_interval_seconds or DEFAULT_HEARTBEAT_SECONDS for w in client.read_workers_for_work_pool(pool)
    ]
    return timedelta(seconds=max(intervals, default=DEFAULT_HEARTBEAT_SECONDS) * missed_heartbeats)


def crash_runs_of_dead_workers(client: SyncPrefectClient, *, missed_heartbeats: int) -> int:
    """Mark flow runs whose Flowyard worker stopped heartbeating `Crashed`. Returns how many."""
    runs = _read_all(
        client,
        flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=ACTIVE))),
        work_pool_filter=WorkPoolFilter(type=WorkPoolFilterType(any_=[WORKER_TYPE])),
    )
    now = datetime.now(UTC)
    live: dict[str, set[str]] = {}
    silence: dict[str, timedelta] = {}
    crashed = 0
    for run in runs:
        worker = (run.labels or {}).get(WORKER_LABEL)
        pool = run.work_pool_name or ""
        if worker is None:
            if run.state_type != StateType.PENDING:
                continue
            if pool not in silence:
                silence[pool] = _silence_of_a_dead_worker(client, pool, missed_heartbeats)
            dead = now - (run.state.timestamp if run.state else now) > silence[pool]
        else:
            if pool not in live:
                live[pool] = _live_workers(client, pool, missed_heartbeats, now)
            dead = worker not in live[pool]
        if not dead:
            continue
        message = f"Worker {worker or '(unknown)'} stopped heartbeating while it ran this flow run."
        state: State[Any] = (
            Cancelled(message=message) if run.state_type == StateType.CANCELLING else Crashed(message=message)
        )
        try:
            client.set_flow_run_state(run.id, state, force=True)
        except ObjectNotFound:
            continue
        log.warning("flow run %s: %s", run.id, message)
        crashed += 1
    return crashed


def end_executions_of_ended_batches(
    db: Session, client: SyncPrefectClient, store: BatchStore, *, max_resumptions: int
) -> int:
    """Resume or end the pending/running executions of batches whose flow run has ended. Returns batches fixed."""
    batches = dict(
        db.execute(
            select(Batch.id, Batch.flow_run_id)
            .distinct()
            .join(Execution, Execution.batch_id == Batch.id)
            .where(
                Execution.status.in_((ExecutionStatus.BATCHED, ExecutionStatus.RUNNING)), Batch.flow_run_id.is_not(None)
            )
        ).all()
    )
    db.rollback()  # hold no transaction (nor SQLite's lock) while asking Prefect
    if not batches:
        return 0
    by_flow_run = {flow_run_id: batch_id for batch_id, flow_run_id in batches.items()}
    ids = list(by_flow_run)
    fixed = 0
    for start in range(0, len(ids), PAGE):
        ended = client.read_flow_runs(
            limit=PAGE,
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=ids[start : start + PAGE]),
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=ENDED)),
            ),
        )
        for run in ended:
            resume_or_end(store, by_flow_run[str(run.id)], run, max_resumptions)
            fixed += 1
    return fixed


def resume_or_end(store: BatchStore, batch_id: str, run: FlowRun, max_resumptions: int) -> None:
    """The unfinished executions of a batch whose flow run `run` ended: resumed or ended, by its state."""
    state = run.state.name if run.state else (run.state_type.value if run.state_type else "ended")
    detail = f": {run.state.message}" if run.state and run.state.message else ""
    reason = f"The batch running this execution ended {state}{detail}"
    if run.state_type in (StateType.CRASHED, StateType.FAILED):
        outcome = store.resume_unfinished(batch_id, most=max_resumptions, reason=reason)
        log.warning(
            "batch %s: flow run %s ended %s; %s", batch_id, run.id, state, dict(outcome) or "nothing unfinished"
        )
        return
    status = ExecutionStatus.CANCELLED if run.state_type == StateType.CANCELLED else ExecutionStatus.FAILED
    error = {
        "message": reason,
        "hint": "Run it again; if it keeps happening, contact your operator.",
        "retryable": False,
    }
    store.fail_unfinished(batch_id, status, error)
    log.warning("batch %s: flow run %s ended %s; its unfinished executions are now %s", batch_id, run.id, state, status)
