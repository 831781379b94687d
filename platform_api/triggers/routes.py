from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from core.settings import Settings
from platform_api.deps import DB, CurrentCaller, get_settings, wake_dispatcher
from platform_api.permissions import Allowed, Permission
from platform_api.problems import Problem
from platform_api.runs import answer
from platform_api.shedding import tenants_by_credential, webhook_credential
from platform_api.triggers import ingress, service
from platform_api.workflows.service import get_owned_workflow, get_version, redeploy
from store import Role, Tenant, WebhookEndpoint
from store.db import get_session_factory

router = APIRouter(tags=["triggers"])


class WebhookDelivered(BaseModel):
    run_id: str
    duplicate: bool = Field(description="True when this delivery id was seen before: no new run was started.")


class EventCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,99}$", description="The event name, e.g. order.paid.")
    payload: dict[str, Any] = Field(default_factory=dict)
    id: str | None = Field(
        None, max_length=200, description="Your id for the event: the same id twice starts each workflow once."
    )


class WebhookRead(BaseModel):
    url: str
    enabled: bool
    created_at: datetime
    rotated_at: datetime | None


class SecretRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    secret: str | None = Field(
        None,
        min_length=16,
        max_length=200,
        description="Your own secret (Stripe's whsec_…, Twilio's auth token); omit to get a new random one.",
    )


class WebhookRotated(WebhookRead):
    secret: str = Field(description="Shown only now.")


@router.post(
    "/hooks/{endpoint_id}",
    status_code=202,
    response_model=WebhookDelivered,
    responses={
        200: {
            "description": "The trigger responds when done: the run's answer (its Respond to webhook step's, or "
            "the completed run's output)."
        },
        500: {"description": "The trigger responds when done, and the run failed or was cancelled first."},
    },
)
async def deliver(endpoint_id: str, request: Request, settings: Settings = Depends(get_settings)) -> Response:
    """Start a run with a signed delivery. Answered 202 with the run id at once, or, when the trigger responds when
    done, with the run's answer (202 with the run id after FLOWYARD_API__RESPOND_TIMEOUT_SECONDS)."""
    body = await request.body()
    url = (
        settings.api_public_url.rstrip("/") + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    )

    def accept():
        with get_session_factory(settings.platform_database_url)() as db:
            return ingress.receive_webhook(
                db,
                settings=settings,
                endpoint_id=endpoint_id,
                body=body,
                headers={k.lower(): v for k, v in request.headers.items()},
                query=dict(request.query_params),
                url=url,
            )

    delivery = await run_in_threadpool(accept)
    execution = delivery.execution
    tenants_by_credential.learn(webhook_credential(endpoint_id), execution.tenant_id)
    wake_dispatcher(request)
    accepted = JSONResponse(
        WebhookDelivered(run_id=execution.id, duplicate=not delivery.created).model_dump(), status_code=202
    )
    if not delivery.respond_when_done:
        return accepted
    outcome = await answer.wait_for_outcome(
        settings,
        tenant_id=execution.tenant_id,
        execution_id=execution.id,
        responders=delivery.responders,
        seconds=settings.api.respond_timeout_seconds,
    )
    return accepted if outcome is None else answer.outcome_response(outcome, execution.id, accepted)


@router.post("/api/v1/events", status_code=202, dependencies=[Allowed(Permission.RUN)])
def send_event(
    data: EventCreate, request: Request, db: DB, caller: CurrentCaller, settings: Settings = Depends(get_settings)
) -> dict[str, Any]:
    runs = ingress.receive_event(
        db, caller=caller, name=data.name, payload=data.payload, event_id=data.id, settings=settings
    )
    wake_dispatcher(request)
    return {"event": data.name, "runs": runs}


def _webhook_read(endpoint: WebhookEndpoint, settings: Settings) -> dict[str, Any]:
    return {
        "url": f"{settings.api_public_url.rstrip('/')}/hooks/{endpoint.id}",
        "enabled": endpoint.enabled,
        "created_at": endpoint.created_at,
        "rotated_at": endpoint.rotated_at,
    }


@router.get("/api/v1/workflows/{workflow_id}/webhook", response_model=WebhookRead)
def read_webhook(workflow_id: str, db: DB, caller: CurrentCaller, settings: Settings = Depends(get_settings)):
    workflow = get_owned_workflow(db, caller, workflow_id)
    return _webhook_read(service.endpoint_of(db, workflow.id), settings)


@router.post(
    "/api/v1/workflows/{workflow_id}/webhook/rotate",
    response_model=WebhookRotated,
    dependencies=[Allowed(Permission.CREATE_EDIT)],
)
def rotate_webhook_secret(
    workflow_id: str,
    data: SecretRotate,
    db: DB,
    caller: CurrentCaller,
    request: Request,
    response: Response,
    settings: Settings = Depends(get_settings),
):
    """A new secret, shown once in this answer (never cached); deliveries signed with the old one are refused.
    Audited as `webhook.secret_rotated`."""
    workflow = get_owned_workflow(db, caller, workflow_id)
    endpoint, secret = service.rotate_secret(
        db, caller=caller, workflow=workflow, settings=settings, secret=data.secret, request=request
    )
    response.headers["Cache-Control"] = "no-store"
    return {**_webhook_read(endpoint, settings), "secret": secret}


@router.get("/api/v1/workflows/{workflow_id}/schedule/preview")
def preview_schedule(
    workflow_id: str,
    db: DB,
    caller: CurrentCaller,
    count: int = Query(10, ge=1, le=100),
    start: datetime | None = Query(None, description="Preview from this instant (default now)."),
):
    workflow = get_owned_workflow(db, caller, workflow_id)
    graph = get_version(db, workflow, workflow.published_version or workflow.latest_version).graph
    tenant = db.get_one(Tenant, caller.tenant_id)
    return {
        "time_zone": tenant.time_zone,
        "paused": workflow.schedules_paused,
        "fires": service.preview(graph, tenant, count, start),
    }


@router.post("/api/v1/workflows/{workflow_id}/schedule/{action}", dependencies=[Allowed(Permission.RUN)])
def pause_or_resume_schedule(
    workflow_id: str,
    action: str,
    request: Request,
    db: DB,
    caller: CurrentCaller,
    settings: Settings = Depends(get_settings),
):
    if action not in ("pause", "resume"):
        raise Problem(
            404,
            "not-found",
            "Not found",
            f"No schedule action '{action}'.",
            hint="Use /schedule/pause or /schedule/resume.",
        )
    caller.require(Role.OPERATOR, "pause or resume schedules")
    workflow = get_owned_workflow(db, caller, workflow_id)
    workflow.schedules_paused = action == "pause"
    change = {"schedules_paused": workflow.schedules_paused}
    redeploy(db, caller=caller, workflow=workflow, settings=settings, request=request, change=change)
    return {"paused": workflow.schedules_paused}
