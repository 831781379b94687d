"""The catalog as tenants see it: browse, search, preview, and private templates saved from workflows.
Instantiating is in `instantiate.py`, upgrades in `upgrade.py`."""

from __future__ import annotations

import math
import secrets
from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from blocks import registry
from catalog import definition as defs
from catalog import index, params
from core.errors import help_url
from platform_api.auth.service import slugify
from platform_api.deps import Caller
from platform_api.problems import Problem, not_found
from platform_api.templates import schemas
from platform_api.workflows.service import get_owned_workflow, get_version
from store import CatalogTemplate, CatalogTemplateVersion, Connection, ConnectionStatus, Role

SCOPES = ("all", "public", "private")


def _category_problem(category: str) -> Problem:
    return Problem(
        422,
        "unknown-category",
        "Unknown category",
        f"There is no category '{category}'.",
        hint=f"Use one of: {', '.join(defs.CATEGORIES)}.",
        errors=[{"path": "category", "message": "unknown category", "hint": ", ".join(defs.CATEGORIES)}],
    )


def get_visible(db: Session, caller: Caller, slug: str) -> CatalogTemplate:
    template = db.scalar(select(CatalogTemplate).where(CatalogTemplate.slug == slug, index.visible(caller.tenant_id)))
    if template is None:
        raise not_found("template")
    return template


def get_template_version(db: Session, template: CatalogTemplate, version: int) -> CatalogTemplateVersion:
    row = db.scalar(
        select(CatalogTemplateVersion).where(
            CatalogTemplateVersion.template_id == template.id, CatalogTemplateVersion.version == version
        )
    )
    if row is None:
        raise not_found("template version")
    return row


def summary(template: CatalogTemplate) -> dict[str, Any]:
    return {
        "slug": template.slug,
        "title": template.title,
        "description": template.description,
        "category": template.category,
        "category_label": defs.CATEGORIES.get(template.category, template.category),
        "tags": template.tags,
        "integrations": template.integrations,
        "version": template.latest_version,
        "private": template.tenant_id is not None,
        "updated_at": template.updated_at,
    }


def list_templates(
    db: Session,
    *,
    caller: Caller,
    q: str | None,
    category: str | None,
    tags: list[str],
    integration: str | None,
    scope: str,
    page: int,
    per_page: int,
) -> schemas.TemplatePage:
    if category and category not in defs.CATEGORIES:
        raise _category_problem(category)
    if scope not in SCOPES:
        raise Problem(
            422,
            "validation-error",
            "Invalid request",
            f"scope must be one of {', '.join(SCOPES)}.",
            hint="all (default), public or private.",
            errors=[{"path": "scope", "message": "unknown scope", "hint": ", ".join(SCOPES)}],
        )
    rows, total = index.browse(
        db,
        tenant_id=caller.tenant_id,
        q=q,
        category=category,
        tags=tags,
        integration=integration,
        scope=scope,
        page=page,
        per_page=per_page,
    )
    return schemas.TemplatePage(
        items=[schemas.TemplateSummary(**summary(t)) for t in rows],
        total=total,
        page=page,
        per_page=per_page,
        pages=math.ceil(total / per_page),
    )


def facets(db: Session, *, caller: Caller) -> schemas.FacetsRead:
    categories, tags = index.facets(db, tenant_id=caller.tenant_id)
    return schemas.FacetsRead(
        categories=[
            schemas.CategoryRead(slug=slug, label=label, count=categories.get(slug, 0))
            for slug, label in defs.CATEGORIES.items()
        ],
        tags=[schemas.TagCount(tag=tag, count=count) for tag, count in tags],
    )


# --- integrations: which the tenant has, and how to connect the others ----------------------------


def integration_statuses(db: Session, tenant_id: str, integrations: list[str]) -> list[schemas.IntegrationStatus]:
    rows = db.scalars(
        select(Connection)
        .where(Connection.tenant_id == tenant_id, Connection.type.in_(integrations))
        .order_by(Connection.name)
    ).all()
    statuses = []
    for kind in integrations:
        if kind in defs.BUILT_IN:
            statuses.append(
                schemas.IntegrationStatus(
                    type=kind, label=defs.BUILT_IN[kind], built_in=True, connected=True, connections=[]
                )
            )
            continue
        block = registry.block_type(kind)
        mine = [schemas.ConnectionChoice(id=r.id, name=r.name, status=r.status) for r in rows if r.type == kind]
        connected = any(c.status != ConnectionStatus.NEEDS_AUTH for c in mine)
        statuses.append(
            schemas.IntegrationStatus(
                type=kind,
                label=block.get_block_type_name().removeprefix("Flowyard ") if block else kind,
                built_in=False,
                connected=connected,
                connections=mine,
                how_to_connect=None if connected else how_to_connect(kind),
                docs_url=help_url(f"integrations/{kind}/") if block else None,
            )
        )
    return statuses


def how_to_connect(kind: str) -> str:
    block = registry.block_type(kind)
    if block is None:
        return f"'{kind}' is not an integration this platform offers; the template needs an update."
    secrets_part = ", ".join(block.secret_fields()) or "none"
    config_part = ", ".join(block.config_fields()) or "none"
    steps = (
        f"Add a {block.get_block_type_name().removeprefix('Flowyard ')} connection in Settings → Connections (POST /api/v1/connections "
        f"with type '{kind}', config fields: {config_part}; secrets: {secrets_part})."
    )
    if block.oauth_spec is not None:
        steps += " Then press Connect to sign in to the account (POST /api/v1/connections/{id}/oauth/start)."
    return steps + " Then use it in the workflow: POST /api/v1/workflows/{id}/setup."


