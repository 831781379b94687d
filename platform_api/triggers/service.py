"""Triggers of published workflows: webhook endpoints, subscriptions, schedules, and who is told of changes."""

from __future__ import annotations

import asyncio
import json
import secrets
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from blocks.crypto import cipher_for
from core.settings import Settings
from engine.outbox import topic_for
from engine.publish import schedule_creates
from flow_factory.nodes.trigger_schedule import ScheduleTriggerConfig, prefect_schedule
from notifications.people import actor_name, notify_owners_and_admins
from platform_api.audit.service import audit
from platform_api.deps import Caller
from platform_api.problems import Problem
from store import Role, Tenant, TriggerSubscription, WebhookEndpoint, Workflow

SECRET_CONTEXT = "webhook-endpoint"


def trigger_of(graph: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    node: dict[str, Any] = next(
        (n for n in graph.get("nodes", []) if str(n.get("type", "")).startswith("trigger.")), {}
    )
    return node.get("type", ""), node.get("config") or {}


def deployment_schedules(workflow: Workflow, graph: dict[str, Any], time_zone: str) -> list:
    kind, config = trigger_of(graph)
    if kind != "trigger.schedule":
        return []
    specs = ScheduleTriggerConfig.model_validate(config).schedules
    active = not (workflow.schedules_paused or workflow.disabled or workflow.deleted_at)
    return schedule_creates(workflow.id, [prefect_schedule(spec, time_zone) for spec in specs], active=active)


def sync_subscriptions(db: Session, workflow: Workflow, graph: dict[str, Any]) -> None:
    """The workflow's data-change or event subscription, from `graph`; none while it is deleted."""
    db.execute(delete(TriggerSubscription).where(TriggerSubscription.workflow_id == workflow.id))
    if workflow.deleted_at is not None:
        return
    kind, config = trigger_of(graph)
    topic = {"trigger.data_change": lambda: topic_for(config), "trigger.event": lambda: f"event:{config['event']}"}
    if kind in topic:
        db.add(
            TriggerSubscription(
                tenant_id=workflow.tenant_id, workflow_id=workflow.id, topic=topic[kind](), config=config
            )
        )


def _seal(db: Session, settings: Settings, tenant_id: str, secret: str) -> str:
    return cipher_for(db, tenant_id, settings).seal(secret, context=SECRET_CONTEXT)


def unseal_secret(db: Session, settings: Settings, endpoint: WebhookEndpoint) -> str:
    return cipher_for(db, endpoint.tenant_id, settings).unseal(endpoint.sealed_secret, context=SECRET_CONTEXT)


def sync_endpoint(db: Session, settings: Settings, workflow: Workflow, graph: dict[str, Any]) -> str | None:
    """Enable (creating on first publish) or disable the workflow's endpoint. Returns a new secret, once."""
    endpoint = db.scalar(select(WebhookEndpoint).where(WebhookEndpoint.workflow_id == workflow.id))
    wanted = trigger_of(graph)[0] == "trigger.webhook"
    if endpoint is not None:
        endpoint.enabled = wanted
        return None
    if not wanted:
        return None
    secret = "whsec_" + secrets.token_urlsafe(32)
    db.add(
        WebhookEndpoint(
            tenant_id=workflow.tenant_id,
            workflow_id=workflow.id,
            sealed_secret=_seal(db, settings, workflow.tenant_id, secret),
        )
    )
    return secret


def creates_endpoint(db: Session, workflow_id: str, graph: dict[str, Any]) -> bool:
    """Publishing `graph` makes the workflow's first webhook endpoint (and so a secret, shown once)."""
    if trigger_of(graph)[0] != "trigger.webhook":
        return False
    return db.scalar(select(WebhookEndpoint.id).where(WebhookEndpoint.workflow_id == workflow_id)) is None


def has_live_endpoint(db: Session, workflow_id: str) -> bool:
    endpoint = db.scalar(select(WebhookEndpoint).where(WebhookEndpoint.workflow_id == workflow_id))
    return endpoint is not None and endpoint.enabled


def endpoint_of(db: Session, workflow_id: str) -> WebhookEndpoint:
    """The workflow's webhook endpoint; 404 when it has none."""
    endpoint = db.scalar(select(WebhookEndpoint).where(WebhookEndpoint.workflow_id == workflow_id))
    if endpoint is None:
        raise Problem(
            404,
            "no-webhook",
            "No webhook",
            "This workflow has no webhook endpoint.",
            hint="Give it a trigger.webhook and publish it.",
        )
    return endpoint


def rotate_secret(
    db: Session,
    *,
    caller: Caller,
    workflow: Workflow,
    settings: Settings,
    secret: str | None,
    request: Request | None = None,
) -> tuple[WebhookEndpoint, str]:
    caller.require(Role.EDITOR, "rotate webhook secrets")
    endpoint = endpoint_of(db, workflow.id)
    own = secret
    secret = secret or "whsec_" + secrets.token_urlsafe(32)
    endpoint.sealed_secret, endpoint.rotated_at = _seal(db, settings, workflow.tenant_id, secret), datetime.now(UTC)
    detail = {"workflow_id": workflow.id, "chosen_by_caller": bool(own)}  # who got a new one when, never the value
    audit(db, caller, "webhook.secret_rotated", f"workflow:{workflow.id}", request=request, detail=detail)
    db.commit()
    return endpoint, secret


def notify_trigger_change(db: Session, *, caller: Caller, workflow: Workflow, before: dict | None, after: dict) -> None:
    """Tell the workspace's owners and admins when a live workflow's trigger changes: what, from what, by whom."""
    if before is None or trigger_of(before) == trigger_of(after):
        return
    who = actor_name(db, caller.user_id)
    old, new = (
        f"{kind} {json.dumps(config, sort_keys=True)}" for kind, config in (trigger_of(before), trigger_of(after))
    )
    notify_owners_and_admins(
        db,
        workflow.tenant_id,
        kind="trigger_changed",
        title=f"Trigger of '{workflow.name}' changed",
        body=f"{who} changed the trigger of '{workflow.name}' from {old} to {new}. It is live now.",
        data={"workflow_id": workflow.id, "from": trigger_of(before)[1], "to": trigger_of(after)[1], "by": who},
    )


def preview(graph: dict[str, Any], tenant: Tenant, count: int, start: datetime | None) -> list[dict[str, Any]]:
    """The next `count` fire times over all schedules (from `start`, default now), local and UTC, soonest first."""
    kind, config = trigger_of(graph)
    if kind != "trigger.schedule":
        raise Problem(
            409,
            "not-scheduled",
            "No schedule",
            "This workflow's trigger is not a schedule.",
            hint="Use a trigger.schedule node to run it on a schedule.",
        )
    start = start or datetime.now(UTC)
    fires = []
    for spec in ScheduleTriggerConfig.model_validate(config).schedules:
        zone = spec.timezone or tenant.time_zone
        for when in asyncio.run(prefect_schedule(spec, tenant.time_zone).get_dates(n=count, start=start)):
            fires.append(
                {
                    "local": when.isoformat(),
                    "utc": when.astimezone(UTC).isoformat(),
                    "time_zone": zone,
                    "schedule": spec.cron or f"every {spec.interval_minutes:g} minutes",
                }
            )
    return sorted(fires, key=lambda fire: fire["utc"])[:count]
