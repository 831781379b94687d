"""Where an active run is: the steps it runs now and when it should end (from its workflow version's own
history), or, while it waits to start, its place in the workspace's queue and what holds it."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.settings import Settings
from engine.admission import IN_FLIGHT, workflow_limit
from platform_api.runs import schemas
from store import (
    Execution,
    ExecutionStatus,
    StepResult,
    StepStatus,
    Tenant,
    Workflow,
    WorkflowVersion,
    utcnow,
)

HISTORY_RUNS = 50  # the latest completed runs of the version an ETA learns from
WAIT_TYPES = ("logic.delay", "logic.approval")  # their durations are waits, not work
WAITING_TO_START = (ExecutionStatus.QUEUED, ExecutionStatus.BATCHED)


def _quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[int(q * 10) - 1] if len(values) > 1 else values[0]


def _step_history(db: Session, execution: Execution, waits: set[str]) -> tuple[dict[str, list[float]], int]:
    """Seconds each step took in the version's latest completed runs (waits left out), and how many runs."""
    recent = (
        select(Execution.id)
        .where(
            Execution.workflow_id == execution.workflow_id,
            Execution.version == execution.version,
            Execution.status == ExecutionStatus.COMPLETED,
        )
        .order_by(Execution.created_at.desc())
        .limit(HISTORY_RUNS)
        .subquery()
    )
    rows = db.execute(
        select(StepResult.execution_id, StepResult.node_id, StepResult.started_at, StepResult.ended_at).where(
            StepResult.execution_id.in_(select(recent.c.id)), StepResult.item_index.is_(None)
        )
    ).all()
    seconds: dict[str, list[float]] = {}
    for row in rows:
        if row.node_id not in waits and row.started_at and row.ended_at:
            seconds.setdefault(row.node_id, []).append((row.ended_at - row.started_at).total_seconds())
    return seconds, len({row.execution_id for row in rows})


def _eta(db: Session, execution: Execution, steps: list[schemas.StepRead], now: datetime) -> schemas.Eta | None:
    graph = db.scalar(
        select(WorkflowVersion.graph).where(
            WorkflowVersion.workflow_id == execution.workflow_id, WorkflowVersion.version == execution.version
        )
    )
    waits = {n["id"] for n in (graph or {}).get("nodes", []) if n.get("type") in WAIT_TYPES}
    history, runs = _step_history(db, execution, waits)
    if not runs:
        return None
    done = {s.node_id for s in steps if s.status in (StepStatus.COMPLETED, StepStatus.FAILED, StepStatus.SKIPPED)}
    started = {s.node_id: s.started_at for s in steps if s.status == StepStatus.RUNNING and s.started_at}
    p50 = p90 = 0.0
    for node_id, seconds in history.items():  # what is left, one step after another (an upper bound)
        if node_id in done:
            continue
        spent = (now - started[node_id]).total_seconds() if node_id in started else 0.0
        p50 += max(0.0, _quantile(seconds, 0.5) - spent)
        p90 += max(0.0, _quantile(seconds, 0.9) - spent)
    return schemas.Eta(p50=now + timedelta(seconds=p50), p90=now + timedelta(seconds=p90), based_on_runs=runs)


def _held_by(db: Session, execution: Execution, settings: Settings) -> tuple[str, str]:
    if execution.status == ExecutionStatus.BATCHED:
        return "workers_busy", "It is in a batch that waits for a free worker."
    workflow = db.get_one(Workflow, execution.workflow_id)
    limit = workflow_limit(workflow)
    in_flight = func.count()
    if (
        limit is not None
        and (
            db.scalar(select(in_flight).where(Execution.workflow_id == workflow.id, Execution.status.in_(IN_FLIGHT)))
            or 0
        )
        >= limit
    ):
        return "conflict_policy", (
            f"The workflow runs {limit} at a time ({workflow.conflict_policy}); it starts when one ends."
        )
    tenant_limit = db.get_one(Tenant, execution.tenant_id).max_running or settings.quotas.max_running
    running = db.scalar(
        select(in_flight).where(Execution.tenant_id == execution.tenant_id, Execution.status.in_(IN_FLIGHT))
    )
    if tenant_limit is not None and (running or 0) >= tenant_limit:
        return "quota", f"Your workspace has {running} runs going, its most ({tenant_limit}); it starts when one ends."
    return "starting", "It starts within moments."


def _queue(db: Session, execution: Execution, settings: Settings) -> schemas.QueuePlace:
    ahead = db.scalar(
        select(func.count()).where(
            Execution.tenant_id == execution.tenant_id,
            Execution.status.in_(WAITING_TO_START),
            Execution.created_at < execution.created_at,
        )
    )
    reason, detail = _held_by(db, execution, settings)
    return schemas.QueuePlace(position=(ahead or 0) + 1, held_by=reason, detail=detail)


def progress(
    db: Session, execution: Execution, steps: list[schemas.StepRead], settings: Settings
) -> schemas.Progress | None:
    """None once the run ended."""
    now = utcnow()
    if execution.status in WAITING_TO_START:
        return schemas.Progress(current_steps=[], queue=_queue(db, execution, settings))
    if execution.status == ExecutionStatus.NEEDS_ATTENTION:
        return schemas.Progress(current_steps=[execution.waiting_node_id or ""])
    if execution.status == ExecutionStatus.WAITING:
        return schemas.Progress(current_steps=[execution.waiting_node_id or ""], waiting_until=execution.resume_at)
    if execution.status == ExecutionStatus.RUNNING:
        current = [s.node_id for s in steps if s.status == StepStatus.RUNNING]
        return schemas.Progress(current_steps=current, eta=_eta(db, execution, steps, now))
    return None