# --- preview ------------------------------------------------------------------------------------


def read_template(db: Session, *, caller: Caller, slug: str) -> schemas.TemplateRead:
    template = get_visible(db, caller, slug)
    return template_read(db, caller, template)


def template_read(db: Session, caller: Caller, template: CatalogTemplate) -> schemas.TemplateRead:
    definition = get_template_version(db, template, template.latest_version).definition
    versions = db.scalars(
        select(CatalogTemplateVersion.version)
        .where(CatalogTemplateVersion.template_id == template.id)
        .order_by(CatalogTemplateVersion.version)
    ).all()
    try:
        graph = defs.render(definition, params.resolve(definition["parameters"], {}))
    except params.ParameterError:
        graph = definition["graph"]
    return schemas.TemplateRead(
        **summary(template),
        parameters=definition["parameters"],
        graph=graph,
        required_integrations=integration_statuses(db, caller.tenant_id, template.integrations),
        trigger=definition.get("trigger"),
        changelog=definition.get("changelog", []),
        versions=list(versions),
    )


# --- private templates ----------------------------------------------------------------------------


def _invalid_template(errors: list[dict[str, str]]) -> Problem:
    first = errors[0]
    return Problem(
        422,
        "invalid-template",
        "Cannot make a template of this",
        f"{first['path']}: {first['message']}",
        hint=first["hint"],
        errors=errors,
    )


def _checked(definition: dict[str, Any]) -> dict[str, Any]:
    try:
        parsed = defs.TemplateDefinition.model_validate(definition)
    except ValidationError as exc:
        raise _invalid_template(
            [
                {"path": ".".join(map(str, e["loc"])), "message": e["msg"], "hint": "check this field"}
                for e in exc.errors(include_url=False)
            ]
        ) from None
    problems = defs.check(parsed)
    if problems:
        raise _invalid_template(
            [
                {
                    "path": "graph" if p.startswith("graph") else "parameters",
                    "message": p,
                    "hint": "fix the workflow (or the parameter schema) and try again",
                }
                for p in problems
            ]
        )
    return parsed.model_dump(mode="json")


def _workflow_graph(db: Session, caller: Caller, workflow_id: str) -> dict[str, Any]:
    workflow = get_owned_workflow(db, caller, workflow_id)
    latest = get_version(db, workflow, workflow.latest_version)
    if not latest.valid:
        raise Problem(
            422,
            "invalid-graph",
            "The workflow is not valid yet",
            f"Version {latest.version} of '{workflow.name}' has errors; a template must be a working workflow.",
            hint="Fix the errors the builder shows (GET /api/v1/workflows/{id}), then save the template.",
            errors=[
                {"path": "workflow_id", "message": "the workflow's latest version is not valid", "hint": "fix it first"}
            ],
        )
    return latest.graph


NO_PARAMETERS = {"type": "object", "properties": {}, "additionalProperties": False}


def create_private(db: Session, *, caller: Caller, data: schemas.PrivateTemplateCreate) -> schemas.TemplateRead:
    caller.require(Role.EDITOR, "save templates")
    if data.category not in defs.CATEGORIES:
        raise _category_problem(data.category)
    graph = _workflow_graph(db, caller, data.workflow_id)
    definition = _checked(
        {
            "slug": f"{slugify(data.title, 60)}-{secrets.token_hex(3)}",
            "title": data.title,
            "description": data.description,
            "category": data.category,
            "tags": data.tags,
            "integrations": defs.required_integrations(graph),
            "version": 1,
            "changelog": [{"version": 1, "date": date.today().isoformat(), "changes": "First version."}],
            "parameters": data.parameters or NO_PARAMETERS,
            "graph": graph,
        }
    )
    published = index.publish(db, definition, tenant_id=caller.tenant_id, created_by=caller.user_id)
    db.commit()
    return template_read(db, caller, published.template)


def _own_private(db: Session, caller: Caller, slug: str) -> CatalogTemplate:
    template = get_visible(db, caller, slug)
    if template.tenant_id != caller.tenant_id:
        raise Problem(
            403,
            "catalog-template",
            "A catalog template",
            f"'{slug}' is one of Flowyard's catalog templates; only your own templates can be changed.",
            hint="Instantiate it, change the workflow, and save that as your own template.",
        )
    return template


def publish_private_version(
    db: Session, *, caller: Caller, slug: str, data: schemas.TemplateVersionCreate
) -> schemas.PublishedRead:
    caller.require(Role.EDITOR, "publish templates")
    template = _own_private(db, caller, slug)
    current = get_template_version(db, template, template.latest_version).definition
    graph = _workflow_graph(db, caller, data.workflow_id)
    version = template.latest_version + 1
    definition = _checked(
        {
            **current,
            "version": version,
            "graph": graph,
            "integrations": defs.required_integrations(graph),
            "parameters": data.parameters or current["parameters"],
            "changelog": [
                *current.get("changelog", []),
                {"version": version, "date": date.today().isoformat(), "changes": data.changes},
            ],
        }
    )
    published = index.publish(db, definition, tenant_id=caller.tenant_id, created_by=caller.user_id)
    db.commit()
    return schemas.PublishedRead(
        template=template_read(db, caller, published.template), notified_tenants=len(published.notified_tenants)
    )


def delete_private(db: Session, *, caller: Caller, slug: str) -> None:
    caller.require(Role.EDITOR, "delete templates")
    index.remove(db, _own_private(db, caller, slug))
    db.commit()
