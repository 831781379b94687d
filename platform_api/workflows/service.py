"""Workflows and their immutable versions; publishing makes the latest valid version live."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from core.naming import tenant_object_name
from core.prefect_client import prefect_client
from core.settings import Settings
from engine.publish import BatchLimits, DeploymentNameTaken, DeploymentTarget, tenant_pool_choice, upsert_deployment
from flow_factory.graph import MAX_NODES, Graph
from flow_factory.validation import graph_warnings, refused_at_save, validate_graph
from platform_api.audit.service import audit
from platform_api.auth.service import slugify
from platform_api.connections.service import check_connections
from platform_api.deps import Caller
from platform_api.pagination import paginate
from platform_api.problems import Problem, not_found
from platform_api.publish_requests import policy as publish_policy
from platform_api.triggers import service as triggers
from platform_api.workflows import schemas
from store import (
    Role,
    Tenant,
    User,
    Workflow,
    WorkflowLineage,
    WorkflowVersion,
    close_fulfilled_publish_requests,
    mark_stale_publish_requests,
    utcnow,
)
from store.workflows import TRASH_DAYS


def graph_errors(graph: Any, *, prefix: str = "graph") -> list[dict[str, str]]:
    """Validation errors with paths from the request body's root, e.g. graph.nodes[2].config.url."""
    return [
        {"path": ".".join(part for part in (prefix, e.path) if part), "message": e.message, "hint": e.hint}
        for e in validate_graph(graph)
    ]


def check_graph_size(graph: Any, *, prefix: str = "graph") -> None:
    nodes = graph.get("nodes") if isinstance(graph, dict) else None
    if isinstance(nodes, list) and len(nodes) > MAX_NODES:
        raise Problem(
            413,
            "graph-too-large",
            "Graph too large",
            f"The graph has {len(nodes)} nodes; at most {MAX_NODES} are allowed.",
            hint="Split the automation into several workflows.",
            errors=[
                {
                    "path": ".".join(p for p in (prefix, "nodes") if p),
                    "message": f"more than {MAX_NODES} nodes",
                    "hint": "split it",
                }
            ],
        )


def invalid_graph(
    errors: list[dict[str, str]], *, slug: str = "invalid-graph", title: str = "Invalid workflow graph"
) -> Problem:
    """422 listing every error; the detail names the first by its path (`body` when it has none)."""
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return Problem(
        422, slug, title, f"{first['path'] or 'body'}: {first['message']}{more}", hint=first["hint"], errors=errors
    )


def _checked_graph(graph: dict[str, Any], *, allow_invalid: bool) -> list[dict[str, str]]:
    """Reject what cannot be stored; return the remaining errors (only when allow_invalid)."""
    check_graph_size(graph)
    errors = graph_errors(graph)
    if errors and not allow_invalid:
        raise invalid_graph(errors)
    refused = [{**e.model_dump(), "path": f"graph.{e.path}"} for e in refused_at_save(graph)]
    if refused:  # not even a draft may hold these
        raise invalid_graph(refused)
    try:
        Graph.model_validate(graph)
    except ValidationError:
        raise invalid_graph(errors) from None
    return errors


def _name_taken(name: str) -> Problem:
    return Problem(
        409,
        "name-taken",
        "Name already used",
        f"A workflow named '{name}' already exists in your workspace.",
        hint="Choose another name, or edit the existing workflow.",
        errors=[{"path": "name", "message": "already used", "hint": "choose another name"}],
    )


def purge_after(workflow: Workflow) -> datetime:
    """When the hourly retention purge deletes a deleted workflow; it can be restored until then."""
    assert workflow.deleted_at is not None
    return workflow.deleted_at + timedelta(days=TRASH_DAYS)


def in_the_trash(workflow: Workflow) -> Problem:
    """404 for a deleted workflow of the caller's own workspace, saying where it went."""
    assert workflow.deleted_at is not None
    return Problem(
        404,
        "workflow-deleted",
        "Workflow deleted",
        f"This workflow was deleted on {workflow.deleted_at:%Y-%m-%d %H:%M} UTC; it stays in the trash until "
        f"{purge_after(workflow):%Y-%m-%d %H:%M} UTC.",
        hint=f"Restore it (POST /api/v1/workflows/{workflow.id}/restore) to use it again; "
        "GET /api/v1/workflows/trash lists deleted workflows.",
    )


def get_owned_workflow(db: Session, caller: Caller, workflow_id: str, *, lock: bool = False) -> Workflow:
    """The caller's live workflow: 404 for another workspace's, and for a deleted one (it is in the trash)."""
    query = select(Workflow).where(Workflow.id == workflow_id, Workflow.tenant_id == caller.tenant_id)
    workflow = db.scalar(query.with_for_update() if lock else query)
    if workflow is None:
        raise not_found("workflow")
    if workflow.deleted_at is not None:
        raise in_the_trash(workflow)
    return workflow


