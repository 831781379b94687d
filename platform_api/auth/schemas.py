from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

Role = Literal["owner", "admin", "editor", "operator", "viewer"]


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
    expires_in_days: int | None = Field(None, ge=1, le=3650, description="Days until the key stops working.")


class ApiKeyRead(BaseModel):
    id: str
    name: str
    role: Role
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The secret key. It is shown only once.")
