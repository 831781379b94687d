from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from core.settings import Settings
from platform_api.deps import DB, CurrentCaller, get_settings
from platform_api.pagination import MAX_PAGE, Cursor, limit_query
from platform_api.permissions import Allowed, Permission
from platform_api.publish_requests import service as publish_requests
from platform_api.publish_requests.schemas import PublishPending
from platform_api.workflows import schemas, service, trash, versions

router = APIRouter(prefix="/api/v1/workflows", tags=["workflows"])


@router.post("", status_code=201, response_model=schemas.WorkflowRead, dependencies=[Allowed(Permission.CREATE_EDIT)])
def create_workflow(
    data: schemas.WorkflowCreate, request: Request, db: DB, caller: CurrentCaller
) -> schemas.WorkflowRead:
    return service.create_workflow(db, caller=caller, data=data, request=request)


@router.get("", response_model=list[schemas.WorkflowSummary])
def list_workflows(
    request: Request,
    response: Response,
    db: DB,
    caller: CurrentCaller,
    limit: int = limit_query(default=MAX_PAGE),
    cursor: Cursor = None,
) -> list[schemas.WorkflowSummary]:
    """A page of workflows, last changed first; the next page's cursor is in the X-Next-Cursor (and Link) header."""
    return service.list_workflows(db, caller=caller, limit=limit, cursor=cursor, request=request, response=response)


@router.get("/trash", response_model=list[schemas.TrashedWorkflow])
def list_trash(
    request: Request,
    response: Response,
    db: DB,
    caller: CurrentCaller,
    limit: int = limit_query(default=MAX_PAGE),
    cursor: Cursor = None,
) -> list[schemas.TrashedWorkflow]:
    """Deleted workflows, last deleted first, each with when the hourly purge deletes it (`purge_after`); the next
    page's cursor is in the X-Next-Cursor (and Link) header."""
    return trash.list_trash(db, caller=caller, limit=limit, cursor=cursor, request=request, response=response)


@router.get("/{workflow_id}", response_model=schemas.WorkflowRead)
def read_workflow(workflow_id: str, db: DB, caller: CurrentCaller) -> schemas.WorkflowRead:
    return service.read_workflow(db, caller=caller, workflow_id=workflow_id)


@router.put("/{workflow_id}", response_model=schemas.WorkflowRead, dependencies=[Allowed(Permission.CREATE_EDIT)])
def update_workflow(
    workflow_id: str, data: schemas.WorkflowUpdate, request: Request, db: DB, caller: CurrentCaller
) -> schemas.WorkflowRead:
    return service.update_workflow(db, caller=caller, workflow_id=workflow_id, data=data, request=request)


@router.get("/{workflow_id}/versions", response_model=list[schemas.VersionRead])
def list_versions(workflow_id: str, db: DB, caller: CurrentCaller) -> list[schemas.VersionRead]:
    return service.list_versions(db, caller=caller, workflow_id=workflow_id)


@router.get("/{workflow_id}/versions/{version}", response_model=schemas.VersionRead)
def read_version(workflow_id: str, version: int, db: DB, caller: CurrentCaller) -> schemas.VersionRead:
    return service.read_version(db, caller=caller, workflow_id=workflow_id, version=version)


@router.get("/{workflow_id}/versions/{a}/diff/{b}", response_model=schemas.VersionDiff)
def diff_versions(workflow_id: str, a: int, b: int, db: DB, caller: CurrentCaller) -> schemas.VersionDiff:
    """What changed from version `a` to version `b`: nodes added, removed, moved and changed (field by field,
    secret values masked), edges, and the trigger called out when what starts the workflow changed."""
    return versions.diff_versions(db, caller=caller, workflow_id=workflow_id, a=a, b=b)


@router.post(
    "/{workflow_id}/versions/{version}/restore",
    response_model=schemas.WorkflowRead,
    responses={
        202: {
            "model": PublishPending,
            "description": "Restored as the newest version, whose publishing waits for approval (as with POST "
            "/publish when your role may not publish this workflow directly).",
        }
    },
    dependencies=[Allowed(Permission.PUBLISH)],
)
def restore_version(
    workflow_id: str,
    version: int,
    request: Request,
    db: DB,
    caller: CurrentCaller,
    data: schemas.VersionRestore | None = None,
    settings: Settings = Depends(get_settings),
) -> schemas.WorkflowRead | JSONResponse:
    """Roll back: save version `version`'s graph as a new version and publish it (`publish: false` keeps it a
    draft). Nothing is rewritten: the versions in between stay in the history. When publishing fails, the restored
    version stays saved as a draft and the live version is unchanged."""
    data = data or schemas.VersionRestore()
    restored = versions.restore_version(db, caller=caller, workflow_id=workflow_id, version=version, data=data,
                                        request=request)  # fmt: skip
    if not data.publish:
        return restored
    return publish_workflow(workflow_id, request, db, caller, settings)


@router.post(
    "/{workflow_id}/publish",
    response_model=schemas.WorkflowRead,
    responses={
        200: {"description": "Published: the latest version is live."},
        202: {
            "model": PublishPending,
            "description": "Publishing this workflow needs approval and your role may not publish directly: a "
            "publish request for the latest version waits for an owner or admin (the same one when asked again).",
        },
    },
    dependencies=[Allowed(Permission.PUBLISH)],
)
def publish_workflow(
    workflow_id: str, request: Request, db: DB, caller: CurrentCaller, settings: Settings = Depends(get_settings)
) -> schemas.WorkflowRead | JSONResponse:
    """Make the latest valid version live, or, where it needs approval (see GET /api/v1/tenant), ask for it."""
    pending = publish_requests.request_if_required(db, caller=caller, workflow_id=workflow_id, request=request)
    if pending is not None:
        return JSONResponse(pending.model_dump(mode="json"), status_code=202)
    return service.publish_workflow(db, caller=caller, workflow_id=workflow_id, settings=settings, request=request)


@router.delete("/{workflow_id}", response_model=schemas.WorkflowDeleted, dependencies=[Allowed(Permission.PUBLISH)])
def delete_workflow(
    workflow_id: str, request: Request, db: DB, caller: CurrentCaller, settings: Settings = Depends(get_settings)
) -> schemas.WorkflowDeleted:
    """Move the workflow to the trash for 30 days: it leaves lists and reads (404), no trigger starts it (webhooks
    answer 410, its schedules pause), live runs are refused and its queued, waiting and running runs are cancelled.
    Restore it with POST /api/v1/workflows/{id}/restore; after `purge_after` it is deleted for good with its runs."""
    return trash.delete_workflow(db, caller=caller, workflow_id=workflow_id, settings=settings, request=request)


@router.post("/{workflow_id}/restore", response_model=schemas.WorkflowRead, dependencies=[Allowed(Permission.PUBLISH)])
def restore_workflow(
    workflow_id: str,
    request: Request,
    db: DB,
    caller: CurrentCaller,
    data: schemas.WorkflowRestore | None = None,
    settings: Settings = Depends(get_settings),
) -> schemas.WorkflowRead:
    """Bring a deleted workflow back from the trash as it was (a disabled one stays disabled; schedules resume
    otherwise). 409 `name-taken` when a live workflow has its name: send {"name": ...} to restore it under another."""
    name = data.name if data else None
    return trash.restore_workflow(
        db, caller=caller, workflow_id=workflow_id, settings=settings, name=name, request=request
    )
