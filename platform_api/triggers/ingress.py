"""Starting runs from outside: signed webhook deliveries and named events from a tenant's systems."""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict, deque
from datetime import UTC, datetime
from threading import Lock
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.settings import Settings, get_settings
from flow_factory.nodes.trigger_manual import payload_violations
from flow_factory.nodes.trigger_webhook import WebhookTriggerConfig
from platform_api.deps import Caller
from platform_api.limits import count_trigger, refuse_when_queue_full
from platform_api.problems import Problem
from platform_api.runs.answer import respond_nodes
from platform_api.triggers import signatures
from platform_api.triggers.service import trigger_of, unseal_secret
from platform_api.workflows.service import get_version
from store import (
    Execution,
    ExecutionMode,
    Role,
    TriggerKind,
    TriggerSubscription,
    WebhookEndpoint,
    Workflow,
    enqueue_execution,
)
from store.workflows import TRASH_DAYS

KEPT_HEADERS = ("content-type", "user-agent", "x-delivery-id", "x-github-event", "stripe-signature")


class RateLimiter:
    """Deliveries per endpoint in the last minute, in this process."""

    def __init__(self) -> None:
        self._seen: dict[str, deque] = defaultdict(deque)
        self._lock = Lock()

    def allow(self, key: str, per_minute: int) -> float | None:
        """None when allowed; else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            seen = self._seen[key]
            while seen and now - seen[0] > 60:
                seen.popleft()
            if len(seen) >= per_minute:
                return 60 - (now - seen[0])
            seen.append(now)
            return None


rate_limiter = RateLimiter()


def _unknown_endpoint() -> Problem:
    return Problem(
        404,
        "unknown-webhook",
        "Unknown webhook",
        "No active webhook endpoint has this address.",
        hint="Copy the URL again from the workflow's trigger; the workflow must be published.",
    )


def _disabled(workflow_id: str) -> Problem:
    return Problem(
        410,
        "workflow-disabled",
        "Workflow disabled",
        "This workflow is disabled: it accepts no deliveries, events or runs.",
        hint=f"Enable it (POST /api/v1/workflows/{workflow_id}/enable) to accept them again.",
    )


def _deleted(workflow_id: str) -> Problem:
    return Problem(
        410,
        "workflow-deleted",
        "Workflow deleted",
        "This workflow was deleted: it accepts no deliveries, events or runs.",
        hint=f"Restore it from the trash (POST /api/v1/workflows/{workflow_id}/restore) within "
        f"{TRASH_DAYS} days of its deletion to accept them again.",
    )


def _schema_problem(schema: dict[str, Any], payload: Any, root: str) -> Problem | None:
    violation = next(iter(payload_violations(schema, payload, root)), None)
    if violation is None:
        return None
    return Problem(
        422,
        "payload-invalid",
        "Payload does not match",
        f"{violation['path']}: {violation['message']}",
        hint=violation.get("hint", "Send a payload that matches the trigger's schema."),
        errors=[{"hint": "see the trigger's schema", **violation}],  # a refused schema has its own hint
    )


def _verify(
    config: WebhookTriggerConfig, secret: str, body: bytes, headers: dict[str, str], url: str
) -> signatures.Verified:
    try:
        if config.auth == "hmac":
            return signatures.verify_timestamped(
                secret,
                body,
                headers.get("x-flowyard-signature"),
                name="X-Flowyard-Signature",
                delivery_id=headers.get(config.delivery_id_header.lower()),
            )
        if config.auth == "stripe":
            return signatures.verify_timestamped(secret, body, headers.get("stripe-signature"), name="Stripe-Signature")
        if config.auth == "twilio":
            return signatures.verify_twilio(
                secret, url, body, headers.get("content-type", ""), headers.get("x-twilio-signature")
            )
        return signatures.verify_bearer(secret, headers.get("authorization"))
    except signatures.BadSignature as exc:
        raise Problem(
            401,
            "bad-signature",
            "Signature rejected",
            str(exc),
            hint="Sign the raw body with the endpoint's secret (rotate it if it leaked); "
            "see the trigger.webhook docs for the scheme.",
        ) from None


DEDUPE_KEY_LENGTH: int = Execution.__table__.c.dedupe_key.type.length  # type: ignore[attr-defined]


def dedupe_key(prefix: str, value: str, *, path: str) -> str:
    """`prefix` + `value` as an execution's dedupe key; a value too long for the column is the sender's 422."""
    if len(prefix) + len(value) > DEDUPE_KEY_LENGTH:
        most = DEDUPE_KEY_LENGTH - len(prefix)
        message = f"the id is {len(value)} characters long; at most {most} are kept"
        raise Problem(
            422,
            "dedupe-key-too-long",
            "Id too long",
            f"{path}: {message}",
            hint=f"Send an id of at most {most} characters (a UUID or a hash of yours fits).",
            errors=[{"path": path, "message": message, "hint": f"at most {most} characters"}],
        )
    return prefix + value


def _delivery(
    config: WebhookTriggerConfig, verified: signatures.Verified, headers: dict[str, str], payload: Any
) -> tuple[str | None, str | None]:
    """The delivery id (shown to the workflow) and the dedupe key. An id counts only when its sender's
    signature covers it (see `signatures`); otherwise deliveries are told apart by their signature, so a
    replayed delivery under a new id is still the same delivery."""
    header_id = headers.get(config.delivery_id_header.lower())
    field = config.delivery_id_field
    field_id = str(payload[field]) if field and isinstance(payload, dict) and payload.get(field) is not None else None
    header_path, field_path = f"headers.{config.delivery_id_header}", f"body.{field}"
    for value, path in ((header_id, header_path), (field_id, field_path)):
        if value:
            dedupe_key("webhook:", value, path=path)  # too long for the column: 422, whether it counts or not
    if header_id and verified.delivery_id_signed:
        return header_id, dedupe_key("webhook:", header_id, path=header_path)
    if field_id:  # inside the signed body
        return header_id or field_id, dedupe_key("webhook:", field_id, path=field_path)
    if verified.proof:
        return header_id, "webhook-sig:" + hashlib.sha256(verified.proof.encode()).hexdigest()
    return header_id, None


def _parse(body: bytes, content_type: str) -> Any:
    if content_type.startswith("application/x-www-form-urlencoded"):
        from urllib.parse import parse_qsl

        return dict(parse_qsl(body.decode(errors="replace")))
    try:
        return json.loads(body) if body else {}
    except ValueError:
        raise Problem(
            400,
            "payload-not-json",
            "Body is not JSON",
            "The body could not be parsed as JSON.",
            hint="Send Content-Type: application/json with a JSON body.",
        ) from None


class Delivery(NamedTuple):
    execution: Execution
    created: bool  # False: a delivery seen before, answered with its run
    respond_when_done: bool
    responders: frozenset[str]  # the graph's webhook.respond steps


def receive_webhook(
    db: Session,
    *,
    settings: Settings,
    endpoint_id: str,
    body: bytes,
    headers: dict[str, str],
    query: dict[str, str],
    url: str,
) -> Delivery:
    endpoint = db.get(WebhookEndpoint, endpoint_id)
    workflow = db.get(Workflow, endpoint.workflow_id) if endpoint and endpoint.enabled else None
    if endpoint is None or workflow is None or not workflow.published_version or not workflow.deployment_id:
        raise _unknown_endpoint()  # (publishing sets both the version and the deployment)
    graph = get_version(db, workflow, workflow.published_version).graph
    config = WebhookTriggerConfig.model_validate(trigger_of(graph)[1])
    if len(body) > config.max_body_kb * 1024:
        raise Problem(
            413,
            "payload-too-large",
            "Payload too large",
            f"This endpoint accepts at most {config.max_body_kb} KiB.",
            hint="Send less, or raise max_body_kb on the trigger.",
        )
    # signature first: an unsigned or forged delivery counts against no limit, so junk uses up no quota
    verified = _verify(config, unseal_secret(db, settings, endpoint), body, headers, url)
    if workflow.deleted_at is not None:
        raise _deleted(workflow.id)
    if workflow.disabled:
        raise _disabled(workflow.id)
    wait = rate_limiter.allow(endpoint.id, config.rate_limit_per_minute)
    if wait is not None:
        raise Problem(
            429,
            "rate-limited",
            "Too many deliveries",
            "This endpoint's rate limit was reached.",
            hint="Retry after the Retry-After seconds.",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    count_trigger(db, settings=settings, tenant_id=endpoint.tenant_id, kind=TriggerKind.WEBHOOK)
    payload = _parse(body, headers.get("content-type", ""))
    problem = config.payload_schema and _schema_problem(config.payload_schema, payload, "body")
    if problem:
        raise problem
    delivery_id, delivery_key = _delivery(config, verified, headers, payload)
    received = {
        "body": payload,
        "headers": {k: v for k, v in headers.items() if k in KEPT_HEADERS},
        "query": query,
        "delivery_id": delivery_id,
        "received_at": datetime.now(UTC).isoformat(),
    }
    execution, created = enqueue_execution(
        db,
        workflow=workflow,
        version=workflow.published_version,
        mode=ExecutionMode.LIVE,
        deployment_id=workflow.deployment_id,
        input=received,
        trigger="webhook",
        dedupe_key=delivery_key,
    )
    if created:  # a repeated delivery is answered with its run even when the queue is full
        refuse_when_queue_full(db, settings=settings, tenant_id=endpoint.tenant_id)
    db.commit()
    return Delivery(execution, created, config.respond == "when_done", respond_nodes(graph))


def receive_event(
    db: Session,
    *,
    caller: Caller,
    name: str,
    payload: dict[str, Any],
    event_id: str | None,
    settings: Settings | None = None,
) -> list[dict[str, Any]]:
    """Start every published workflow of the tenant subscribed to `name`; once per event id.
    `settings` (the quotas) default to the process's settings."""
    caller.require(Role.OPERATOR, "send events")
    settings = settings or get_settings()
    count_trigger(db, settings=settings, tenant_id=caller.tenant_id, kind=TriggerKind.EVENT)
    subscriptions = db.scalars(
        select(TriggerSubscription).where(
            TriggerSubscription.tenant_id == caller.tenant_id, TriggerSubscription.topic == f"event:{name}"
        )
    ).all()
    event_key = dedupe_key("event:", event_id, path="id") if event_id else None
    started: list[dict[str, Any]] = []
    for subscription in subscriptions:
        workflow = db.get_one(Workflow, subscription.workflow_id)
        if not workflow.published_version or not workflow.deployment_id or workflow.deleted_at is not None:
            continue  # never: a subscription is written when its workflow is published, removed when it is deleted
        if workflow.disabled:
            started.append({"workflow_id": workflow.id, "run_id": None, "error": _disabled(workflow.id).detail})
            continue
        schema = subscription.config.get("payload_schema")
        problem = schema and _schema_problem(schema, payload, "payload")
        if problem:
            started.append({"workflow_id": workflow.id, "run_id": None, "error": problem.detail})
            continue
        execution, created = enqueue_execution(
            db,
            workflow=workflow,
            version=workflow.published_version,
            mode=ExecutionMode.LIVE,
            deployment_id=workflow.deployment_id,
            input={"event": name, "id": event_id, "payload": payload},
            trigger="event",
            triggered_by=caller.user_id,
            dedupe_key=event_key,
        )
        started.append({"workflow_id": workflow.id, "run_id": execution.id, "duplicate": not created})
    if any(run.get("duplicate") is False for run in started):
        refuse_when_queue_full(db, settings=settings, tenant_id=caller.tenant_id)
    db.commit()
    return started
