"""Executions: accepted durably at once, read back from the platform database with their steps."""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request, Response
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from sqlalchemy import ColumnElement, and_, false, func, or_, select
from sqlalchemy.orm import Session

from core.prefect_client import prefect_client
from core.settings import Settings
from engine.publish import TEST_RUNS_SUFFIX, DeploymentTarget
from engine.search_index import search_digests, search_fields
from flow_factory.nodes.trigger_manual import payload_violations
from platform_api.audit.service import audit
from platform_api.deps import Caller
from platform_api.limits import refuse_when_queue_full
from platform_api.pagination import paginate
from platform_api.problems import Problem, not_found
from platform_api.runs import answer, schemas
from platform_api.runs.progress import progress
from platform_api.runs.schemas import run_status
from platform_api.workflows.service import (
    deploy,
    find_version,
    get_owned_workflow,
    get_version,
    graph_errors,
    invalid_graph,
)
from store import (
    Batch,
    Execution,
    ExecutionMode,
    ExecutionStatus,
    Role,
    RunSearchKey,
    StepResult,
    Tenant,
    Workflow,
    WorkflowVersion,
    enqueue_execution,
)

LOG_PREFIX = re.compile(r"^\[run (?P<run>[0-9a-f-]{36})\] \[(?P<node>[^\]]+)\] ")
_test_deployments: dict[str, str] = {}


def _test_deployment_id(db: Session, settings: Settings, tenant_id: str) -> str:
    if tenant_id not in _test_deployments:
        tenant = db.get_one(Tenant, tenant_id)
        target = DeploymentTarget(tenant.id, tenant.slug, TEST_RUNS_SUFFIX, f"{tenant.name}: test runs")
        _test_deployments[tenant_id] = deploy(settings, target=target, known_id=None, tier=tenant.tier)
    return _test_deployments[tenant_id]


def _check_input(graph: dict[str, Any], payload: dict[str, Any]) -> None:
    trigger: dict[str, Any] = next((n for n in graph.get("nodes", []) if n.get("type", "").startswith("trigger.")), {})
    schema = (trigger.get("config") or {}).get("input_schema")
    if not schema:
        return
    errors = [
        {"hint": "Send input that matches the trigger's input schema.", **violation}  # a refused schema has its own
        for violation in payload_violations(schema, payload, "input")
    ]
    if errors:
        raise Problem(
            422,
            "invalid-input",
            "Input does not match the trigger",
            f"{errors[0]['path']}: {errors[0]['message']}",
            hint=errors[0]["hint"],
            errors=errors,
        )


def _refuse_disabled(workflow: Workflow) -> None:
    if workflow.disabled:
        raise Problem(
            409,
            "workflow-disabled",
            "Workflow disabled",
            "A disabled workflow does not run live; test runs still work.",
            hint=f"Enable it first (POST /api/v1/workflows/{workflow.id}/enable).",
        )


def _live_deployment(workflow: Workflow) -> tuple[int, str]:
    """The published version and the workflow's deployment (publishing sets both)."""
    if not workflow.published_version or not workflow.deployment_id:
        raise Problem(
            409,
            "not-published",
            "Workflow not published",
            "Only a published workflow can run live.",
            hint="Publish it first (POST /api/v1/workflows/{id}/publish), or run it with mode 'test'.",
        )
    return workflow.published_version, workflow.deployment_id


def _runnable_version(db: Session, workflow: Workflow, version: int, *, validate: bool = True) -> WorkflowVersion:
    found = find_version(db, workflow, version)
    if found is None:
        raise Problem(
            422,
            "unknown-version",
            "No such version",
            f"version: this workflow has no version {version}",
            hint=f"Pick a version between 1 and {workflow.latest_version}.",
            errors=[{"path": "version", "message": f"no version {version}", "hint": "see the workflow's versions"}],
        )
    errors = graph_errors(found.graph) if validate else []
    if errors:
        raise invalid_graph(errors)
    return found


def plan_run(
    db: Session,
    *,
    caller: Caller,
    workflow: Workflow,
    mode: str,
    input: dict[str, Any],
    settings: Settings,
    version: int | None = None,
    validate: bool = True,
) -> tuple[int, str]:
    """The version a run of `mode` with this input runs (live: the published one, test: the latest, unless
    `version` names one) and the deployment that runs it; refuses, with a problem, what cannot run. A version
    that ran before (a retry's) need not `validate` again."""
    if mode == ExecutionMode.LIVE:
        _refuse_disabled(workflow)
        published, deployment_id = _live_deployment(workflow)
        found = (
            _runnable_version(db, workflow, version, validate=validate)
            if version
            else get_version(db, workflow, published)
        )
        _check_input(found.graph, input)
        return found.version, deployment_id
    found = _runnable_version(db, workflow, version or workflow.latest_version, validate=validate)
    _check_input(found.graph, input)
    return found.version, _test_deployment_id(db, settings, caller.tenant_id)  # last: a refused run creates
    # nothing in Prefect


