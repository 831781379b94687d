from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response

from core.settings import Settings
from platform_api.auth import mail
from platform_api.deps import DB, Caller, authenticate, get_settings
from platform_api.members import schemas, service
from platform_api.permissions import Allowed, Permission

router = APIRouter(prefix="/api/v1", tags=["members"])

ManagesMembers = Annotated[Caller, Allowed(Permission.MANAGE_MEMBERS)]
AppSettings = Annotated[Settings, Depends(get_settings)]


@router.post("/invitations", status_code=201, response_model=schemas.InvitationCreated)
def invite(
    data: schemas.InvitationCreate,
    db: DB,
    caller: ManagesMembers,
    settings: AppSettings,
    request: Request,
    background: BackgroundTasks,
) -> schemas.InvitationCreated:
    created, email = service.invite(db, caller=caller, data=data, public_url=settings.api_public_url, request=request)
    background.add_task(mail.send, email)
    return created


@router.get("/invitations", response_model=list[schemas.InvitationRead])
def list_invitations(db: DB, caller: ManagesMembers) -> list[schemas.InvitationRead]:
    return service.list_invitations(db, caller=caller)


@router.delete("/invitations/{invitation_id}", status_code=204)
def withdraw_invitation(invitation_id: str, db: DB, caller: ManagesMembers) -> Response:
    service.withdraw_invitation(db, caller=caller, invitation_id=invitation_id)
    return Response(status_code=204)


@router.post("/invitations/{token}/accept", response_model=schemas.AcceptRead)
def accept_invitation(
    token: str, data: schemas.InvitationAccept, db: DB, settings: AppSettings, request: Request
) -> schemas.AcceptRead:
    """No login needed for a new person; someone with an account sends their login token."""
    signed_in = authenticate(request, db) if request.headers.get("authorization") else None
    return service.accept(
        db,
        token=token,
        data=data,
        signed_in=signed_in,
        ttl_hours=settings.api.session_ttl_hours,
        request=request,
    )


@router.get("/members", response_model=list[schemas.MemberRead])
def list_members(db: DB, caller: Annotated[Caller, Allowed(Permission.MONITOR)]) -> list[schemas.MemberRead]:
    return service.list_members(db, caller=caller)


@router.patch("/members/{user_id}", response_model=schemas.MemberRead)
def change_role(
    user_id: str, data: schemas.MemberUpdate, db: DB, caller: ManagesMembers, request: Request
) -> schemas.MemberRead:
    return service.change_role(db, caller=caller, user_id=user_id, data=data, request=request)


@router.delete("/members/{user_id}", status_code=204)
def remove_member(user_id: str, db: DB, caller: ManagesMembers, request: Request) -> Response:
    service.remove(db, caller=caller, user_id=user_id, request=request)
    return Response(status_code=204)
