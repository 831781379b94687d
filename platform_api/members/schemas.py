from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, EmailStr, Field

from platform_api.auth.schemas import Request, Role


class InvitationCreate(Request):
    email: EmailStr = Field(description="Who to invite; the link is emailed there when the workspace has email.")
    role: Role = Field(description="The role they get; at most your own.")


class InvitationCreated(BaseModel):
    id: str
    url: str = Field(description="The one-time invitation link, valid for 7 days.")


class InvitationRead(BaseModel):
    id: str
    email: str
    role: Role
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None


class InvitationAccept(Request):
    password: str | None = Field(
        None, min_length=10, max_length=200, description="A new account's password; omit when signed in."
    )
    name: str | None = Field(None, min_length=1, max_length=200, description="A new account's display name.")


class AcceptRead(BaseModel):
    token: str = Field(description="A login token for the workspace you joined.")


class MemberRead(BaseModel):
    user_id: str
    email: str
    name: str | None
    role: Role
    joined_at: datetime


class MemberUpdate(Request):
    role: Role
