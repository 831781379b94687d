"""Reports of a workflow or the whole workspace, read from the rollups (`store.reports`) only: hourly ones
for hour buckets, daily ones (days of the workspace's time zone) for day buckets."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_api.deps import Caller
from platform_api.problems import Problem
from platform_api.reports import schemas
from platform_api.workflows.service import get_owned_workflow, get_version
from store import (
    Execution,
    ExecutionMode,
    ExecutionStatus,
    RunRollup,
    StepRollup,
    Tenant,
    Workflow,
    utcnow,
)
from store.reports import OUTCOMES, percentile

DEFAULT_SPAN = timedelta(days=7)
MOST_BUCKETS = {"hour": 24 * 31, "day": 400}
COUNT_COLUMNS = (RunRollup.runs, RunRollup.completed, RunRollup.failed, RunRollup.cancelled)
CSV_COLUMNS = ("start", "runs", "completed", "failed", "cancelled", "success_rate", "p50_ms", "p95_ms")


def _bad_range(path: str, message: str, hint: str) -> Problem:
    return Problem(
        422, "invalid-report-range", "Invalid report range", f"{path}: {message}", hint=hint,
        errors=[{"path": path, "message": message, "hint": hint}],
    )  # fmt: skip


def _range(query: schemas.ReportQuery) -> tuple[datetime, datetime]:
    end = query.to or utcnow()
    start = query.from_ or end - DEFAULT_SPAN
    if start >= end:
        raise _bad_range("from", "must be before `to`", "Pick a start earlier than the end.")
    step = timedelta(hours=1) if query.bucket == "hour" else timedelta(days=1)
    if (end - start) / step > MOST_BUCKETS[query.bucket]:
        most = MOST_BUCKETS[query.bucket]
        raise _bad_range(
            "from", f"the range holds more than {most} {query.bucket}s", "Use day buckets or a shorter range."
        )
    return start, end


def _bucket_starts(start: datetime, end: datetime, bucket: str, zone: ZoneInfo) -> list[datetime]:
    if bucket == "hour":
        first = start.astimezone(zone).replace(minute=0, second=0, microsecond=0)
        count = -((first - end) // timedelta(hours=1))  # ceiling: the last bucket may end after `end`
        return [first + timedelta(hours=i) for i in range(count)]
    day, starts = start.astimezone(zone).date(), []
    while (moment := datetime(day.year, day.month, day.day, tzinfo=zone)) < end:
        starts.append(moment)
        day += timedelta(days=1)
    return starts


def _bucket_of(start: datetime, zone: ZoneInfo) -> datetime:
    """The bucket a rollup row falls in: the row's own start (a day row's is its local midnight), in `zone`;
    a day row made while the workspace had another time zone keeps that day's start."""
    return start.astimezone(zone)


@dataclass
class _Sum:
    """Rollup rows added up: counts, and the duration histograms merged."""

    runs: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    durations: dict[str, int] = field(default_factory=dict)

    def add(self, runs: int, completed: int, failed: int, cancelled: int, durations: dict[str, Any]) -> None:
        self.runs += runs
        self.completed += completed
        self.failed += failed
        self.cancelled += cancelled
        merged = self.durations
        for bucket, count in durations.items():
            merged[bucket] = merged.get(bucket, 0) + count

    def absorb(self, other: _Sum) -> None:
        self.add(other.runs, other.completed, other.failed, other.cancelled, other.durations)

    def totals(self) -> schemas.Totals:
        return schemas.Totals(
            runs=self.runs,
            completed=self.completed,
            failed=self.failed,
            cancelled=self.cancelled,
            success_rate=round(self.completed / self.runs, 4) if self.runs else None,
            p50_ms=percentile(self.durations, 0.5),
            p95_ms=percentile(self.durations, 0.95),
        )


@dataclass
class _Tally:
    """One pass over a report's rollup rows: per bucket, per workflow, in total, and the outcomes."""

    buckets: dict[datetime, _Sum]
    workflows: dict[str, _Sum] = field(default_factory=lambda: defaultdict(_Sum))
    outcomes: dict[str, int] = field(default_factory=dict)

    def total(self) -> _Sum:
        total = _Sum()
        for bucket in self.buckets.values():
            total.absorb(bucket)
        return total


def _tally(rows: Iterable[Any], starts: list[datetime], zone: ZoneInfo, per_workflow: bool) -> _Tally:
    tally = _Tally({start: _Sum() for start in starts})
    for workflow_id, period_start, runs, completed, failed, cancelled, durations, outcomes in rows:
        counts = (runs, completed, failed, cancelled, durations)
        tally.buckets.setdefault(_bucket_of(period_start, zone), _Sum()).add(*counts)
        if per_workflow:
            tally.workflows[workflow_id].add(*counts)
        for name, count in outcomes.items():
            tally.outcomes[name] = tally.outcomes.get(name, 0) + count
    return tally


def _series(tally: _Tally, starts: list[datetime]) -> list[schemas.Point]:
    return [schemas.Point(start=start, **tally.buckets[start].totals().model_dump()) for start in starts]


def _steps(db: Session, workflow: Workflow, start: datetime, end: datetime) -> list[schemas.StepStats]:
    columns = (StepRollup.node_id, StepRollup.runs, StepRollup.failures, StepRollup.durations)
    sums: dict[str, _Sum] = defaultdict(_Sum)
    for node_id, runs, failures, durations in db.execute(
        select(*columns).where(StepRollup.workflow_id == workflow.id, *_hours(StepRollup, start, end))
    ):
        sums[node_id].add(runs, 0, failures, 0, durations)
    labels = _labels(db, workflow)
    stats = [
        schemas.StepStats(
            node_id=node_id,
            label=labels.get(node_id, node_id),
            runs=step.runs,
            failures=step.failed,
            p95_ms=percentile(step.durations, 0.95),
        )
        for node_id, step in sums.items()
    ]
    return sorted(stats, key=lambda s: (-s.failures, s.node_id))


