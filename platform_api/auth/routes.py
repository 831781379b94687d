from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response

from core.settings import Settings
from platform_api.auth import mail, schemas, service, sessions, throttle
from platform_api.auth.service import client_address
from platform_api.deps import DB, Caller, authenticate, get_settings
from platform_api.permissions import Allowed, Permission
from platform_api.problems import Problem

router = APIRouter(prefix="/api/v1", tags=["auth"])


def signed_in(request: Request, db: DB) -> Caller:
    """The caller, for calls about the person themselves across workspaces: `db` is not scoped to one."""
    caller = authenticate(request, db)
    db.commit()
    return caller


SignedIn = Annotated[Caller, Depends(signed_in)]
AppSettings = Annotated[Settings, Depends(get_settings)]


@router.post("/signup", status_code=201, response_model=schemas.SignupRead)
def signup(
    data: schemas.SignupCreate, db: DB, settings: AppSettings, request: Request, background: BackgroundTasks
) -> schemas.SignupRead:
    if not settings.api.signup_enabled:
        raise Problem(
            403,
            "signup-disabled",
            "Sign-up is off",
            "This installation does not accept new sign-ups.",
            hint="Ask the operator for an invitation.",
        )
    return service.signup(db, data=data, settings=settings, request=request, background=background)


@router.post("/auth/login", response_model=schemas.LoginRead)
def login(data: schemas.LoginCreate, db: DB, settings: AppSettings, request: Request) -> schemas.LoginRead:
    return service.login(db, data=data, settings=settings.api, request=request)


@router.post("/auth/logout", status_code=204)
def logout(db: DB, caller: SignedIn, request: Request) -> Response:
    sessions.logout(db, caller=caller, request=request)
    return Response(status_code=204)


@router.get("/me", response_model=schemas.MeRead)
def me(db: DB, caller: SignedIn) -> schemas.MeRead:
    return sessions.me(db, caller=caller)


@router.post("/auth/switch", response_model=schemas.LoginRead)
def switch(
    data: schemas.SwitchCreate, db: DB, caller: SignedIn, settings: AppSettings, request: Request
) -> schemas.LoginRead:
    return sessions.switch(db, caller=caller, data=data, ttl_hours=settings.api.session_ttl_hours, request=request)


@router.get("/auth/sessions", response_model=list[schemas.SessionRead])
def list_sessions(db: DB, caller: SignedIn) -> list[schemas.SessionRead]:
    return sessions.list_sessions(db, caller=caller)


@router.delete("/auth/sessions/{session_id}", status_code=204)
def end_session(session_id: str, db: DB, caller: SignedIn) -> Response:
    sessions.end_session(db, caller=caller, session_id=session_id)
    return Response(status_code=204)


@router.post("/auth/password", status_code=204)
def change_password(
    data: schemas.PasswordChange, db: DB, caller: SignedIn, settings: AppSettings, request: Request
) -> Response:
    sessions.change_password(db, caller=caller, data=data, settings=settings.api, request=request)
    return Response(status_code=204)


@router.post("/auth/password-reset", status_code=202, response_model=schemas.Accepted)
def request_password_reset(
    data: schemas.PasswordResetCreate, db: DB, settings: AppSettings, background: BackgroundTasks, request: Request
) -> schemas.Accepted:
    """202 whether or not an account has this email; 429 after `api.reset_requests_per_account` requests for one
    email (or `_per_address` from one address) within the login throttle's window."""
    throttle.reset_requested(db, email=data.email.lower(), address=client_address(request), settings=settings.api)
    db.commit()
    email = sessions.request_reset(db, email=data.email, public_url=settings.api_public_url)
    if email is not None:
        background.add_task(mail.send, email)
    return schemas.Accepted(detail="If an account has this email, a reset link is on its way to it.")


@router.post("/auth/password-reset/confirm", status_code=204)
def confirm_password_reset(data: schemas.PasswordResetConfirm, db: DB, request: Request) -> Response:
    sessions.confirm_reset(db, data=data, request=request)
    return Response(status_code=204)


@router.post("/api-keys", status_code=201, response_model=schemas.ApiKeyCreated)
def create_api_key(
    data: schemas.ApiKeyCreate,
    db: DB,
    caller: Annotated[Caller, Allowed(Permission.MANAGE_MEMBERS)],
    request: Request,
) -> schemas.ApiKeyCreated:
    return service.create_api_key(db, caller=caller, data=data, request=request)


@router.get("/api-keys", response_model=list[schemas.ApiKeyRead])
def list_api_keys(db: DB, caller: Annotated[Caller, Allowed(Permission.MANAGE_MEMBERS)]) -> list[schemas.ApiKeyRead]:
    return service.list_api_keys(db, caller=caller)


@router.delete("/api-keys/{key_id}", status_code=204)
def revoke_api_key(
    key_id: str, db: DB, caller: Annotated[Caller, Allowed(Permission.MANAGE_MEMBERS)], request: Request
) -> Response:
    service.revoke_api_key(db, caller=caller, key_id=key_id, request=request)
    return Response(status_code=204)