def find_version(db: Session, workflow: Workflow, version: int) -> WorkflowVersion | None:
    return db.scalar(
        select(WorkflowVersion).where(WorkflowVersion.workflow_id == workflow.id, WorkflowVersion.version == version)
    )


def get_version(db: Session, workflow: Workflow, version: int) -> WorkflowVersion:
    """A version the workflow has (its latest or published one)."""
    return db.scalars(
        select(WorkflowVersion).where(WorkflowVersion.workflow_id == workflow.id, WorkflowVersion.version == version)
    ).one()


def _summary_fields(workflow: Workflow) -> dict[str, Any]:
    return {
        "id": workflow.id,
        "name": workflow.name,
        "slug": workflow.slug,
        "description": workflow.description,
        "tags": list(workflow.tags or []),
        "version": workflow.latest_version,
        "status": "published" if workflow.published_version else "draft",
        "published_version": workflow.published_version,
        "created_at": workflow.created_at,
        "updated_at": workflow.updated_at,
        "disabled": workflow.disabled,
    }


def _read(db: Session, workflow: Workflow, caller: Caller, webhook_secret: str | None = None) -> schemas.WorkflowRead:
    latest = get_version(db, workflow, workflow.latest_version)
    return schemas.WorkflowRead(
        **_summary_fields(workflow),
        graph=latest.graph,
        valid=latest.valid,
        errors=[] if latest.valid else graph_errors(latest.graph),
        warnings=[{**w.model_dump(), "path": f"graph.{w.path}"} for w in graph_warnings(latest.graph)],
        deployment_name=tenant_object_name(caller.tenant_slug, workflow.slug) if workflow.deployment_id else None,
        conflict_policy=workflow.conflict_policy,
        max_parallel=workflow.max_parallel,
        schedules_paused=workflow.schedules_paused,
        template=_lineage(db, workflow.id),
        webhook_secret=webhook_secret,
        publish_requires_approval=publish_policy.workflow_override(db, workflow),
        approval_required=publish_policy.approval_required(db, workflow),
    )


def _lineage(db: Session, workflow_id: str) -> schemas.LineageRead | None:
    lineage = db.get(WorkflowLineage, workflow_id)
    if lineage is None:
        return None
    return schemas.LineageRead(
        slug=lineage.template_slug, version=lineage.template_version, parameters=lineage.parameters
    )


def create_workflow(
    db: Session, *, caller: Caller, data: schemas.WorkflowCreate, request: Request | None = None
) -> schemas.WorkflowRead:
    caller.require(Role.EDITOR, "create workflows")
    errors = _checked_graph(data.graph, allow_invalid=data.allow_invalid)
    if db.scalar(select(Workflow.id).where(Workflow.tenant_id == caller.tenant_id, Workflow.name == data.name)):
        raise _name_taken(data.name)
    workflow = Workflow(
        tenant_id=caller.tenant_id,
        name=data.name,
        slug=f"{slugify(data.name)}-{secrets.token_hex(3)}",
        description=data.description,
        tags=list(dict.fromkeys(data.tags)),
        latest_version=1,
    )
    db.add(workflow)
    db.flush()
    db.add(new_version(caller, workflow, 1, data.graph, valid=not errors))
    audit(db, caller, "workflow.created", f"workflow:{workflow.id}", request=request, detail={"name": data.name})
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise _name_taken(data.name) from None
    return _read(db, workflow, caller)


def new_version(
    caller: Caller, workflow: Workflow, number: int, graph: dict, *, valid: bool, message: str | None = None
) -> WorkflowVersion:
    return WorkflowVersion(
        tenant_id=caller.tenant_id,
        workflow_id=workflow.id,
        version=number,
        graph=graph,
        valid=valid,
        created_by=caller.user_id,
        message=message,
    )


