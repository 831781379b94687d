"""The caller's workspace: its name and time zone (time-based conditions and delays use it)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, available_timezones

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from platform_api.deps import DB, CurrentCaller
from store import Role, Tenant

router = APIRouter(prefix="/api/v1/tenant", tags=["workspace"])


class TenantSettingsRead(BaseModel):
    id: str
    slug: str
    name: str
    time_zone: str


class TenantSettingsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=200)
    time_zone: str | None = Field(None, description="IANA time zone, e.g. Europe/Berlin.")

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None and value not in available_timezones():
            raise ValueError(f"unknown time zone '{value}'; use an IANA name such as Europe/Berlin")
        if value is not None:
            ZoneInfo(value)
        return value


def _read(tenant: Tenant) -> TenantSettingsRead:
    return TenantSettingsRead(id=tenant.id, slug=tenant.slug, name=tenant.name, time_zone=tenant.time_zone)


@router.get("", response_model=TenantSettingsRead)
def read_tenant(db: DB, caller: CurrentCaller) -> TenantSettingsRead:
    return _read(db.get_one(Tenant, caller.tenant_id))


@router.patch("", response_model=TenantSettingsRead)
def update_tenant(data: TenantSettingsUpdate, db: DB, caller: CurrentCaller) -> TenantSettingsRead:
    caller.require(Role.ADMIN, "change workspace settings")
    tenant = db.get_one(Tenant, caller.tenant_id)
    tenant.name = data.name or tenant.name
    tenant.time_zone = data.time_zone or tenant.time_zone
    db.commit()
    return _read(tenant)
