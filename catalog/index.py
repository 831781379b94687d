"""The catalog in the platform database: publishing template versions (with the notification of
every tenant whose workflows derive from the template), and browsing and full-text search.

Every write of a template goes through `publish`, which also keeps SQLite's FTS5 table in step
(PostgreSQL indexes `search_text` itself, with a GIN expression index).
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Float, String, delete, func, insert, literal_column, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog import definition as defs
from catalog.loader import TEMPLATES_DIR, load_all
from store import (
    FTS_TABLE,
    CatalogTemplate,
    CatalogTemplateTag,
    CatalogTemplateVersion,
    Notification,
    Workflow,
    WorkflowLineage,
    utcnow,
)
from store.db import get_session_factory

log = logging.getLogger("flowyard.catalog")
MAX_QUERY_TERMS = 8


class PublishError(Exception):
    pass


@dataclass
class Published:
    template: CatalogTemplate
    version: int
    created: bool  # False: this version was already published (nothing changed)
    notified_tenants: list[str] = field(default_factory=list)


def search_document(d: dict[str, Any]) -> str:
    category = defs.CATEGORIES.get(d["category"], d["category"])
    return "\n".join(
        [d["title"], d["description"], " ".join(d.get("tags", [])), " ".join(d.get("integrations", [])), category]
    )


def publish(
    db: Session, definition: dict[str, Any], *, tenant_id: str | None = None, created_by: str | None = None
) -> Published:
    """Publish `definition` (a TemplateDefinition as JSON) as its `version`. A version already
    published is left alone; a lower one is ignored; a higher one notifies derived workflows' tenants.
    The caller commits."""
    template = db.scalar(select(CatalogTemplate).where(CatalogTemplate.slug == definition["slug"]))
    version = definition["version"]
    if template is not None and template.tenant_id != tenant_id:
        raise PublishError(f"the slug '{definition['slug']}' belongs to another template")
    if template is not None and version <= template.latest_version:
        stored = _version_row(db, template.id, version)
        if stored is not None and stored.definition != definition:
            raise PublishError(f"'{definition['slug']}' version {version} changed without a new version number")
        return Published(template, template.latest_version, created=False)
    created = template is None
    if template is None:
        template = CatalogTemplate(slug=definition["slug"], tenant_id=tenant_id)
        db.add(template)
    template.title, template.description = definition["title"], definition["description"]
    template.category, template.tags = definition["category"], list(definition.get("tags", []))
    template.integrations = list(definition.get("integrations", []))
    template.latest_version, template.search_text = version, search_document(definition)
    if db.get_bind().dialect.name == "postgresql":
        template.search_vector = func.to_tsvector(literal_column("'english'"), template.search_text)
    template.updated_at = utcnow()
    db.flush()
    db.add(
        CatalogTemplateVersion(
            template_id=template.id,
            version=version,
            definition=definition,
            changelog=_changes_in(definition, version),
            created_by=created_by,
        )
    )
    db.execute(delete(CatalogTemplateTag).where(CatalogTemplateTag.template_id == template.id))
    if template.tags:
        db.execute(insert(CatalogTemplateTag), [{"template_id": template.id, "tag": t} for t in set(template.tags)])
    reindex(db, template, new=created)
    notified = [] if created else notify_derived(db, template, version)
    return Published(template, version, created=True, notified_tenants=notified)


def _changes_in(definition: dict[str, Any], version: int) -> str:
    return next((e["changes"] for e in definition.get("changelog", []) if e["version"] == version), "")


def _version_row(db: Session, template_id: str, version: int) -> CatalogTemplateVersion | None:
    return db.scalar(
        select(CatalogTemplateVersion).where(
            CatalogTemplateVersion.template_id == template_id, CatalogTemplateVersion.version == version
        )
    )


def reindex(db: Session, template: CatalogTemplate, *, new: bool = False) -> None:
    if db.get_bind().dialect.name != "sqlite":
        return
    if not new:  # template_id is not indexed in FTS5: a scan, so only for a new version of a template
        db.execute(text(f"DELETE FROM {FTS_TABLE} WHERE template_id = :id"), {"id": template.id})
    db.execute(
        text(f"INSERT INTO {FTS_TABLE} (template_id, document) VALUES (:id, :doc)"),
        {"id": template.id, "doc": template.search_text},
    )


def remove(db: Session, template: CatalogTemplate) -> None:
    """Delete a template, its versions and its search entry (workflows made from it stay, without lineage)."""
    if db.get_bind().dialect.name == "sqlite":
        db.execute(text(f"DELETE FROM {FTS_TABLE} WHERE template_id = :id"), {"id": template.id})
    db.delete(template)


def notify_derived(db: Session, template: CatalogTemplate, version: int) -> list[str]:
    """One notification per tenant with workflows made from an older version of `template`."""
    rows = db.execute(
        select(WorkflowLineage.tenant_id, Workflow.id, Workflow.name, WorkflowLineage.template_version)
        .join(Workflow, Workflow.id == WorkflowLineage.workflow_id)
        .where(WorkflowLineage.template_id == template.id, WorkflowLineage.template_version < version)
        .order_by(WorkflowLineage.tenant_id, Workflow.name)
    ).all()
    by_tenant: dict[str, list[dict[str, Any]]] = {}
    for tenant_id, workflow_id, name, from_version in rows:
        by_tenant.setdefault(tenant_id, []).append({"id": workflow_id, "name": name, "template_version": from_version})
    changes = _version_row(db, template.id, version)
    for tenant_id, workflows in by_tenant.items():
        names = ", ".join(f"'{w['name']}'" for w in workflows)
        db.add(
            Notification(
                tenant_id=tenant_id,
                user_id=None,
                kind="template_updated",
                title=f"Template '{template.title}' has a new version ({version})",
                body=f"{changes.changelog if changes else ''}\nWorkflows made from it: {names}. Upgrade each with "
                f"POST /api/v1/workflows/{{id}}/upgrade: the result is a new draft version to review; "
                f"the live version keeps running.",
                data={"template_slug": template.slug, "version": version, "workflows": workflows},
            )
        )
    return sorted(by_tenant)


# --- the files -> the database ---------------------------------------------------------------------


@dataclass
class SyncReport:
    published: list[str] = field(default_factory=list)  # "slug@version"
    unchanged: int = 0
    refused: dict[str, list[str]] = field(default_factory=dict)  # slug -> problems
    notified_tenants: set[str] = field(default_factory=set)


def sync(db: Session, directory: Path = TEMPLATES_DIR) -> SyncReport:
    """Publish every template file whose version is new to the database, in one transaction."""
    report = SyncReport()
    for definition in load_all(directory):
        problems = defs.check(definition)
        if problems:
            report.refused[definition.slug] = problems
            continue
        try:
            published = publish(db, definition.model_dump(mode="json"))
        except PublishError as exc:
            report.refused[definition.slug] = [str(exc)]
            continue
        if published.created:
            report.published.append(f"{definition.slug}@{published.version}")
            report.notified_tenants.update(published.notified_tenants)
        else:
            report.unchanged += 1
    db.commit()
    if report.published:
        analyze(db)
    for slug, problems in report.refused.items():
        log.error("template %s not published: %s", slug, "; ".join(problems))
    return report


def analyze(db: Session) -> None:
    """Fresh planner statistics after many templates changed (search plans depend on them)."""
    for table in ("catalog_templates", "catalog_template_tags"):
        db.execute(text(f"ANALYZE {table}"))
    db.commit()


_synced: set[str] = set()
_sync_lock = threading.Lock()


def ensure_synced(database_url: str) -> None:
    """Sync the bundled templates once per process (the first catalog request does it)."""
    if database_url in _synced:
        return
    with _sync_lock:
        if database_url in _synced:
            return
        for attempt in range(3):
            with get_session_factory(database_url)() as db:
                try:
                    sync(db)
                    break
                except IntegrityError:  # another process published the same version at the same time
                    db.rollback()
                    if attempt == 2:
                        raise
        _synced.add(database_url)


# --- browsing and search -------------------------------------------------------------------------


def query_terms(q: str) -> list[str]:
    return re.findall(r"\w+", q.lower())[:MAX_QUERY_TERMS]


def visible(tenant_id: str | None, scope: str = "all"):
    if scope == "public" or tenant_id is None:
        return CatalogTemplate.tenant_id.is_(None)
    if scope == "private":
        return CatalogTemplate.tenant_id == tenant_id
    return or_(CatalogTemplate.tenant_id.is_(None), CatalogTemplate.tenant_id == tenant_id)


def browse(
    db: Session,
    *,
    tenant_id: str | None,
    q: str | None = None,
    category: str | None = None,
    tags: list[str] | None = None,
    integration: str | None = None,
    scope: str = "all",
    page: int = 1,
    per_page: int = 20,
) -> tuple[list[CatalogTemplate], int]:
    """One page of the templates the tenant may see, best matches first when searching, and the total."""
    query = select(CatalogTemplate).where(visible(tenant_id, scope))
    if category:
        query = query.where(CatalogTemplate.category == category)
    for tag in tags or []:
        query = query.where(
            CatalogTemplate.id.in_(select(CatalogTemplateTag.template_id).where(CatalogTemplateTag.tag == tag.lower()))
        )
    if integration:
        query = query.where(_uses(db, integration.lower()))
    terms = query_terms(q or "")
    order: list[Any] = [CatalogTemplate.title, CatalogTemplate.id]
    if terms:
        query, rank = _matching(db, query, terms)
        order = [rank, *order]
    elif q:
        return [], 0  # only punctuation: nothing to look for
    total = db.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = db.scalars(query.order_by(*order).limit(per_page).offset((page - 1) * per_page)).all()
    return list(rows), total or 0


def _uses(db: Session, integration: str):
    if db.get_bind().dialect.name == "postgresql":
        return CatalogTemplate.integrations.op("@>")(func.jsonb_build_array(integration))
    return func.cast(CatalogTemplate.integrations, String).contains(f'"{integration}"')


def _matching(db: Session, query, terms: list[str]):
    if db.get_bind().dialect.name == "sqlite":
        expression = " ".join(f'"{term}"*' for term in terms)
        hits = (
            text(f"SELECT template_id, bm25({FTS_TABLE}) AS rank FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :q")
            .bindparams(q=expression)
            .columns(template_id=String, rank=Float)
            .subquery("hits")
        )
        return query.join(hits, hits.c.template_id == CatalogTemplate.id), hits.c.rank  # bm25: lower is better
    vector = CatalogTemplate.search_vector
    tsquery = func.to_tsquery(literal_column("'english'"), " & ".join(f"{term}:*" for term in terms))
    return query.where(vector.op("@@")(tsquery)), func.ts_rank(vector, tsquery).desc()


def facets(db: Session, *, tenant_id: str | None) -> tuple[dict[str, int], list[tuple[str, int]]]:
    """Template counts per category, and the most used tags."""
    categories = dict(
        db.execute(
            select(CatalogTemplate.category, func.count()).where(visible(tenant_id)).group_by(CatalogTemplate.category)
        ).all()
    )
    tags = db.execute(
        select(CatalogTemplateTag.tag, func.count().label("n"))
        .join(CatalogTemplate, CatalogTemplate.id == CatalogTemplateTag.template_id)
        .where(visible(tenant_id))
        .group_by(CatalogTemplateTag.tag)
        .order_by(literal_column("n").desc(), CatalogTemplateTag.tag)
        .limit(40)
    ).all()
    return categories, [(tag, count) for tag, count in tags]
