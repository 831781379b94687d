"""API shapes of privacy: data exports, erasing one person, deleting the workspace."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ExportRead(BaseModel):
    id: str
    status: str = Field(description="running, completed or failed.")
    done: int = Field(description="Kinds of data written to the bundle so far.")
    total: int = Field(description="Kinds of data the bundle holds when complete.")
    created_at: datetime
    finished_at: datetime | None
    download_url: str | None = Field(description="Where to download the bundle (a zip of JSON Lines) once completed.")


class ErasureCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(
        min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$", description="The person's email address."
    )


class ErasureRead(BaseModel):
    touched: dict[str, int] = Field(description="Rows (and Prefect flow runs) removed or pseudonymised, per kind.")


class WorkspaceDelete(BaseModel):
    model_config = ConfigDict(extra="forbid")
    confirm: str = Field(description="The workspace's slug, typed to confirm.")