def update_workflow(
    db: Session, *, caller: Caller, workflow_id: str, data: schemas.WorkflowUpdate, request: Request | None = None
) -> schemas.WorkflowRead:
    caller.require(Role.EDITOR, "edit workflows")
    workflow = get_owned_workflow(db, caller, workflow_id, lock=True)
    if data.base_version is not None and data.base_version != workflow.latest_version:
        raise Problem(
            409,
            "version-conflict",
            "Saved by someone else",
            f"You edited version {data.base_version}, but version {workflow.latest_version} was saved since.",
            hint="Reload the workflow to see their changes, or save yours without base_version to keep both.",
            errors=[{"path": "base_version", "message": "not the latest version", "hint": "reload"}],
        )
    if (
        data.name
        and data.name != workflow.name
        and db.scalar(select(Workflow.id).where(Workflow.tenant_id == caller.tenant_id, Workflow.name == data.name))
    ):
        raise _name_taken(data.name)
    if data.graph is not None:
        errors = _checked_graph(data.graph, allow_invalid=data.allow_invalid)
        workflow.latest_version += 1
        db.add(
            new_version(caller, workflow, workflow.latest_version, data.graph, valid=not errors, message=data.message)
        )
    workflow.name = data.name or workflow.name
    workflow.description = data.description if data.description is not None else workflow.description
    if data.tags is not None:
        workflow.tags = list(dict.fromkeys(data.tags))
    if data.conflict_policy is not None:
        workflow.conflict_policy = data.conflict_policy
    if "max_parallel" in data.model_fields_set:
        workflow.max_parallel = data.max_parallel
    if "publish_requires_approval" in data.model_fields_set:
        publish_policy.set_workflow_override(db, caller=caller, workflow=workflow, value=data.publish_requires_approval)
    workflow.updated_at = utcnow()
    changed = sorted(data.model_fields_set - {"base_version", "allow_invalid", "message"})
    detail = {"version": workflow.latest_version, "changed": changed}
    audit(db, caller, "workflow.updated", f"workflow:{workflow.id}", request=request, detail=detail)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise Problem(
            409,
            "version-conflict",
            "Saved by someone else",
            "Another save happened at the same time.",
            hint="Reload and save again.",
        ) from None
    return _read(db, workflow, caller)


def list_workflows(
    db: Session, *, caller: Caller, limit: int, cursor: str | None, request: Request, response: Response
) -> list[schemas.WorkflowSummary]:
    rows = paginate(
        db,
        select(Workflow).where(Workflow.tenant_id == caller.tenant_id, Workflow.deleted_at.is_(None)),
        order=((Workflow.updated_at, True),),
        row_id=Workflow.id,
        limit=limit,
        cursor=cursor,
        request=request,
        response=response,
    )
    return [schemas.WorkflowSummary(**_summary_fields(w)) for w in rows]


def read_workflow(db: Session, *, caller: Caller, workflow_id: str) -> schemas.WorkflowRead:
    return _read(db, get_owned_workflow(db, caller, workflow_id), caller)


def list_versions(db: Session, *, caller: Caller, workflow_id: str) -> list[schemas.VersionRead]:
    workflow = get_owned_workflow(db, caller, workflow_id)
    rows = db.execute(
        select(WorkflowVersion, User.email)
        .options(defer(WorkflowVersion.graph))  # the list shows no graph: do not open each sealed one
        .outerjoin(User, User.id == WorkflowVersion.created_by)
        .where(WorkflowVersion.workflow_id == workflow.id)
        .order_by(WorkflowVersion.version.desc())
    ).all()
    return [_version_read(workflow, v, email) for v, email in rows]


def read_version(db: Session, *, caller: Caller, workflow_id: str, version: int) -> schemas.VersionRead:
    workflow = get_owned_workflow(db, caller, workflow_id)
    row = find_version(db, workflow, version)
    if row is None:
        raise not_found("workflow version")
    email = db.scalar(select(User.email).where(User.id == row.created_by)) if row.created_by else None
    return _version_read(workflow, row, email, graph=row.graph)


def _version_read(
    workflow: Workflow, row: WorkflowVersion, email: str | None, graph: dict[str, Any] | None = None
) -> schemas.VersionRead:
    return schemas.VersionRead(
        version=row.version,
        valid=row.valid,
        created_at=row.created_at,
        created_by=email,
        message=row.message,
        published=row.version == workflow.published_version,
        graph=graph,
    )


def _prefect_unavailable(exc: Exception) -> Problem:
    return Problem(
        503,
        "engine-unavailable",
        "Workflow engine unavailable",
        f"Could not reach the workflow engine: {type(exc).__name__}.",
        hint="Try again in a minute; if it persists, contact your operator.",
        headers={"Retry-After": "30"},
    )


def deploy(
    settings: Settings,
    *,
    target: DeploymentTarget,
    known_id: str | None,
    schedules: list | None = None,
    tier: str | None = None,
) -> str:
    """Create or update the deployment on the pool of the tenant's tier (`engine.publish.tenant_work_pool`)."""
    pool = tenant_pool_choice(settings, target.tenant_slug, tier)
    try:
        with prefect_client(settings) as client:
            limits = BatchLimits(settings.dispatcher.batches_per_workflow, settings.dispatcher.batches_per_tenant)
            return str(
                upsert_deployment(
                    client,
                    target=target,
                    work_pool=pool.name,
                    known_id=known_id,
                    limits=limits,
                    schedules=schedules,
                    pool_template=pool.template,
                )
            )
    except DeploymentNameTaken:
        raise Problem(
            409,
            "deployment-name-taken",
            "Name clash",
            "Another workflow already uses this deployment name.",
            hint="Rename the workflow and publish again.",
        ) from None
    except Exception as exc:
        raise _prefect_unavailable(exc) from exc


