"""Folding ended runs into the reports' rollups (`store.reports`), each run once.

The dispatcher folds every few seconds whatever ended since (`fold_ended_runs`); test runs are marked
folded without being counted. Folds are serialised (an advisory lock on PostgreSQL, the one writer on
SQLite), so two API replicas never add the same hour's counts at once. A run counts in the hour in which
it ended and in the day (in its workspace's time zone then) in which it ended; its duration is from its
start (queue time excluded) to its end, waits included."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import false, select, text, tuple_, update
from sqlalchemy.orm import Session

from blocks.registry import effect_of
from store import (
    FINAL_EXECUTION_STATUSES,
    Execution,
    ExecutionMode,
    ExecutionStatus,
    RunRollup,
    StepResult,
    StepRollup,
    StepStatus,
    Tenant,
    WorkflowVersion,
)
from store.reports import Grain, histogram, merge

FOLD_LOCK = 7_151_515  # pg_advisory_xact_lock key of the fold
OUTCOME_OF_EFFECT = {"email": "emails_sent", "SMS": "sms_sent", "post": "posts", "CRM write": "crm_writes"}
HTTP_REQUEST = "http.request"
UTC_ZONE = ZoneInfo("UTC")

Graphs = dict[tuple[str, int], dict[str, str | None]]  # (workflow, version) -> node id -> outcome counted


@dataclass
class _RunCounts:
    tenant_id: str
    runs: int = 0
    by_status: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    durations: list[float] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@dataclass
class _StepCounts:
    tenant_id: str
    runs: int = 0
    failures: int = 0
    durations: list[float] = field(default_factory=list)


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _ms(start: datetime | None, end: datetime | None) -> float | None:
    return (end - start).total_seconds() * 1000 if start and end else None


def _outcome(node: dict[str, Any]) -> str | None:
    if node.get("type") == HTTP_REQUEST:
        return "http_calls"
    effect = effect_of(str(node.get("type")), node.get("config") or {})
    return OUTCOME_OF_EFFECT.get(effect or "")


def _zones(db: Session, tenant_ids: set[str]) -> dict[str, ZoneInfo]:
    rows = db.execute(select(Tenant.id, Tenant.time_zone).where(Tenant.id.in_(list(tenant_ids))))
    return {tenant_id: ZoneInfo(zone or "UTC") for tenant_id, zone in rows}


def _graphs(db: Session, keys: set[tuple[str, int]]) -> Graphs:
    rows = db.execute(
        select(WorkflowVersion.workflow_id, WorkflowVersion.version, WorkflowVersion.graph).where(
            tuple_(WorkflowVersion.workflow_id, WorkflowVersion.version).in_(list(keys))
        )
    )
    return {
        (workflow_id, version): {node["id"]: _outcome(node) for node in (graph or {}).get("nodes", [])}
        for workflow_id, version, graph in rows
    }


RunKey = tuple[str, str, datetime]  # (workflow, grain, start of the hour or the local day)


def _day(moment: datetime, zone: ZoneInfo) -> datetime:
    local = moment.astimezone(zone)
    return datetime(local.year, local.month, local.day, tzinfo=zone)


def _periods(run: Any, zones: dict[str, ZoneInfo]) -> list[RunKey]:
    day = _day(run.ended_at, zones.get(run.tenant_id, UTC_ZONE))
    return [(run.workflow_id, Grain.HOUR, _hour(run.ended_at)), (run.workflow_id, Grain.DAY, day)]


def _count_runs(runs: list[Any], zones: dict[str, ZoneInfo]) -> dict[RunKey, _RunCounts]:
    counts: dict[RunKey, _RunCounts] = {}
    for run in runs:
        duration = _ms(run.started_at, run.ended_at)
        for key in _periods(run, zones):
            entry = counts.setdefault(key, _RunCounts(run.tenant_id))
            entry.runs += 1
            entry.by_status[run.status] += 1
            if duration is not None:
                entry.durations.append(duration)
    return counts


def _count_steps(
    db: Session, runs: list[Any], graphs: Graphs, run_counts: dict[RunKey, _RunCounts], zones: dict[str, ZoneInfo]
) -> dict[tuple[str, str, datetime], _StepCounts]:
    by_id = {run.id: run for run in runs}
    counts: dict[tuple[str, str, datetime], _StepCounts] = {}
    steps = db.execute(
        select(
            StepResult.execution_id, StepResult.node_id, StepResult.status, StepResult.started_at, StepResult.ended_at
        ).where(StepResult.execution_id.in_(list(by_id)))
    )
    for step in steps:
        if step.status == StepStatus.SKIPPED:  # a disabled step did not run: no run, failure or duration of its own
            continue
        run = by_id[step.execution_id]
        hour = _hour(run.ended_at)
        entry = counts.setdefault((run.workflow_id, step.node_id, hour), _StepCounts(run.tenant_id))
        entry.runs += 1
        entry.failures += step.status == StepStatus.FAILED
        duration = _ms(step.started_at, step.ended_at)
        if duration is not None:
            entry.durations.append(duration)
        outcome = graphs.get((run.workflow_id, run.version), {}).get(step.node_id)
        if outcome and step.status == StepStatus.COMPLETED:
            for key in _periods(run, zones):
                run_counts[key].outcomes[outcome] += 1
    return counts


def _rows_for(
    db: Session, model: Any, key_columns: tuple[str, str, str], counts: dict[Any, Any], **empty: Any
) -> dict[Any, Any]:
    """The stored rollup row of each key of `counts` (workflow, ..., period start); a missing one is added to the
    session with the `empty` values."""
    if not counts:
        return {}
    workflow, _, period = (getattr(model, name) for name in key_columns)
    periods = [key[2] for key in counts]
    query = select(model).where(workflow.in_({key[0] for key in counts}), period.between(min(periods), max(periods)))
    rows = {tuple(getattr(row, name) for name in key_columns): row for row in db.scalars(query)}
    for key, entry in counts.items():
        if key not in rows:
            rows[key] = model(tenant_id=entry.tenant_id, **dict(zip(key_columns, key, strict=True)), **empty)
            db.add(rows[key])
    return rows


def _add_runs(db: Session, counts: dict[RunKey, _RunCounts]) -> None:
    zero = {"runs": 0, "completed": 0, "failed": 0, "cancelled": 0, "durations": {}, "outcomes": {}}
    rows = _rows_for(db, RunRollup, ("workflow_id", "grain", "start"), counts, **zero)
    for key, entry in counts.items():
        row = rows[key]
        row.runs += entry.runs
        row.completed += entry.by_status[ExecutionStatus.COMPLETED]
        row.failed += entry.by_status[ExecutionStatus.FAILED]
        row.cancelled += entry.by_status[ExecutionStatus.CANCELLED]
        row.durations = merge(row.durations, histogram(entry.durations))
        row.outcomes = merge(row.outcomes, entry.outcomes)


def _add_steps(db: Session, counts: dict[tuple[str, str, datetime], _StepCounts]) -> None:
    rows = _rows_for(db, StepRollup, ("workflow_id", "node_id", "hour"), counts, runs=0, failures=0, durations={})
    for key, entry in counts.items():
        row = rows[key]
        row.runs += entry.runs
        row.failures += entry.failures
        row.durations = merge(row.durations, histogram(entry.durations))


def _serialise(db: Session) -> None:
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": FOLD_LOCK})


def _mark_folded(db: Session, ids: Iterable[str]) -> None:
    db.execute(
        update(Execution).where(Execution.id.in_(list(ids))).values(rolled_up=True),
        execution_options={"synchronize_session": False},
    )


def fold_ended_runs(db: Session, *, limit: int = 2000) -> int:
    """Count up to `limit` ended runs not counted yet into the rollups, and commit; returns how many."""
    _serialise(db)
    ended = db.execute(
        select(
            Execution.id,
            Execution.tenant_id,
            Execution.workflow_id,
            Execution.version,
            Execution.mode,
            Execution.status,
            Execution.started_at,
            Execution.ended_at,
        )  # fmt: skip
        .where(Execution.rolled_up == false(), Execution.status.in_(FINAL_EXECUTION_STATUSES))
        .order_by(Execution.ended_at)
        .limit(limit)
    ).all()
    live = [run for run in ended if run.mode == ExecutionMode.LIVE and run.ended_at is not None]
    if live:
        zones = _zones(db, {run.tenant_id for run in live})
        run_counts = _count_runs(live, zones)
        graphs = _graphs(db, {(run.workflow_id, run.version) for run in live})
        step_counts = _count_steps(db, live, graphs, run_counts, zones)
        _add_runs(db, run_counts)
        _add_steps(db, step_counts)
    _mark_folded(db, (run.id for run in ended))
    db.commit()
    return len(ended)