def create_run(
    db: Session,
    *,
    caller: Caller,
    workflow_id: str,
    data: schemas.RunCreate,
    settings: Settings,
    request: Request | None = None,
) -> Execution:
    caller.require(Role.OPERATOR, "run workflows")
    workflow = get_owned_workflow(db, caller, workflow_id)
    version, deployment_id = plan_run(
        db, caller=caller, workflow=workflow, mode=data.mode, input=data.input, settings=settings
    )
    execution, _ = enqueue_execution(
        db,
        workflow=workflow,
        version=version,
        mode=data.mode,
        deployment_id=deployment_id,
        input=data.input,
        trigger="manual",
        triggered_by=caller.user_id,
    )
    refuse_when_queue_full(db, settings=settings, tenant_id=caller.tenant_id)
    detail = {"workflow_id": workflow.id, "version": version, "mode": str(data.mode)}
    audit(db, caller, "run.started", f"run:{execution.id}", request=request, detail=detail)
    db.commit()
    return execution


def responders_of(db: Session, execution: Execution) -> frozenset[str]:
    """The webhook.respond steps of the version the run runs."""
    workflow = db.get_one(Workflow, execution.workflow_id)
    return answer.respond_nodes(get_version(db, workflow, execution.version).graph)


def _owned_execution(db: Session, caller: Caller, run_id: str) -> Execution:
    execution = db.scalar(select(Execution).where(Execution.id == run_id, Execution.tenant_id == caller.tenant_id))
    if execution is None:
        raise not_found("run")
    return execution


def _summary(execution: Execution) -> dict[str, Any]:
    return {
        "id": execution.id,
        "workflow_id": execution.workflow_id,
        "version": execution.version,
        "mode": execution.mode,
        "status": run_status(execution.status),
        "created_at": execution.created_at,
        "started_at": execution.started_at,
        "ended_at": execution.ended_at,
        "error": execution.error,
        "waiting_for": {"node_id": execution.waiting_node_id, "until": execution.resume_at}
        if execution.status == ExecutionStatus.WAITING
        else None,
        "stopped_at": execution.stopped_at_node_id,
        "trigger": execution.trigger,
        "retry_of": execution.retry_of,
    }


def list_runs(
    db: Session,
    *,
    caller: Caller,
    query: schemas.RunsQuery,
    settings: Settings,
    request: Request,
    response: Response,
) -> list[schemas.RunSummary]:
    rows = paginate(
        db,
        select(Execution).where(
            Execution.tenant_id == caller.tenant_id, *_conditions(query), *_search(db, caller, query, settings)
        ),
        order=((Execution.created_at, True),),
        row_id=Execution.id,
        limit=query.limit,
        cursor=query.cursor,
        request=request,
        response=response,
    )
    return [schemas.RunSummary(**_summary(e)) for e in rows]


def count_runs(db: Session, *, caller: Caller, filters: schemas.RunFilters, settings: Settings) -> dict[str, int]:
    """How many runs match the filters, per API status (every status named; the status filter itself is
    ignored, so that the counts show what choosing another status would list)."""
    others = filters.model_copy(update={"status": []})
    rows = db.execute(
        select(Execution.status, func.count())
        .where(Execution.tenant_id == caller.tenant_id, *_conditions(others), *_search(db, caller, others, settings))
        .group_by(Execution.status)
    ).all()
    counts: dict[str, int] = dict.fromkeys(schemas.RUN_STATUS.values(), 0)
    for status, count in rows:
        counts[schemas.run_status(status)] += count
    return counts


ACTIVE_STATUSES = (
    ExecutionStatus.QUEUED,
    ExecutionStatus.BATCHED,
    ExecutionStatus.RUNNING,
    ExecutionStatus.WAITING,
    ExecutionStatus.NEEDS_ATTENTION,
)