def _deploy_version(
    db: Session, *, workflow: Workflow, version: int, settings: Settings, release: bool = False
) -> dict:
    """Make `version` live: the deployment with its schedules, then subscriptions and the webhook endpoint.
    `release`: nothing was written yet, so end the transaction while Prefect is called (on SQLite it holds the
    database's write lock, and every other request of the platform would wait for Prefect)."""
    tenant = db.get_one(Tenant, workflow.tenant_id)
    graph = get_version(db, workflow, version).graph
    target = DeploymentTarget(tenant.id, tenant.slug, workflow.slug, f"{tenant.name}: {workflow.name}")
    schedules = triggers.deployment_schedules(workflow, graph, tenant.time_zone)
    if release:
        db.commit()
    workflow.deployment_id = deploy(
        settings, target=target, known_id=workflow.deployment_id, schedules=schedules, tier=tenant.tier
    )
    triggers.sync_subscriptions(db, workflow, graph)
    return graph


def redeploy(
    db: Session,
    *,
    caller: Caller,
    workflow: Workflow,
    settings: Settings,
    request: Request | None = None,
    change: dict[str, Any] | None = None,
) -> None:
    """Apply a change of live settings (e.g. schedules paused) to the published version; `change` is audited."""
    if workflow.published_version:
        _deploy_version(db, workflow=workflow, version=workflow.published_version, settings=settings)
    if change is not None:
        audit(db, caller, "workflow.updated", f"workflow:{workflow.id}", request=request, detail=change)
    db.commit()


def check_publishable(db: Session, caller: Caller, graph: dict[str, Any]) -> None:
    """422 unless the graph validates and every connection it names exists in the caller's workspace."""
    errors = graph_errors(graph) + check_connections(db, tenant_id=caller.tenant_id, graph=graph)
    if errors:
        raise invalid_graph(errors)


def publish_version(
    db: Session,
    *,
    caller: Caller,
    workflow: Workflow,
    version: int,
    settings: Settings,
    request: Request | None = None,
    on_deployed: Callable[[], None] | None = None,
) -> schemas.WorkflowRead:
    """Make exactly `version` live (a direct publish, or an approved publish request): check it, deploy it, sync
    its webhook endpoint, tell admins of a changed trigger, mark other versions' pending publish requests stale
    (and, on a direct publish, approve one still waiting for this version),
    audit `workflow.published` and commit. `on_deployed` records the caller's own part (an approval) once the
    deployment succeeded, in the same transaction; when the engine is down nothing of it is written."""
    row = get_version(db, workflow, version)
    check_publishable(db, caller, row.graph)
    before = get_version(db, workflow, workflow.published_version).graph if workflow.published_version else None
    graph = _deploy_version(db, workflow=workflow, version=version, settings=settings, release=True)
    if on_deployed is not None:
        on_deployed()
    secret = triggers.sync_endpoint(db, settings, workflow, graph)
    triggers.notify_trigger_change(db, caller=caller, workflow=workflow, before=before, after=graph)
    workflow.published_version = version
    workflow.updated_at = utcnow()
    mark_stale_publish_requests(db, workflow_id=workflow.id, live_version=version)
    if on_deployed is None:  # a direct publish fulfils a request still waiting for this very version
        close_fulfilled_publish_requests(db, workflow_id=workflow.id, version=version, published_by=caller.user_id)
    detail = {"version": version}
    audit(db, caller, "workflow.published", f"workflow:{workflow.id}", request=request, detail=detail)
    db.commit()
    return _read(db, workflow, caller, webhook_secret=secret)


def publish_workflow(
    db: Session, *, caller: Caller, workflow_id: str, settings: Settings, request: Request | None = None
) -> schemas.WorkflowRead:
    """Publish the latest version directly; 403 `approval-required` where the workflow needs approval and the
    caller's role may not publish it directly (POST /publish then asks for approval instead)."""
    caller.require(Role.EDITOR, "publish workflows")
    workflow = get_owned_workflow(db, caller, workflow_id)
    if not publish_policy.publishes_directly(db, caller=caller, workflow=workflow):
        raise publish_policy.approval_needed(workflow)
    return publish_version(
        db, caller=caller, workflow=workflow, version=workflow.latest_version, settings=settings, request=request
    )
