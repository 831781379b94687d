from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.orm import Session

from catalog.index import ensure_synced
from core.settings import Settings
from platform_api.deps import DB, CurrentCaller, get_settings
from platform_api.permissions import Allowed, Permission
from platform_api.templates import instantiate, schemas, service, upgrade

router = APIRouter(tags=["templates"])


def catalog_db(db: DB, settings: Settings = Depends(get_settings)) -> Session:
    """The session, once the bundled templates are in the database (done once per process)."""
    ensure_synced(settings.platform_database_url)
    return db


CatalogDB = Annotated[Session, Depends(catalog_db)]


@router.get("/api/v1/templates", response_model=schemas.TemplatePage)
def list_templates(
    db: CatalogDB,
    caller: CurrentCaller,
    q: Annotated[str | None, Query(max_length=200, description="Full-text search: every word must match.")] = None,
    category: Annotated[str | None, Query(description="sales, marketing, customer-service or operations.")] = None,
    tag: Annotated[list[str], Query(description="Templates with every one of these tags.")] = [],  # noqa: B006
    integration: Annotated[str | None, Query(description="Templates that use it, e.g. twilio.")] = None,
    scope: Annotated[str, Query(description="all, public (Flowyard's catalog) or private (your own).")] = "all",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
) -> schemas.TemplatePage:
    return service.list_templates(
        db,
        caller=caller,
        q=q,
        category=category,
        tags=tag,
        integration=integration,
        scope=scope,
        page=page,
        per_page=per_page,
    )


@router.get("/api/v1/templates/categories", response_model=schemas.FacetsRead)
def categories(db: CatalogDB, caller: CurrentCaller) -> schemas.FacetsRead:
    return service.facets(db, caller=caller)


@router.get("/api/v1/templates/updates", response_model=schemas.UpdatesRead)
def updates(db: CatalogDB, caller: CurrentCaller) -> schemas.UpdatesRead:
    return upgrade.updates(db, caller=caller)


@router.post(
    "/api/v1/templates",
    status_code=201,
    response_model=schemas.TemplateRead,
    dependencies=[Allowed(Permission.CREATE_EDIT)],
)
def create_private_template(
    data: schemas.PrivateTemplateCreate, db: CatalogDB, caller: CurrentCaller
) -> schemas.TemplateRead:
    return service.create_private(db, caller=caller, data=data)


@router.get("/api/v1/templates/{slug}", response_model=schemas.TemplateRead)
def read_template(slug: str, db: CatalogDB, caller: CurrentCaller) -> schemas.TemplateRead:
    return service.read_template(db, caller=caller, slug=slug)


@router.delete("/api/v1/templates/{slug}", status_code=204, dependencies=[Allowed(Permission.CREATE_EDIT)])
def delete_private_template(slug: str, db: CatalogDB, caller: CurrentCaller) -> Response:
    service.delete_private(db, caller=caller, slug=slug)
    return Response(status_code=204)


@router.post(
    "/api/v1/templates/{slug}/versions",
    status_code=201,
    response_model=schemas.PublishedRead,
    dependencies=[Allowed(Permission.PUBLISH)],
)
def publish_version(
    slug: str, data: schemas.TemplateVersionCreate, db: CatalogDB, caller: CurrentCaller
) -> schemas.PublishedRead:
    return service.publish_private_version(db, caller=caller, slug=slug, data=data)


@router.post(
    "/api/v1/templates/{slug}/instantiate",
    status_code=201,
    response_model=schemas.InstantiateRead,
    dependencies=[Allowed(Permission.CREATE_EDIT)],
)
def instantiate_template(
    slug: str, data: schemas.InstantiateCreate, db: CatalogDB, caller: CurrentCaller
) -> schemas.InstantiateRead:
    return instantiate.instantiate(db, caller=caller, slug=slug, data=data)


@router.get("/api/v1/workflows/{workflow_id}/setup", response_model=schemas.SetupRead)
def read_setup(workflow_id: str, db: DB, caller: CurrentCaller) -> schemas.SetupRead:
    return instantiate.setup_state(db, caller=caller, workflow_id=workflow_id)


@router.post(
    "/api/v1/workflows/{workflow_id}/setup",
    response_model=schemas.SetupRead,
    dependencies=[Allowed(Permission.CREATE_EDIT)],
)
def setup(
    workflow_id: str, db: DB, caller: CurrentCaller, data: schemas.SetupCreate | None = None
) -> schemas.SetupRead:
    return instantiate.setup(db, caller=caller, workflow_id=workflow_id, data=data or schemas.SetupCreate())


@router.post(
    "/api/v1/workflows/{workflow_id}/upgrade",
    response_model=schemas.UpgradeRead,
    dependencies=[Allowed(Permission.CREATE_EDIT)],
)
def upgrade_workflow(
    workflow_id: str, db: CatalogDB, caller: CurrentCaller, data: schemas.UpgradeCreate | None = None
) -> schemas.UpgradeRead:
    return upgrade.upgrade(db, caller=caller, workflow_id=workflow_id, data=data or schemas.UpgradeCreate())
