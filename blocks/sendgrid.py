"""SendGrid (email) with the official `sendgrid` SDK: v3 Mail Send.

Test runs use SendGrid's sandbox mode: SendGrid validates the email and answers 200, delivers nothing.
SendGrid has no idempotency key: the ledger (blocks.ledger) keeps a retry from sending twice, and an
answer that times out after the request left is not retried (the email may have gone).
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any, ClassVar

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

from blocks.base import Action, ActionContext, ActionInput, IntegrationBlock
from blocks.runtime import integration_settings
from blocks.webcall import status_error
from core import checks
from core.errors import MaybeSent, Permanent, Retryable, StepFailure

MAX_MESSAGE_BYTES = 30 * 1024 * 1024  # SendGrid's limit for the whole message, attachments included
MAX_RECIPIENTS = 1000


class SendGridConnection(IntegrationBlock):
    """A SendGrid account: an API key with Mail Send permission and the default sender."""

    slug: ClassVar[str] = "sendgrid"
    label: ClassVar[str] = "SendGrid"

    api_key: SecretStr = Field(description="SendGrid API key (SG.…) with the Mail Send permission.")
    from_email: str = Field(description="Default sender address; it must be a verified sender in SendGrid.")
    from_name: str | None = Field(default=None, description="Default sender name shown to recipients.")

    @field_validator("from_email")
    @classmethod
    def _sender(cls, value: str) -> str:
        return checks.email_address(value)

    def client(self):
        from sendgrid import SendGridAPIClient

        return SendGridAPIClient(api_key=self.reveal("api_key"), host=integration_settings().sendgrid_base_url)

    async def test_connection(self) -> str:
        timeout = integration_settings().timeout_seconds

        def call():
            return self.client().client.scopes.get(timeout=timeout)

        response = await _call(call, "check the API key")
        scopes = json.loads(response.body or b"{}").get("scopes", [])
        if "mail.send" not in scopes:
            raise Permanent(
                "SendGrid accepted the API key, but it lacks the Mail Send permission.",
                hint="In SendGrid (Settings → API Keys) give the key 'Mail Send' access, or create a new key.",
            )
        return f"SendGrid accepted the API key; it may send email as {self.from_email}."


class Attachment(BaseModel):
    filename: str = Field(min_length=1, max_length=255, description="File name shown to the recipient.")
    content: str = Field(min_length=1, description="The file, base64-encoded.")
    type: str = Field(default="application/octet-stream", description="MIME type, e.g. application/pdf.")


class SendEmailInput(ActionInput):
    # A list, or one text with addresses separated by commas; always a list once validated.
    to: list[str] | str = Field(description="Recipients: a list, or addresses separated by commas.")
    cc: list[str] | str = Field(default_factory=list, description="Copy recipients.")
    bcc: list[str] | str = Field(default_factory=list, description="Blind copy recipients.")
    subject: str | None = Field(default=None, max_length=998, description="Subject line (not needed with a template).")
    text: str | None = Field(default=None, description="Plain-text body.")
    html: str | None = Field(default=None, description="HTML body.")
    template_id: str | None = Field(
        default=None, description="SendGrid dynamic template id (d-…) instead of subject and body."
    )
    template_data: dict[str, Any] = Field(default_factory=dict, description="Data for the dynamic template.")
    categories: list[str] = Field(
        default_factory=list, max_length=10, description="Categories for SendGrid statistics."
    )
    reply_to: str | None = Field(default=None, description="Address replies go to.")
    from_email: str | None = Field(default=None, description="Sender address; defaults to the connection's.")
    from_name: str | None = Field(default=None, description="Sender name; defaults to the connection's.")
    attachments: list[Attachment] = Field(default_factory=list, description="Files to attach (30 MB in total at most).")

    @field_validator("to", "cc", "bcc", mode="before")
    @classmethod
    def _addresses(cls, value: Any) -> list[str]:
        return checks.email_list(value)

    @field_validator("reply_to", "from_email")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        return checks.email_address(value) if value else None

    @model_validator(mode="after")
    def _complete(self) -> SendEmailInput:
        if not self.template_id and not (self.subject and (self.text or self.html)):
            raise ValueError("give a subject and a text or html body, or a SendGrid template_id")
        everyone = [a.lower() for a in (*self.to, *self.cc, *self.bcc)]
        if len(everyone) > MAX_RECIPIENTS:
            raise ValueError(f"{len(everyone)} recipients; SendGrid accepts at most {MAX_RECIPIENTS} per email")
        repeated = sorted({a for a in everyone if everyone.count(a) > 1})
        if repeated:
            raise ValueError(f"{', '.join(repeated)} appears more than once in to, cc and bcc; SendGrid refuses that")
        return self


class SendEmailOutput(BaseModel):
    message_id: str | None = Field(description="SendGrid's X-Message-Id (matches sg_message_id in events).")
    status_code: int = Field(description="202 when accepted for delivery; 200 in sandbox mode.")
    sandbox: bool = Field(description="True in test runs: SendGrid validated the email and sent nothing.")
    recipients: int = Field(description="Number of to, cc and bcc addresses.")


def mail_body(block: SendGridConnection, data: SendEmailInput, ctx: ActionContext) -> dict[str, Any]:
    personalization: dict[str, Any] = {"to": [{"email": a} for a in data.to]}
    personalization |= {"cc": [{"email": a} for a in data.cc]} if data.cc else {}
    personalization |= {"bcc": [{"email": a} for a in data.bcc]} if data.bcc else {}
    if data.template_id:
        personalization["dynamic_template_data"] = data.template_data
    sender = {"email": data.from_email or block.from_email}
    name = data.from_name or block.from_name
    if name:
        sender["name"] = name
    body: dict[str, Any] = {
        "personalizations": [personalization],
        "from": sender,
        "custom_args": {"flowyard_idempotency_key": ctx.idempotency_key},
        "mail_settings": {"sandbox_mode": {"enable": ctx.test_mode}},
    }
    if data.subject:
        body["subject"] = data.subject
    content = [{"type": t, "value": v} for t, v in (("text/plain", data.text), ("text/html", data.html)) if v]
    if content:
        body["content"] = content
    if data.template_id:
        body["template_id"] = data.template_id
    if data.categories:
        body["categories"] = data.categories
    if data.reply_to:
        body["reply_to"] = {"email": data.reply_to}
    if data.attachments:
        body["attachments"] = [{"filename": a.filename, "content": a.content, "type": a.type} for a in data.attachments]
    return body


def _check_size(data: SendEmailInput, body: dict[str, Any]) -> None:
    for attachment in data.attachments:
        try:
            base64.b64decode(attachment.content, validate=True)
        except ValueError:
            raise Permanent(
                f"Attachment '{attachment.filename}' is not base64-encoded.",
                hint="Encode the file's bytes as base64 before passing it to the email step.",
            ) from None
    size = len(json.dumps(body))
    if size > MAX_MESSAGE_BYTES:
        raise Permanent(
            f"The email is {size / 1_048_576:.1f} MB with its attachments; SendGrid accepts at most 30 MB.",
            hint="Attach fewer or smaller files, or send a download link instead.",
            details={"size_bytes": size},
        )


async def send_email(block: SendGridConnection, data: SendEmailInput, ctx: ActionContext) -> dict[str, Any]:
    body = mail_body(block, data, ctx)
    _check_size(data, body)
    timeout = integration_settings().timeout_seconds
    response = await _call(
        lambda: block.client().client.mail.send.post(request_body=body, timeout=timeout), "send the email"
    )
    headers = {k.lower(): v for k, v in dict(response.headers or {}).items()}
    output = SendEmailOutput(
        message_id=headers.get("x-message-id"),
        status_code=response.status_code,
        sandbox=ctx.test_mode,
        recipients=len(data.to) + len(data.cc) + len(data.bcc),
    ).model_dump()
    if ctx.test_mode:
        output["debug"] = {
            "request": {"method": "POST", "path": "/v3/mail/send", "json": body},
            "response": {"status_code": response.status_code, "headers": headers},
        }
    return output


async def _call(call, doing: str):
    """Run one SDK call in a thread and turn its failures into StepFailures."""
    from urllib.error import URLError

    from python_http_client.exceptions import HTTPError

    try:
        return await asyncio.to_thread(call)
    except HTTPError as exc:
        raise _status_error(exc, doing) from None
    except URLError as exc:  # the request never left: connection refused, DNS, connect timeout
        raise Retryable(
            f"Could not reach SendGrid to {doing} ({checks.excerpt(exc.reason)}).",
            hint="SendGrid may be down or the network blocked; the step will be retried.",
        ) from None
    except TimeoutError:
        raise MaybeSent(
            f"SendGrid did not answer in time after receiving the request to {doing}.",
            hint="The email may have been sent, so it was not sent again. Check SendGrid's Activity feed.",
        ) from None


_HINTS = {
    400: "Check the addresses, subject and body the step sends.",
    401: "Create a key with Mail Send permission in SendGrid (Settings → API Keys) and update the connection.",
    403: "The key lacks Mail Send permission or the sender is not verified: verify the sender in SendGrid "
    "(Settings → Sender Authentication) or give the key Mail Send access.",
    413: "The email is too large: attach fewer or smaller files (30 MB at most).",
}


def _status_error(exc, doing: str) -> StepFailure:
    try:
        errors = json.loads(exc.body or b"{}").get("errors") or []
    except (ValueError, AttributeError):
        errors = []
    said = "; ".join(
        f"{e.get('field')}: {e.get('message')}" if e.get("field") else str(e.get("message")) for e in errors
    ) or (exc.body or b"").decode(errors="replace")
    return status_error(
        "SendGrid",
        doing,
        exc.status_code,
        said,
        credentials="the API key",
        headers=dict(exc.headers or {}),
        hints=_HINTS,
        details={"errors": errors},
    )


SEND_EMAIL = Action(
    node_type="email.sendgrid",
    effect="email",
    label="Send email (SendGrid)",
    description="Sends an email through SendGrid: to, cc and bcc, a subject and body from templates or a "
    "SendGrid dynamic template, categories, reply-to and attachments. Test runs use sandbox mode.",
    integration="sendgrid",
    input_model=SendEmailInput,
    output_model=SendEmailOutput,
    sample_output={
        "message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "status_code": 202,
        "sandbox": False,
        "recipients": 1,
    },
    run=send_email,
)
SendGridConnection.actions = (SEND_EMAIL,)
