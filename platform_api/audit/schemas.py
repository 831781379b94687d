from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AuditEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    seq: int = Field(description="The row's place in the workspace's chain, from 1.")
    actor_user_id: str | None = Field(description="The user who acted; none for an API key or an anonymous act.")
    actor_api_key_id: str | None = Field(description="The API key that acted, if one did.")
    action: str = Field(description="What was done, e.g. `workflow.published`.")
    target: str = Field(description="What it was done to: `<kind>:<id>`.")
    client_address: str | None = Field(description="The client's network address, when the act came over HTTP.")
    created_at: datetime
    detail: dict[str, Any] = Field(description="More about the act, without secrets, tokens or email addresses.")
    prev_hash: str | None = Field(description="The hash of the previous row of the chain; none for the first.")
    hash: str = Field(description="SHA-256 over this row's canonical JSON, `prev_hash` included.")


class AuditVerification(BaseModel):
    ok: bool = Field(description="Whether every row of the workspace's chain is intact and linked to the one before.")
    checked: int = Field(description="How many rows were checked (up to the first bad one).")
    first_bad_id: str | None = Field(description="The first row that was altered, or follows a removed row.")