def _workflows(db: Session, caller: Caller, tally: _Tally) -> list[schemas.WorkflowStats]:
    names = dict(db.execute(select(Workflow.id, Workflow.name).where(Workflow.tenant_id == caller.tenant_id)).all())
    stats = []
    for workflow_id, sums in tally.workflows.items():
        totals = sums.totals()
        stats.append(
            schemas.WorkflowStats(
                workflow_id=workflow_id,
                name=names.get(workflow_id, "(deleted workflow)"),
                runs=totals.runs,
                failed=totals.failed,
                success_rate=totals.success_rate,
                p95_ms=totals.p95_ms,
            )
        )
    return sorted(stats, key=lambda s: (-s.runs, s.name))


def _hours(table: Any, start: datetime, end: datetime) -> tuple[Any, ...]:
    """The rollup hours that hold runs ended in [start, end): from the hour `start` falls in."""
    return table.hour >= start.replace(minute=0, second=0, microsecond=0), table.hour < end


def report(
    db: Session, *, caller: Caller, query: schemas.ReportQuery, workflow_id: str | None = None
) -> schemas.Report:
    start, end = _range(query)
    zone = ZoneInfo(db.get_one(Tenant, caller.tenant_id).time_zone or "UTC")
    workflow = get_owned_workflow(db, caller, workflow_id) if workflow_id else None
    scope = RunRollup.workflow_id == workflow.id if workflow else RunRollup.tenant_id == caller.tenant_id
    starts = _bucket_starts(start, end, query.bucket, zone)
    columns = (RunRollup.workflow_id, RunRollup.start, *COUNT_COLUMNS, RunRollup.durations, RunRollup.outcomes)
    periods = (RunRollup.grain == query.bucket, RunRollup.start >= starts[0], RunRollup.start < end)
    rows = db.execute(select(*columns).where(scope, *periods))
    tally = _tally(rows, starts, zone, per_workflow=workflow is None)
    return schemas.Report.model_validate(
        {
            "from": start,
            "to": end,
            "bucket": query.bucket,
            "workflow_id": workflow.id if workflow else None,
            "totals": tally.total().totals(),
            "series": _series(tally, starts),
            "steps": _steps(db, workflow, start, end) if workflow else [],
            "workflows": [] if workflow else _workflows(db, caller, tally),
            "outcomes": schemas.Outcomes(**{name: tally.outcomes.get(name, 0) for name in OUTCOMES}),
        }
    )


def as_csv(report: schemas.Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for point in report.series:
        values = point.model_dump()
        writer.writerow([point.start.isoformat(), *(("" if values[c] is None else values[c]) for c in CSV_COLUMNS[1:])])
    return out.getvalue()


FAILURES_SCANNED = 5000  # the latest failed runs grouped


def failure_groups(
    db: Session, *, caller: Caller, workflow_id: str, query: schemas.ReportQuery
) -> list[schemas.FailureGroup]:
    """The workflow's failed live runs in the range, grouped by step, kind and status; largest group first."""
    start, end = _range(query)
    workflow = get_owned_workflow(db, caller, workflow_id)
    rows = db.execute(
        select(Execution.id, Execution.error, Execution.ended_at)
        .where(
            Execution.workflow_id == workflow.id,
            Execution.status == ExecutionStatus.FAILED,
            Execution.mode == ExecutionMode.LIVE,
            Execution.ended_at >= start,
            Execution.ended_at < end,
        )
        .order_by(Execution.ended_at.desc())
        .limit(FAILURES_SCANNED)
    ).all()
    groups: dict[tuple[str, str, int | None], list[Any]] = defaultdict(list)
    for row in rows:
        error = row.error or {}
        status = (error.get("details") or {}).get("status_code")
        groups[(error.get("node_id") or "", error.get("kind") or "internal", status)].append(row)
    labels = _labels(db, workflow)
    zone = ZoneInfo(db.get_one(Tenant, caller.tenant_id).time_zone or "UTC")
    return sorted((_group(key, runs, labels, zone) for key, runs in groups.items()), key=lambda g: (-g.runs, g.node_id))


def _group(
    key: tuple[str, str, int | None], runs: list[Any], labels: dict[str, str], zone: ZoneInfo
) -> schemas.FailureGroup:
    node_id, kind, status = key
    latest, first = runs[0], runs[-1]
    label = labels.get(node_id, node_id or "the workflow")
    since = first.ended_at.astimezone(zone)
    what = f"{status}" if status else kind.replace("_", " ")
    plural = "run" if len(runs) == 1 else "runs"
    return schemas.FailureGroup(
        node_id=node_id, label=label, kind=kind, status_code=status, runs=len(runs), first_at=first.ended_at,
        last_at=latest.ended_at, summary=f"{len(runs)} {plural} failed at '{label}' with {what} since {since:%H:%M}"
        + ("" if since.date() == latest.ended_at.astimezone(zone).date() else f" on {since:%b %d}"),
        message=latest.error.get("message") or "", hint=latest.error.get("hint"),
        docs_url=latest.error.get("docs_url"), latest_run_id=latest.id,
    )  # fmt: skip


def _labels(db: Session, workflow: Workflow) -> dict[str, str]:
    graph = get_version(db, workflow, workflow.latest_version).graph
    return {node["id"]: node.get("label") or node["id"] for node in graph.get("nodes", [])}
