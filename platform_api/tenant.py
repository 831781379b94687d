"""The caller's workspace: its name, time zone (time-based conditions and delays use it) and retention policy
(how long runs, step payloads and logs are kept; `engine.retention` purges the rest every hour)."""

from __future__ import annotations

from typing import Annotated, Literal
from zoneinfo import ZoneInfo, available_timezones

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy.orm import Session

from core.settings import RetentionSettings, Settings
from engine.retention import tenant_policy
from engine.search_index import search_fields
from platform_api.audit.service import audit
from platform_api.deps import DB, Caller, CurrentCaller, get_settings
from platform_api.permissions import Allowed, Permission
from platform_api.problems import Problem
from platform_api.publish_requests import policy as publish_policy
from store import Tenant

router = APIRouter(prefix="/api/v1/tenant", tags=["workspace"])


MAX_RETENTION_DAYS = 3650
RETENTION_FIELDS = ("run_history_days", "step_payload_days", "log_days")
AppSettings = Annotated[Settings, Depends(get_settings)]
DirectRole = Literal["owner", "admin"]


class RetentionDays(BaseModel):
    run_history_days: int = Field(description="Days an ended run, its steps and notifications about it are kept.")
    step_payload_days: int = Field(
        description="Days a run's input, its steps' inputs and outputs and delivered CRM change snapshots are kept; "
        "then they are cleared and the run stays."
    )
    log_days: int = Field(description="Days the run's Prefect flow run and its logs are kept.")


class RetentionRead(RetentionDays):
    defaults: RetentionDays = Field(
        description="The platform's defaults, used for each field the workspace has not set."
    )


class RetentionUpdate(BaseModel):
    """Days to keep; null returns a field to the platform's default; a field left out stays as it is."""

    model_config = ConfigDict(extra="forbid")
    run_history_days: int | None = None
    step_payload_days: int | None = None
    log_days: int | None = None


class TenantSettingsRead(BaseModel):
    id: str
    slug: str
    name: str
    time_zone: str
    retention: RetentionRead
    search_fields: list[str] = Field(description="Top-level input fields runs can be found by (GET /runs?search=).")
    publish_requires_approval: bool = Field(
        False,
        description="Publishing needs an owner's or admin's approval (POST /workflows/{id}/publish then answers 202 "
        "with a publish request); a workflow's own `publish_requires_approval` overrides it.",
    )
    publish_direct_roles: list[DirectRole] = Field(
        description="While approval is required, these roles still publish directly; editors never do.",
    )


class TenantSettingsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=200)
    time_zone: str | None = Field(None, description="IANA time zone, e.g. Europe/Berlin.")
    retention: RetentionUpdate | None = None
    search_fields: list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,64}$")]] | None = Field(
        None, max_length=20, description="Input fields to find runs by; applies to runs accepted from then on."
    )
    publish_requires_approval: bool | None = Field(None, description="Publishing needs approval.")
    publish_direct_roles: list[DirectRole] | None = Field(
        None, max_length=2, description="Roles that still publish directly while approval is required; [] for none."
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None and value not in available_timezones():
            raise ValueError(f"unknown time zone '{value}'; use an IANA name such as Europe/Berlin")
        if value is not None:
            ZoneInfo(value)
        return value


def _read(db: Session, tenant: Tenant, defaults: RetentionSettings) -> TenantSettingsRead:
    policy = tenant_policy(tenant, defaults)
    publishing = publish_policy.workspace_rule(db, tenant.id)
    default_days = RetentionDays(**defaults.model_dump(include=set(RETENTION_FIELDS)))
    return TenantSettingsRead(
        id=tenant.id,
        slug=tenant.slug,
        name=tenant.name,
        time_zone=tenant.time_zone,
        search_fields=search_fields(tenant),
        retention=RetentionRead(**vars(policy), defaults=default_days),
        publish_requires_approval=publishing.requires_approval,
        publish_direct_roles=list(publishing.direct_roles),
    )


def _retention_errors(days: dict[str, int]) -> list[dict[str, str]]:
    """The problems of a workspace's resulting policy (every field filled in from its defaults)."""
    errors = [
        {
            "path": f"retention.{name}",
            "message": f"{value} is not between 1 and {MAX_RETENTION_DAYS} days",
            "hint": f"Use a whole number of days from 1 to {MAX_RETENTION_DAYS}, or null for the platform's default.",
        }
        for name, value in days.items()
        if not 1 <= value <= MAX_RETENTION_DAYS
    ]
    if not errors and days["step_payload_days"] > days["run_history_days"]:
        errors.append(
            {
                "path": "retention.step_payload_days",
                "message": "step payloads cannot be kept longer than the runs they belong to",
                "hint": f"Use at most {days['run_history_days']} days (the run history), or keep runs longer.",
            }
        )
    return errors


def apply_retention(tenant: Tenant, update: RetentionUpdate, defaults: RetentionSettings) -> None:
    """Set the fields the caller sent (null: back to the default); 422 if the resulting policy is not valid."""
    for name in update.model_fields_set:
        setattr(tenant, f"retention_{name}", getattr(update, name))
    errors = _retention_errors(vars(tenant_policy(tenant, defaults)))
    if errors:
        raise Problem(
            422,
            "validation-error",
            "Invalid retention policy",
            f"{errors[0]['path']}: {errors[0]['message']}",
            hint=errors[0]["hint"],
            errors=errors,
        )


@router.get("", response_model=TenantSettingsRead)
def read_tenant(db: DB, caller: CurrentCaller, settings: AppSettings) -> TenantSettingsRead:
    return _read(db, db.get_one(Tenant, caller.tenant_id), settings.retention)


@router.patch("", response_model=TenantSettingsRead)
def update_tenant(
    data: TenantSettingsUpdate,
    request: Request,
    db: DB,
    caller: Annotated[Caller, Allowed(Permission.MANAGE_SETTINGS)],
    settings: AppSettings,
) -> TenantSettingsRead:
    tenant = db.get_one(Tenant, caller.tenant_id)
    tenant.name = data.name or tenant.name
    tenant.time_zone = data.time_zone or tenant.time_zone
    if data.retention is not None:
        apply_retention(tenant, data.retention, settings.retention)
    if data.search_fields is not None:
        tenant.search_fields = list(dict.fromkeys(data.search_fields))
    if data.publish_requires_approval is not None or data.publish_direct_roles is not None:
        publish_policy.set_workspace_rule(
            db,
            tenant_id=tenant.id,
            requires_approval=data.publish_requires_approval,
            direct_roles=data.publish_direct_roles,
        )
    changed = data.model_dump(mode="json", exclude_unset=True)
    audit(db, caller, "settings.changed", f"tenant:{tenant.id}", request=request, detail={"changed": changed})
    db.commit()
    return _read(db, tenant, settings.retention)
