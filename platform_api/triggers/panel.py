"""What the builder's trigger panel needs beyond the endpoint and its secret: a webhook's latest deliveries (the
run each started) and a test delivery of the trigger's sample, signed with the endpoint's secret by its auth scheme
and received through the same door as `POST /hooks/…`."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from core.settings import Settings
from flow_factory.nodes.trigger_webhook import WebhookTriggerConfig
from platform_api.deps import DB, CurrentCaller, get_settings, wake_dispatcher
from platform_api.permissions import Allowed, Permission
from platform_api.problems import Problem
from platform_api.runs.schemas import RunStatus, run_status
from platform_api.triggers import ingress, service, signatures
from platform_api.workflows.service import get_owned_workflow, get_version
from store import Execution, Role
from store.db import get_session_factory

router = APIRouter(tags=["triggers"])


class WebhookDelivery(BaseModel):
    run_id: str = Field(description="The run the delivery started.")
    delivery_id: str | None = Field(description="The delivery id the sender gave (header or body field), if any.")
    status: RunStatus = Field(description="The run's status.")
    received_at: datetime
    ended_at: datetime | None


class TestDelivered(BaseModel):
    run_id: str
    duplicate: bool = Field(description="True when this delivery id was seen before: no new run was started.")
    delivery_id: str = Field(description="The test delivery's id (test-…).")


def signed_sample(
    config: WebhookTriggerConfig, secret: str, url: str, delivery_id: str
) -> tuple[bytes, dict[str, str]]:
    """The body and (lower-cased) headers of a delivery of the trigger's sample, signed as its auth scheme asks."""
    headers = {"user-agent": "Flowyard test delivery", config.delivery_id_header.lower(): delivery_id}
    if config.auth == "twilio":
        from twilio.request_validator import RequestValidator

        form = {key: str(value) for key, value in config.sample.items()}
        headers["content-type"] = "application/x-www-form-urlencoded"
        headers["x-twilio-signature"] = RequestValidator(secret).compute_signature(url, form)
        return urlencode(form).encode(), headers
    body = json.dumps(config.sample).encode()
    headers["content-type"] = "application/json"
    if config.auth == "hmac":
        headers["x-flowyard-signature"] = signatures.sign(secret, body, delivery_id=delivery_id)
    elif config.auth == "stripe":
        headers["stripe-signature"] = signatures.sign(secret, body)
    else:
        headers["authorization"] = f"Bearer {secret}"
    return body, headers


@router.get("/api/v1/workflows/{workflow_id}/webhook/deliveries", response_model=list[WebhookDelivery])
def list_webhook_deliveries(
    workflow_id: str,
    db: DB,
    caller: CurrentCaller,
    limit: int = Query(20, ge=1, le=100, description="How many of the latest deliveries."),
) -> list[WebhookDelivery]:
    """The latest deliveries that started a run, newest first. A repeated delivery id started no new run and is not
    listed again; refused deliveries (a bad signature, a 4xx) start no run and are not kept."""
    workflow = get_owned_workflow(db, caller, workflow_id)
    executions = db.scalars(
        select(Execution)
        .where(
            Execution.tenant_id == caller.tenant_id,
            Execution.workflow_id == workflow.id,
            Execution.trigger == "webhook",
        )
        .order_by(Execution.created_at.desc(), Execution.id.desc())
        .limit(limit)
    ).all()
    return [
        WebhookDelivery(
            run_id=execution.id,
            delivery_id=(execution.input or {}).get("delivery_id"),
            status=run_status(execution.status),
            received_at=execution.created_at,
            ended_at=execution.ended_at,
        )
        for execution in executions
    ]


@router.post(
    "/api/v1/workflows/{workflow_id}/webhook/test",
    status_code=202,
    response_model=TestDelivered,
    dependencies=[Allowed(Permission.RUN)],
)
def send_test_delivery(
    workflow_id: str, request: Request, db: DB, caller: CurrentCaller, settings: Settings = Depends(get_settings)
) -> TestDelivered:
    """A delivery of the trigger's sample body, signed with the endpoint's secret by its auth scheme, received as
    any other: it starts a live run of the published version (a real run: its steps act)."""
    caller.require(Role.OPERATOR, "send test deliveries")
    workflow = get_owned_workflow(db, caller, workflow_id)
    endpoint = service.endpoint_of(db, workflow.id)
    if not workflow.published_version or not endpoint.enabled:
        raise Problem(
            409,
            "webhook-not-live",
            "Webhook not live",
            "This workflow's webhook is not live: nothing would receive the delivery.",
            hint="Publish the workflow with its trigger.webhook first.",
        )
    graph: dict[str, Any] = get_version(db, workflow, workflow.published_version).graph
    config = WebhookTriggerConfig.model_validate(service.trigger_of(graph)[1])
    url = f"{settings.api_public_url.rstrip('/')}/hooks/{endpoint.id}"
    delivery_id = f"test-{uuid.uuid4().hex}"
    body, headers = signed_sample(config, service.unseal_secret(db, settings, endpoint), url, delivery_id)
    endpoint_id = endpoint.id
    db.rollback()  # only read: the delivery is received in a session of its own, as POST /hooks/… is
    with get_session_factory(settings.platform_database_url)() as own:
        received = ingress.receive_webhook(
            own, settings=settings, endpoint_id=endpoint_id, body=body, headers=headers, query={}, url=url
        )
    wake_dispatcher(request)
    execution, created = received[0], received[1]
    return TestDelivered(run_id=execution.id, duplicate=not created, delivery_id=delivery_id)