def last_change(db: Session, *, caller: Caller) -> tuple[Any, ...]:
    """Changes when a run of the tenant is added, starts, waits or ends (for the runs list's event stream):
    its newest run and how many of its runs are in each active status, both read through indexes, so that
    each open stream's poll costs the same with a million ended runs as with none."""
    newest = db.scalar(select(func.max(Execution.created_at)).where(Execution.tenant_id == caller.tenant_id))
    active = db.execute(
        select(Execution.status, func.count())
        .where(Execution.status.in_(ACTIVE_STATUSES), Execution.tenant_id == caller.tenant_id)
        .group_by(Execution.status)
        .order_by(Execution.status)
    ).all()
    return newest, tuple(map(tuple, active))


def _search(db: Session, caller: Caller, filters: schemas.RunFilters, settings: Settings) -> list[ColumnElement[bool]]:
    """The runs whose blind index holds the searched value."""
    if not filters.search:
        return []
    tenant = db.get_one(Tenant, caller.tenant_id)
    fields = search_fields(tenant)
    if filters.search_field is not None and filters.search_field not in fields:
        hint = f"Search one of your workspace's search fields: {', '.join(fields)} (Settings)."
        raise Problem(
            422, "unknown-search-field", "Not a search field", f"search_field: {filters.search_field!r} is not indexed",
            hint=hint, errors=[{"path": "search_field", "message": "not a search field", "hint": hint}],
        )  # fmt: skip
    pairs = search_digests(db, tenant, settings, filters.search, filters.search_field)
    matches = select(RunSearchKey.execution_id).where(
        RunSearchKey.tenant_id == caller.tenant_id,
        or_(false(), *(and_(RunSearchKey.field == field, RunSearchKey.digest == digest) for field, digest in pairs)),
    )
    return [Execution.id.in_(matches)]


def _conditions(filters: schemas.RunFilters) -> list[ColumnElement[bool]]:
    equal = {
        Execution.workflow_id: filters.workflow_id,
        Execution.version: filters.version,
        Execution.mode: filters.mode,
        Execution.trigger: filters.trigger,
    }
    conditions = [column == value for column, value in equal.items() if value is not None]
    if filters.status:
        conditions.append(Execution.status.in_(schemas.stored_statuses(filters.status)))
    bounds = (
        (Execution.created_at, filters.created_after, filters.created_before),
        (Execution.ended_at, filters.ended_after, filters.ended_before),
    )
    for column, after, before in bounds:
        if after is not None:
            conditions.append(column >= after)
        if before is not None:
            conditions.append(column < before)
    return conditions


def read_steps(db: Session, execution_id: str) -> list[schemas.StepRead]:
    rows = db.scalars(
        select(StepResult)
        .where(StepResult.execution_id == execution_id)
        .order_by(StepResult.started_at, StepResult.item_index, StepResult.id)
    )
    return [
        schemas.StepRead(
            node_id=s.node_id,
            item_index=s.item_index,
            status=s.status,
            attempts=s.attempts,
            handle=s.handle,
            decision=s.decision,
            started_at=s.started_at,
            ended_at=s.ended_at,
            input=s.input,
            output=s.output,
            error=s.error,
        )
        for s in rows
    ]


def _read_logs(settings: Settings, flow_run_id: str, execution_id: str) -> list[schemas.LogRead]:
    with prefect_client(settings) as client:
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])), limit=200)
    lines = []
    for log in logs:
        match = LOG_PREFIX.match(log.message)
        if match and match["run"] == execution_id:
            lines.append(
                schemas.LogRead(
                    timestamp=log.timestamp,
                    level=_level_name(log.level),
                    node_id=match["node"],
                    message=log.message[match.end() :],
                )
            )
    return lines


def _level_name(level: int) -> str:
    return {10: "debug", 20: "info", 30: "warning", 40: "error", 50: "critical"}.get(level, str(level))


def read_run(db: Session, *, caller: Caller, run_id: str, settings: Settings) -> schemas.RunRead:
    execution = _owned_execution(db, caller, run_id)
    flow_run_id = (
        db.scalar(select(Batch.flow_run_id).where(Batch.id == execution.batch_id)) if execution.batch_id else None
    )
    logs, available = [], True
    if flow_run_id:
        try:
            logs = _read_logs(settings, flow_run_id, execution.id)
        except Exception:
            available = False
    steps = read_steps(db, execution.id)
    return schemas.RunRead(
        **_summary(execution),
        progress=progress(db, execution, steps, settings),
        steps=steps,
        logs=logs,
        logs_available=available,
    )


def snapshot(db: Session, *, caller: Caller, run_id: str) -> tuple[str, list[schemas.StepRead]]:
    """The run's status and steps, for the live event stream."""
    execution = _owned_execution(db, caller, run_id)
    return run_status(execution.status), read_steps(db, execution.id)
