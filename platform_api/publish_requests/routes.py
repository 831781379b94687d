"""Publish requests: where publishing needs approval (the workspace's `publish_requires_approval` or a workflow's
own), POST /workflows/{id}/publish by someone who may not publish directly answers 202 with a request, which an
owner or admin approves (deploying exactly that version) or rejects here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from core.settings import Settings
from platform_api.deps import DB, Caller, get_settings
from platform_api.pagination import Cursor, limit_query
from platform_api.permissions import Allowed, Permission
from platform_api.publish_requests import schemas, service

router = APIRouter(prefix="/api/v1/publish-requests", tags=["publish requests"])


@router.get("", response_model=list[schemas.PublishRequestRead])
def list_requests(
    request: Request,
    response: Response,
    db: DB,
    caller: Annotated[Caller, Allowed(Permission.MONITOR)],
    status: Annotated[schemas.RequestStatus | None, Query(description="Only requests in this state.")] = None,
    workflow_id: Annotated[str | None, Query(max_length=36, description="Only this workflow's.")] = None,
    limit: int = limit_query(),
    cursor: Cursor = None,
) -> list[schemas.PublishRequestRead]:
    """Newest first; the next page's cursor is in the X-Next-Cursor (and Link) header."""
    return service.list_requests(
        db,
        caller=caller,
        status=status,
        workflow_id=workflow_id,
        limit=limit,
        cursor=cursor,
        request=request,
        response=response,
    )


@router.get("/{request_id}", response_model=schemas.PublishRequestDetail)
def read_request(
    request_id: str, db: DB, caller: Annotated[Caller, Allowed(Permission.MONITOR)]
) -> schemas.PublishRequestDetail:
    """The request and what it would change: the diff from the version live now (or nothing) to its version."""
    return service.read_request(db, caller=caller, request_id=request_id)


@router.post("/{request_id}/approve", response_model=schemas.PublishApproved)
def approve(
    request_id: str,
    request: Request,
    response: Response,
    db: DB,
    caller: Annotated[Caller, Allowed(Permission.PUBLISH)],
    settings: Annotated[Settings, Depends(get_settings)],
    data: schemas.PublishDecision | None = None,
) -> schemas.PublishApproved:
    """Owners and admins, never the requester: publishes exactly the requested version. 409
    `publish-request-stale` once another version was published after the request was made. When the approval
    creates the workflow's webhook, `webhook_secret` holds its secret, in this answer only."""
    response.headers["Cache-Control"] = "no-store"
    return service.approve(
        db,
        caller=caller,
        request_id=request_id,
        data=data or schemas.PublishDecision(),
        settings=settings,
        request=request,
    )


@router.post("/{request_id}/reject", response_model=schemas.PublishRequestDetail)
def reject(
    request_id: str,
    request: Request,
    db: DB,
    caller: Annotated[Caller, Allowed(Permission.PUBLISH)],
    data: schemas.PublishDecision | None = None,
) -> schemas.PublishRequestDetail:
    """Owners and admins: closes the request without publishing; the requester is told, with the comment."""
    return service.reject(
        db, caller=caller, request_id=request_id, data=data or schemas.PublishDecision(), request=request
    )
