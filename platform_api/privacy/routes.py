"""Privacy (owner only): export everything the workspace owns, erase one person, delete the workspace."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from core.settings import Settings
from platform_api.deps import DB, Caller, get_settings
from platform_api.permissions import Allowed, Permission
from platform_api.privacy import erase, export, schemas, workspace

router = APIRouter(tags=["privacy"])
Owner = Annotated[Caller, Allowed(Permission.PRIVACY)]
AppSettings = Annotated[Settings, Depends(get_settings)]


@router.post("/api/v1/privacy/export", response_model=schemas.ExportRead, status_code=202)
def start_export(db: DB, caller: Owner, request: Request, settings: AppSettings) -> schemas.ExportRead:
    """Start building one bundle (a zip of JSON Lines per kind) of everything the workspace owns."""
    return export.start_export(db, caller=caller, request=request, settings=settings)


@router.get("/api/v1/privacy/exports", response_model=list[schemas.ExportRead])
def list_exports(db: DB, caller: Owner) -> list[schemas.ExportRead]:
    return export.list_exports(db, caller=caller)


@router.get("/api/v1/privacy/exports/{export_id}", response_model=schemas.ExportRead)
def read_export(export_id: str, db: DB, caller: Owner) -> schemas.ExportRead:
    return export.read_export(db, caller=caller, export_id=export_id)


@router.get(
    "/api/v1/privacy/exports/{export_id}/download",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}}},
)
def download_export(export_id: str, db: DB, caller: Owner) -> Response:
    name, bundle = export.export_bundle(db, caller=caller, export_id=export_id)
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    return Response(bundle, media_type="application/zip", headers=headers)


@router.post("/api/v1/privacy/erase", response_model=schemas.ErasureRead)
def erase_person(
    data: schemas.ErasureCreate, db: DB, caller: Owner, request: Request, settings: AppSettings
) -> schemas.ErasureRead:
    """Remove or pseudonymise one person, by email, everywhere the workspace keeps them."""
    return erase.erase_person(db, caller=caller, request=request, data=data, settings=settings)


@router.delete("/api/v1/tenant", status_code=204, tags=["workspace"])
def delete_workspace(
    data: schemas.WorkspaceDelete, db: DB, caller: Owner, request: Request, settings: AppSettings
) -> Response:
    """Delete the workspace, its Prefect objects and its data key. Type its slug in `confirm`."""
    workspace.delete_workspace(db, caller=caller, request=request, data=data, settings=settings)
    return Response(status_code=204)
