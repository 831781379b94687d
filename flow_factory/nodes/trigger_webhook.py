"""trigger.webhook: a signed HTTP delivery to POST /hooks/<endpoint-id> starts a run."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from flow_factory.nodes.base import NodeType, fixed_output
from flow_factory.nodes.trigger_manual import check_schema_config


class WebhookTriggerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    auth: Literal["hmac", "twilio", "stripe", "bearer"] = Field(
        "hmac",
        description="How deliveries prove they are yours: Flowyard's HMAC signature "
        "(X-Flowyard-Signature: t=<unix>,v1=<hex>), Twilio's or Stripe's signature, "
        "or a bearer token. The secret is shown once when you publish.",
    )
    payload_schema: dict[str, Any] | None = Field(
        None, description="JSON Schema the body must match; other deliveries get 422."
    )
    delivery_id_header: str = Field(
        "X-Delivery-Id",
        max_length=100,
        description="Header carrying a unique delivery id: the same id twice starts one run.",
    )
    delivery_id_field: str | None = Field(
        None, max_length=100, description="Or: a top-level body field carrying the delivery id."
    )
    max_body_kb: int = Field(256, ge=1, le=1024, description="Largest body accepted, in KiB.")
    rate_limit_per_minute: int = Field(
        600, ge=1, le=60_000, description="Deliveries accepted per minute; more get 429."
    )
    sample: dict[str, Any] = Field(default_factory=dict, description="Example body for test runs.")
    respond: Literal["accepted", "when_done"] = Field(
        "accepted",
        description="accepted: answer 202 with the run id at once. when_done: wait for the run and answer with "
        "its Respond to webhook step (or, without one, the last step's output); 202 with the run id "
        "if that takes longer than FLOWYARD_API__RESPOND_TIMEOUT_SECONDS or the run waits for a delay or a person.",
    )


NODE_TYPE = NodeType(
    type="trigger.webhook",
    label="Webhook",
    category="Triggers",
    description="Starts the workflow when another system POSTs to its signed URL; the body is trigger.body.",
    config_model=WebhookTriggerConfig,
    sample_output={
        "body": {"email": "jane@example.com"},
        "headers": {"content-type": "application/json"},
        "query": {},
        "delivery_id": "evt_123",
        "received_at": "2026-11-27T09:00:00+00:00",
    },
    is_trigger=True,
    check_config=lambda config: check_schema_config(config, "payload_schema"),
    output_fields=fixed_output("body", "headers", "query", "delivery_id", "received_at"),
)
