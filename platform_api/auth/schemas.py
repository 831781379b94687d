from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from platform_api.permissions import Scope

Role = Literal["owner", "admin", "editor", "operator", "viewer"]
Password = Field(min_length=10, max_length=200, description="At least 10 characters.")


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignupCreate(Request):
    tenant_name: str = Field(min_length=1, max_length=200, description="Your company or team name.")
    email: EmailStr = Field(description="The owner's email; used to log in.")
    password: str = Field(min_length=10, max_length=200, description="At least 10 characters.")


class LoginCreate(Request):
    email: EmailStr
    password: str = Field(max_length=200)
    tenant_slug: str | None = Field(None, description="Which workspace, when the user belongs to several.")


class TenantRead(BaseModel):
    id: str
    slug: str
    name: str


class UserRead(BaseModel):
    id: str
    email: str


class SignupRead(BaseModel):
    tenant: TenantRead
    user: UserRead
    token: str


class LoginRead(BaseModel):
    token: str
    tenant: TenantRead
    role: Role


class ApiKeyCreate(Request):
    name: str = Field(min_length=1, max_length=100, description="What the key is for, e.g. 'CI deploys'.")
    role: Role = Field("editor", description="The key's role; at most the creator's own.")
    scopes: list[Scope] = Field(
        [Scope.ADMIN],
        min_length=1,
        description="What the key may do within its role: read, run (and read), deploy (create, edit, publish, "
        "run) or admin (everything its role may).",
    )
    expires_in_days: int | None = Field(None, ge=1, le=3650, description="Days until the key stops working.")


class ApiKeyRead(BaseModel):
    id: str
    name: str
    role: Role
    scopes: list[str]
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The secret key. It is shown only once.")


class PasswordChange(Request):
    current: str = Field(max_length=200, description="Your current password.")
    new: str = Password


class PasswordResetCreate(Request):
    email: EmailStr


class PasswordResetConfirm(Request):
    token: str = Field(max_length=200, description="The token from the reset link.")
    password: str = Password


class Accepted(BaseModel):
    detail: str


class SessionRead(BaseModel):
    id: str
    tenant: TenantRead
    created_at: datetime
    expires_at: datetime
    client_address: str | None
    current: bool = Field(description="The session of the token that asked.")


class SwitchCreate(Request):
    tenant_id: str = Field(max_length=36, description="A workspace you are a member of (GET /api/v1/me).")


class MembershipRead(BaseModel):
    tenant: TenantRead
    role: Role


class MeUserRead(UserRead):
    name: str | None


class MeRead(BaseModel):
    user: MeUserRead
    tenant: TenantRead = Field(description="The workspace of this token.")
    role: Role
    permissions: list[str]
    memberships: list[MembershipRead]
