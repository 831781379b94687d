"""Retry and replay: a new run of an ended run's input, linked to it (`retry_of`).

A retry from the failed step copies the original's finished step rows (all but the failed step's) into
the new run; the interpreter restores them as it does after a wait (`flow_factory.progress.restore`) and
runs on from the failed step, so earlier steps send nothing again. The new run has its own id, and with
it its own idempotency keys (`<run>-<node>`): what it runs does act again, which the preview names."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from blocks.registry import effect_of
from core.settings import Settings
from platform_api.audit.service import audit
from platform_api.deps import Caller
from platform_api.limits import refuse_when_queue_full
from platform_api.problems import Problem, not_found
from platform_api.run_control import schemas
from platform_api.runs.service import plan_run
from platform_api.workflows.service import get_owned_workflow, get_version
from store import (
    FINAL_EXECUTION_STATUSES,
    FINISHED_STEP_STATUSES,
    Execution,
    ExecutionStatus,
    StepResult,
    enqueue_execution,
)

AUDIT_ACTIONS = {"retry": "run.retried", "replay": "run.replayed"}  # the new run's trigger kind → audit action
COPIED = (  # a reused step's columns, copied into the new run
    *("node_id", "item_index", "status", "attempts", "input", "output", "error", "handle", "decision"),
    *("started_at", "ended_at"),
)


def _ended_run(db: Session, caller: Caller, run_id: str) -> Execution:
    execution = db.scalar(select(Execution).where(Execution.id == run_id, Execution.tenant_id == caller.tenant_id))
    if execution is None:
        raise not_found("run")
    if execution.status not in FINAL_EXECUTION_STATUSES:
        raise Problem(
            409,
            "run-active",
            "Run still active",
            f"This run is {execution.status}; only a run that ended can be retried or replayed.",
            hint="Wait for it to end, or cancel it first (POST /api/v1/runs/{id}/cancel).",
        )
    if execution.payload_cleared_at is not None:
        raise Problem(
            409,
            "run-purged",
            "Run input purged",
            "The workspace's retention policy cleared this run's input and step outputs.",
            hint="Start a new run with the input you want instead.",
        )
    return execution


def _reusable_steps(db: Session, original: Execution) -> list[StepResult]:
    """The original's finished steps but the one it failed at: a retry from the failed step reuses them."""
    failed_node = (original.error or {}).get("node_id") if original.status == ExecutionStatus.FAILED else None
    if not failed_node:
        raise Problem(
            409,
            "no-failed-step",
            "No failed step to retry from",
            f"This run ended {original.status} without a failed step.",
            hint='Retry it from the start ({"from": "start"}) or replay it instead.',
        )
    return list(
        db.scalars(
            select(StepResult).where(
                StepResult.execution_id == original.id,
                StepResult.status.in_(FINISHED_STEP_STATUSES),
                StepResult.node_id != failed_node,
            )
        )
    )


def _plan(graph: dict[str, Any], version: int, reused: list[StepResult]) -> schemas.RerunPlan:
    skipped = {step.node_id for step in reused}
    effects = [
        schemas.SideEffect(node_id=node["id"], label=node.get("label") or node["id"], type=node["type"], effect=effect)
        for node in graph.get("nodes", [])
        if node["id"] not in skipped and (effect := effect_of(node["type"], node.get("config") or {}))
    ]
    return schemas.RerunPlan(version=version, reused_steps=sorted(skipped), side_effects=effects)


def _prepare(
    db: Session, caller: Caller, original: Execution, *, version: int | None, reuse: bool, settings: Settings
) -> tuple[schemas.RerunPlan, str, list[StepResult]]:
    reused = _reusable_steps(db, original) if reuse else []
    workflow = get_owned_workflow(db, caller, original.workflow_id)
    number, deployment_id = plan_run(
        db,
        caller=caller,
        workflow=workflow,
        mode=original.mode,
        input=original.input,
        settings=settings,
        version=version or original.version,
        validate=version not in (None, original.version),  # the run's own version ran already
    )
    return _plan(get_version(db, workflow, number).graph, number, reused), deployment_id, reused


def _start(
    db: Session,
    caller: Caller,
    original: Execution,
    *,
    kind: str,
    version: int | None,
    reuse: bool,
    settings: Settings,
    request: Request | None,
) -> schemas.RerunAccepted:
    plan, deployment_id, reused = _prepare(db, caller, original, version=version, reuse=reuse, settings=settings)
    execution, _ = enqueue_execution(
        db,
        workflow=get_owned_workflow(db, caller, original.workflow_id),
        version=plan.version,
        mode=original.mode,
        deployment_id=deployment_id,
        input=original.input,
        trigger=kind,
        triggered_by=caller.user_id,
    )
    execution.retry_of = original.id
    db.add_all(
        StepResult(
            tenant_id=original.tenant_id,
            execution_id=execution.id,
            **{name: getattr(step, name) for name in COPIED},
        )
        for step in reused
    )
    refuse_when_queue_full(db, settings=settings, tenant_id=caller.tenant_id)
    detail = {"workflow_id": original.workflow_id, "retry_of": original.id, "version": plan.version}
    audit(db, caller, AUDIT_ACTIONS[kind], f"run:{execution.id}", request=request, detail=detail)
    db.commit()
    return schemas.RerunAccepted(run_id=execution.id, retry_of=original.id, **plan.model_dump())


def preview_retry(db: Session, *, caller: Caller, run_id: str, from_: str, settings: Settings) -> schemas.RerunPlan:
    original = _ended_run(db, caller, run_id)
    return _prepare(db, caller, original, version=None, reuse=from_ == "failed_step", settings=settings)[0]


def preview_replay(
    db: Session, *, caller: Caller, run_id: str, version: int | None, settings: Settings
) -> schemas.RerunPlan:
    original = _ended_run(db, caller, run_id)
    return _prepare(db, caller, original, version=version, reuse=False, settings=settings)[0]


def retry(
    db: Session, *, caller: Caller, run_id: str, from_: str, settings: Settings, request: Request | None = None
) -> schemas.RerunAccepted:
    """A new run of the same version and input: from the failed step (earlier outputs reused) or the start."""
    original = _ended_run(db, caller, run_id)
    reuse = from_ == "failed_step"
    return _start(db, caller, original, kind="retry", version=None, reuse=reuse, settings=settings, request=request)


def replay(
    db: Session, *, caller: Caller, run_id: str, version: int | None, settings: Settings, request: Request | None = None
) -> schemas.RerunAccepted:
    """A new run of the same input from the start, on `version` or the run's own."""
    original = _ended_run(db, caller, run_id)
    return _start(db, caller, original, kind="replay", version=version, reuse=False, settings=settings, request=request)
