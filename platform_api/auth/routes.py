from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from core.settings import Settings
from platform_api.auth import schemas, service
from platform_api.deps import DB, CurrentCaller, get_settings
from platform_api.problems import Problem

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.post("/signup", status_code=201, response_model=schemas.SignupRead)
def signup(data: schemas.SignupCreate, db: DB, settings: Settings = Depends(get_settings)) -> schemas.SignupRead:
    if not settings.api.signup_enabled:
        raise Problem(
            403,
            "signup-disabled",
            "Sign-up is off",
            "This installation does not accept new sign-ups.",
            hint="Ask the operator for an invitation.",
        )
    return service.signup(db, data=data, ttl_hours=settings.api.session_ttl_hours)


@router.post("/auth/login", response_model=schemas.LoginRead)
def login(data: schemas.LoginCreate, db: DB, settings: Settings = Depends(get_settings)) -> schemas.LoginRead:
    return service.login(db, data=data, ttl_hours=settings.api.session_ttl_hours)


@router.post("/api-keys", status_code=201, response_model=schemas.ApiKeyCreated)
def create_api_key(data: schemas.ApiKeyCreate, db: DB, caller: CurrentCaller) -> schemas.ApiKeyCreated:
    return service.create_api_key(db, caller=caller, data=data)


@router.get("/api-keys", response_model=list[schemas.ApiKeyRead])
def list_api_keys(db: DB, caller: CurrentCaller) -> list[schemas.ApiKeyRead]:
    return service.list_api_keys(db, caller=caller)


@router.delete("/api-keys/{key_id}", status_code=204)
def revoke_api_key(key_id: str, db: DB, caller: CurrentCaller) -> Response:
    service.revoke_api_key(db, caller=caller, key_id=key_id)
    return Response(status_code=204)
