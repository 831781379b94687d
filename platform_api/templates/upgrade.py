"""Upgrading a workflow made from a template to a newer template version: a three-way merge
(catalog.merge) saved as a new draft version; the live (published) version keeps running."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import definition as defs
from catalog import merge, params
from platform_api.deps import Caller
from platform_api.problems import Problem
from platform_api.templates import schemas
from platform_api.templates.instantiate import bind_connections, connections_in, template_outdated
from platform_api.templates.service import get_template_version
from platform_api.workflows import schemas as workflow_schemas
from platform_api.workflows.service import get_owned_workflow, get_version, graph_errors, update_workflow
from store import CatalogTemplate, CatalogTemplateVersion, Notification, Role, Workflow, WorkflowLineage, utcnow


def _not_derived(name: str) -> Problem:
    return Problem(
        409,
        "not-from-template",
        "Not made from a template",
        f"'{name}' was not created from a template, so there is no template version to upgrade to.",
        hint="Only workflows created with POST /api/v1/templates/{slug}/instantiate can be upgraded.",
    )


def _carried_parameters(schema: dict[str, Any], previous: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """The workflow's parameters under the new version's schema: dropped if no longer declared or valid."""
    kept = {k: v for k, v in previous.items() if k in schema.get("properties", {})}
    notes += [f"parameter '{k}' no longer exists in the new version" for k in previous if k not in kept]
    for _ in range(len(kept) + 1):
        try:
            return params.resolve(schema, kept)
        except params.ParameterError as exc:
            bad = {e["path"].split(".")[1] for e in exc.errors if e["path"].count(".") >= 1} & set(kept)
            if not bad:
                raise
            notes += [
                f"parameter '{k}' = {kept.pop(k)!r} is not valid in the new version; its default is used"
                for k in sorted(bad)
            ]
    return params.resolve(schema, {})


def upgrade(db: Session, *, caller: Caller, workflow_id: str, data: schemas.UpgradeCreate) -> schemas.UpgradeRead:
    caller.require(Role.EDITOR, "upgrade workflows")
    workflow = get_owned_workflow(db, caller, workflow_id)
    lineage = db.get(WorkflowLineage, workflow.id)
    template = db.get(CatalogTemplate, lineage.template_id) if lineage else None
    if lineage is None or template is None:
        raise _not_derived(workflow.name)
    target = data.to_version or template.latest_version
    if target <= lineage.template_version:
        raise Problem(
            409,
            "up-to-date",
            "Already up to date",
            f"'{workflow.name}' was made from version {lineage.template_version} of '{template.slug}'; "
            f"there is nothing newer to upgrade to{'' if data.to_version is None else ' at that version'}.",
            hint="GET /api/v1/templates/updates lists the workflows that can be upgraded.",
        )
    old = get_template_version(db, template, lineage.template_version).definition
    new = get_template_version(db, template, target).definition
    outdated = defs.unknown_node_types(new["graph"])
    if outdated:
        raise template_outdated(outdated)
    notes: list[str] = []
    new_values = _carried_parameters(new["parameters"], lineage.parameters, notes)
    base = defs.render(old, {**params.defaults(old["parameters"]), **lineage.parameters}, lineage.trigger_overrides)
    theirs = defs.render(new, new_values, lineage.trigger_overrides)
    ours = get_version(db, workflow, workflow.latest_version).graph

    result = merge.merge(base, ours, theirs, data.resolutions)
    unknown = sorted(set(data.resolutions) - {c.path for c in result.conflicts})
    if unknown:
        raise Problem(
            422,
            "unknown-conflict",
            "No such conflict",
            f"resolutions.{unknown[0]}: not a conflict of this upgrade.",
            hint=f"the conflicts are: {', '.join(c.path for c in result.conflicts) or 'none'}",
            errors=[
                {"path": f"resolutions.{p}", "message": "not a conflict", "hint": "see conflicts"} for p in unknown
            ],
        )
    graph, unbound = bind_connections(db, caller, result.graph, {}, preferred=connections_in(ours))
    notes += [
        f"step '{s.node_id}' needs a {s.connection_type} connection: POST /api/v1/workflows/{{id}}/setup"
        for s in unbound
    ]
    errors = graph_errors(graph)
    saved, from_version = None, lineage.template_version
    if not data.dry_run:
        if graph != ours:
            saved = update_workflow(
                db,
                caller=caller,
                workflow_id=workflow.id,
                data=workflow_schemas.WorkflowUpdate(graph=graph, allow_invalid=True),
            ).version
        lineage.template_version, lineage.parameters, lineage.upgraded_at = target, new_values, utcnow()
        db.commit()
    return schemas.UpgradeRead(
        workflow_id=workflow.id,
        template=template.slug,
        from_version=from_version,
        to_version=target,
        dry_run=data.dry_run,
        saved_version=saved,
        changes=[schemas.ChangeRead(**vars(c)) for c in merge.changes_between(ours, graph)],
        conflicts=[schemas.ConflictRead(**vars(c)) for c in result.conflicts],
        graph=graph,
        valid=not errors,
        errors=errors,
        notes=notes,
    )


def updates(db: Session, *, caller: Caller) -> schemas.UpdatesRead:
    """The tenant's workflows whose template has a newer version, and the notifications about them."""
    rows = db.execute(
        select(WorkflowLineage, Workflow.name, CatalogTemplate)
        .join(Workflow, Workflow.id == WorkflowLineage.workflow_id)
        .join(CatalogTemplate, CatalogTemplate.id == WorkflowLineage.template_id)
        .where(
            WorkflowLineage.tenant_id == caller.tenant_id,
            WorkflowLineage.template_version < CatalogTemplate.latest_version,
        )
        .order_by(Workflow.name)
    ).all()
    items = []
    for lineage, name, template in rows:
        latest = db.scalars(
            select(CatalogTemplateVersion.definition).where(
                CatalogTemplateVersion.template_id == template.id,
                CatalogTemplateVersion.version == template.latest_version,
            )
        ).one()
        changelog = [e for e in latest.get("changelog", []) if e["version"] > lineage.template_version]
        items.append(
            schemas.UpdateRead(
                workflow_id=lineage.workflow_id,
                workflow_name=name,
                template=template.slug,
                template_title=template.title,
                current_version=lineage.template_version,
                latest_version=template.latest_version,
                changelog=changelog,
            )
        )
    notifications = db.scalars(
        select(Notification)
        .where(
            Notification.tenant_id == caller.tenant_id,
            Notification.kind == "template_updated",
            (Notification.user_id.is_(None)) | (Notification.user_id == caller.user_id),
        )
        .order_by(Notification.created_at.desc())
        .limit(50)
    ).all()
    return schemas.UpdatesRead(
        updates=items,
        notifications=[
            schemas.NotificationRead(
                id=n.id, title=n.title, body=n.body, data=n.data, created_at=n.created_at, read_at=n.read_at
            )
            for n in notifications
        ],
    )
