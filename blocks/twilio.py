"""Twilio (SMS and MMS) with the official `twilio` SDK: the Messages API.

Test runs use the connection's Twilio test credentials and Twilio's magic sender +15005550006
(test credentials accept no Messaging Service and send no status callbacks). Twilio has no
idempotency key: the ledger keeps a retry from sending twice; a timed-out answer is not retried.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, ClassVar

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

from blocks.base import Action, ActionContext, ActionInput, IntegrationBlock
from blocks.runtime import integration_settings
from blocks.webcall import retryable_status, status_error
from core import checks
from core.errors import MaybeSent, Permanent, Retryable, StepFailure

TEST_FROM_NUMBER = "+15005550006"  # Twilio's magic number that passes with test credentials
_CODE_HINTS = {
    20003: "Copy the Account SID and Auth Token from the Twilio Console into the connection.",
    21211: "Use the recipient's number in international format, e.g. +14155550123.",
    21212: "Set the connection's sender to one of your Twilio numbers, in international format.",
    21606: "The sender number is not yours or cannot send SMS: choose an SMS-capable Twilio number.",
    21610: "The recipient replied STOP; they must text START before you can message them again.",
    21612: "Twilio cannot reach this number from your sender; check the number and the sender's country.",
    21408: "Enable the recipient's country under Messaging → Settings → Geo permissions in the Twilio Console.",
    21614: "This number cannot receive SMS (a landline?); use a mobile number.",
    21611: "Your Twilio sender's queue is full; wait or spread the sending.",
}


class TwilioConnection(IntegrationBlock):
    """A Twilio account: Account SID and Auth Token, a default sender, and optional test credentials."""

    slug: ClassVar[str] = "twilio"
    label: ClassVar[str] = "Twilio"

    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$", description="Account SID (AC…), from the Twilio Console.")
    auth_token: SecretStr = Field(description="Auth Token of the account.")
    from_number: str | None = Field(default=None, description="Default sender: a Twilio number, e.g. +14155550123.")
    messaging_service_sid: str | None = Field(
        default=None,
        pattern=r"^MG[0-9a-fA-F]{32}$",
        description="Messaging Service (MG…) to send from instead of a number.",
    )
    test_account_sid: str | None = Field(
        default=None, pattern=r"^AC[0-9a-fA-F]{32}$", description="Test Account SID, used by test runs."
    )
    test_auth_token: SecretStr | None = Field(default=None, description="Test Auth Token, used by test runs.")

    @field_validator("from_number")
    @classmethod
    def _sender(cls, value: str | None) -> str | None:
        return checks.phone_number(value) if value else None

    @model_validator(mode="after")
    def _has_sender(self) -> TwilioConnection:
        if not (self.from_number or self.messaging_service_sid):
            raise ValueError("set from_number or messaging_service_sid: Twilio needs a sender")
        return self

    def client(self, *, test: bool = False):
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        class Http(TwilioHttpClient):  # keeps the last answer's headers, for Retry-After
            def request(self, *args, **kwargs):
                self.last = super().request(*args, **kwargs)
                return self.last

        if test and not (self.test_account_sid and self.test_auth_token):
            raise Permanent(
                "Test runs send SMS with Twilio test credentials, and this connection has none.",
                hint="Add the Test Account SID and Test Auth Token (Twilio Console → Account → API keys) "
                "to the connection, or run the workflow live.",
            )
        sid = self.test_account_sid if test else self.account_sid
        token = self.reveal("test_auth_token" if test else "auth_token")
        client = Client(sid, token, http_client=Http(timeout=integration_settings().timeout_seconds))
        client.api.base_url = integration_settings().twilio_base_url
        return client

    async def test_connection(self) -> str:
        client = self.client()
        account = await _call(client, lambda: client.api.v2010.accounts(self.account_sid).fetch(), "check the account")
        sender = self.from_number or self.messaging_service_sid
        return f"Twilio accepted the credentials of '{account.friendly_name}'; texts will come from {sender}."


class SendSmsInput(ActionInput):
    to: str = Field(
        description="Recipient in international format (+14155550123), or a channel address (whatsapp:+1…)."
    )
    body: str | None = Field(default=None, max_length=1600, description="Message text (1600 characters at most).")
    media_urls: list[str] | str = Field(
        default_factory=list, max_length=10, description="Up to 10 public https:// URLs of images (MMS)."
    )
    from_number: str | None = Field(default=None, description="Sender number; defaults to the connection's.")
    messaging_service_sid: str | None = Field(
        default=None, description="Messaging Service to send from; defaults to the connection's."
    )
    status_callback: str | None = Field(default=None, description="URL Twilio calls with delivery status updates.")

    @field_validator("to")
    @classmethod
    def _to(cls, value: str) -> str:
        return checks.phone_number(value)

    @field_validator("from_number")
    @classmethod
    def _from(cls, value: str | None) -> str | None:
        return checks.phone_number(value) if value else None

    @field_validator("media_urls", mode="before")
    @classmethod
    def _media(cls, value: Any) -> list[str]:
        urls = [value] if isinstance(value, str) else list(value or [])
        for url in urls:
            if not re.match(r"^https?://\S+$", str(url)):
                raise ValueError(f"'{url}' is not a public http(s) URL of an image")
        return [str(u) for u in urls]

    @model_validator(mode="after")
    def _content(self) -> SendSmsInput:
        if not (self.body or self.media_urls):
            raise ValueError("give the message a body or at least one media URL")
        return self


class SendSmsOutput(BaseModel):
    sid: str = Field(description="Twilio's message id (SM…).")
    status: str = Field(description="queued, or accepted when sent through a Messaging Service.")
    to: str = Field(description="The recipient.")
    from_: str | None = Field(alias="from", description="The sender Twilio used.")
    num_segments: str | None = Field(description="SMS segments billed.")
    test: bool = Field(description="True when sent with test credentials (nothing delivered).")


async def send_sms(block: TwilioConnection, data: SendSmsInput, ctx: ActionContext) -> dict[str, Any]:
    test = ctx.test_mode
    client = block.client(test=test)
    params: dict[str, Any] = {"to": data.to}
    service = data.messaging_service_sid or block.messaging_service_sid
    if test:
        params["from_"] = TEST_FROM_NUMBER
    elif data.from_number or not service:
        params["from_"] = data.from_number or block.from_number
    if service and not test:
        params["messaging_service_sid"] = service
    if data.body:
        params["body"] = data.body
    if data.media_urls:
        params["media_url"] = data.media_urls
    if data.status_callback and not test:
        params["status_callback"] = data.status_callback
    message = await _call(client, lambda: client.messages.create(**params), "send the text message")
    output = {
        "sid": message.sid,
        "status": message.status,
        "to": message.to,
        "from": message.from_,
        "num_segments": message.num_segments,
        "test": test,
    }
    if test:
        output["debug"] = {
            "request": {"method": "POST", "path": "Messages.json", "form": params},
            "response": {
                "status_code": client.http_client.last.status_code,
                "body": json.loads(client.http_client.last.text or "{}"),
            },
        }
    return output


async def _call(client, call, doing: str):
    from requests.exceptions import ConnectionError, ReadTimeout
    from twilio.base.exceptions import TwilioException, TwilioRestException

    try:
        return await asyncio.to_thread(call)
    except TwilioRestException as exc:
        last = getattr(client.http_client, "last", None)
        raise _status_error(exc, last, doing) from None
    except ReadTimeout:
        raise _timed_out(doing) from None
    except ConnectionError as exc:
        if not _never_left(exc):  # the connection broke after the request went out
            raise _timed_out(doing) from None
        raise Retryable(
            f"Could not reach Twilio to {doing} ({type(exc).__name__}).",
            hint="Twilio may be down or the network blocked; the step will be retried.",
        ) from None
    except TwilioException as exc:
        raise Permanent(f"Twilio could not {doing}: {exc}", hint="Check the connection's settings.") from None


def _never_left(exc: Exception) -> bool:
    """Refused, unresolvable or timed out while connecting: Twilio never saw the request."""
    from requests.exceptions import ConnectTimeout

    reason = repr(exc.args[0]) if exc.args else ""
    return isinstance(exc, ConnectTimeout) or any(
        name in reason for name in ("NewConnectionError", "NameResolutionError", "ConnectTimeoutError")
    )


def _timed_out(doing: str) -> StepFailure:
    return MaybeSent(
        f"Twilio did not answer after receiving the request to {doing}.",
        hint="The message may have been sent, so it was not sent again. Check Monitor → Messaging logs in Twilio.",
    )


def _status_error(exc, last, doing: str) -> StepFailure:
    status = exc.status
    try:
        payload = json.loads(last.text) if last is not None else {}
    except ValueError:
        payload = {}
    code = payload.get("code") or exc.code
    more_info = payload.get("more_info")
    return status_error(
        "Twilio",
        doing,
        status,
        payload.get("message") or str(exc.msg),
        credentials="the Account SID or Auth Token",
        code=code,
        headers=dict(last.headers or {}) if last is not None else None,
        hints=None if retryable_status(status) else {status: _hint(status, code, more_info)},
        details={"code": code, "more_info": more_info},
    )


def _hint(status: int, code: int | None, more_info: str | None) -> str:
    """What to do about a refusal: Twilio's error code says more than the status."""
    if status == 401:
        return _CODE_HINTS[20003]
    return _CODE_HINTS.get(code or 0, f"See {more_info}" if more_info else "Check the step's settings.")


SEND_SMS = Action(
    node_type="sms.twilio",
    effect="SMS",
    label="Send SMS (Twilio)",
    description="Sends a text message (SMS, or MMS with media URLs) through Twilio, from a number or a Messaging "
    "Service, with an optional status callback. Test runs use Twilio test credentials.",
    integration="twilio",
    input_model=SendSmsInput,
    output_model=SendSmsOutput,
    sample_output={
        "sid": "SM" + "0" * 32,
        "status": "queued",
        "to": "+14155550123",
        "from": "+14155550100",
        "num_segments": "1",
        "test": False,
    },
    run=send_sms,
)
TwilioConnection.actions = (SEND_SMS,)
