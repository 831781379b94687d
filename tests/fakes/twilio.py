"""Twilio Messages API (2010-04-01), live and test credentials with their magic numbers."""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from email.utils import formatdate

from tests.fakes.base import FakeService, Request, Response, json_response

E164 = re.compile(r"^(whatsapp:)?\+[1-9]\d{6,14}$")
MESSAGES = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-f]{32})/Messages\.json$")
ACCOUNT = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-f]{32})\.json$")
MAGIC_FROM = {"+15005550006": None, "+15005550001": 21212, "+15005550007": 21606, "+15005550008": 21611}
MAGIC_TO = {
    "+15005550001": 21211,
    "+15005550002": 21612,
    "+15005550003": 21408,
    "+15005550004": 21610,
    "+15005550009": 21614,
}
MESSAGES_TEXT = {
    20003: "Authenticate",
    20008: "Resource not accessible with Test Account Credentials",
    20429: "Too Many Requests",
    21211: "The 'To' number {to} is not a valid phone number.",
    21212: "The 'From' number {from_} is not a valid phone number, shortcode, or alphanumeric sender ID.",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: {to}.",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21606: "The 'From' phone number provided ({from_}) is not a valid message-capable Twilio phone number for this destination/account.",
    21610: "Attempt to send to unsubscribed recipient",
    21611: "This 'From' number has exceeded the maximum number of queued messages",
    21612: "The 'To' phone number: {to}, is not currently reachable using the 'From' phone number: {from_} via SMS.",
    21614: "'To' number is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit.",
}


def error(status: int, code: int, headers: dict[str, str] | None = None, **fill: str) -> Response:
    return json_response(
        status,
        {
            "code": code,
            "message": MESSAGES_TEXT[code].format(**{"to": "", "from_": "", **fill}),
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        headers,
    )


def too_many() -> Response:
    return error(429, 20429)


@dataclass
class Account:
    sid: str
    token: str
    test: bool
    numbers: tuple[str, ...] = ()
    services: tuple[str, ...] = ()


class FakeTwilio(FakeService):
    name = "twilio"

    def __init__(self) -> None:
        super().__init__()
        self.accounts: dict[str, Account] = {}
        self.messages: list[dict] = []  # created with live credentials
        self.test_messages: list[dict] = []  # created with test credentials (nothing delivered)

    def add_account(self, *, test: bool = False, numbers=("+14155550100",), services=()) -> Account:
        account = Account("AC" + secrets.token_hex(16), secrets.token_hex(16), test, tuple(numbers), tuple(services))
        self.accounts[account.sid] = account
        return account

    def to(self, number: str) -> list[dict]:
        return [m for m in self.messages if m["to"] == number]

    def _auth(self, request: Request, sid: str) -> Account | None:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return None
        account = self.accounts.get(user)
        ok = (
            scheme == "Basic"
            and account is not None
            and secrets.compare_digest(account.token, password)
            and user == sid
        )
        return account if ok else None

    def handle(self, request: Request) -> Response:
        match = MESSAGES.match(request.path) or ACCOUNT.match(request.path)
        if match is None:
            return json_response(
                404,
                {
                    "code": 20404,
                    "message": "The requested resource was not found",
                    "more_info": "https://www.twilio.com/docs/errors/20404",
                    "status": 404,
                },
            )
        account = self._auth(request, match.group(1))
        if account is None:
            return error(401, 20003)
        if ACCOUNT.match(request.path):
            if account.test:
                return error(403, 20008)
            return json_response(
                200, {"sid": account.sid, "friendly_name": "Flowyard test account", "status": "active"}
            )
        if request.method != "POST":
            return error(403, 20008) if account.test else json_response(200, {"messages": self.messages})
        return self._create(account, request.form())

    def _create(self, account: Account, form: dict[str, list[str]]) -> Response:
        to = (form.get("To") or [""])[0]
        from_ = (form.get("From") or [""])[0]
        service = (form.get("MessagingServiceSid") or [""])[0]
        body = (form.get("Body") or [""])[0]
        media = form.get("MediaUrl") or []
        fill = {"to": to, "from_": from_}
        if account.test:
            if service:
                return error(403, 20008)
            code = MAGIC_FROM.get(from_, 21606)
            code = code or MAGIC_TO.get(to)
            if code:
                return error(400, code, **fill)
        if not E164.match(to):
            return error(400, 21211, **fill)
        if not (from_ or service):
            return error(400, 21603, **fill)
        if not account.test and from_ and from_ not in account.numbers:
            return error(400, 21606, **fill)
        if not account.test and service and service not in account.services:
            return error(400, 21606, **fill)
        if not (body or media):
            return error(400, 21602, **fill)
        if len(body) > 1600:
            return error(400, 21617, **fill)
        now = formatdate(usegmt=True).replace("GMT", "+0000")
        sid = "SM" + secrets.token_hex(16)
        message = {
            "account_sid": account.sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": from_ or None,
            "messaging_service_sid": service or None,
            "num_media": str(len(media)),
            "num_segments": "0" if service else str(max(1, -(-len(body) // 160))),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if service else "queued",
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{account.sid}/Messages/{sid}/Media.json"},
            "to": to,
            "uri": f"/2010-04-01/Accounts/{account.sid}/Messages/{sid}.json",
            "status_callback": (form.get("StatusCallback") or [None])[0],
            "media_urls": media,
        }
        (self.test_messages if account.test else self.messages).append(message)
        return json_response(201, {k: v for k, v in message.items() if k not in ("status_callback", "media_urls")})
