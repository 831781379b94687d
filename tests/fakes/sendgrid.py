"""SendGrid v3: POST /v3/mail/send and GET /v3/scopes, as the real service answers them."""

from __future__ import annotations

import secrets
import time

from tests.fakes.base import FakeService, Request, Response, json_response

MAX_BYTES = 30 * 1024 * 1024


def errors(
    status: int, message: str, field: str | None = None, help: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    return json_response(status, {"errors": [{"message": message, "field": field, "help": help}]}, headers)


def rate_limited(retry_after: int | None = None) -> Response:
    headers = {
        "X-RateLimit-Limit": "600",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(time.time()) + (retry_after or 1)),
    }
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return errors(429, "too many requests", headers=headers)


class FakeSendGrid(FakeService):
    name = "sendgrid"

    def __init__(self) -> None:
        super().__init__()
        self.keys: dict[str, list[str]] = {}  # API key -> scopes
        self.sent: list[dict] = []  # accepted for delivery (202)
        self.sandboxed: list[dict] = []  # validated in sandbox mode (200), not delivered

    def add_key(self, scopes: tuple[str, ...] = ("mail.send",)) -> str:
        key = f"SG.{secrets.token_urlsafe(16)}.{secrets.token_urlsafe(32)}"
        self.keys[key] = list(scopes)
        return key

    def delivered_to(self, address: str) -> list[dict]:
        return [m for m in self.sent if any(t["email"] == address for p in m["personalizations"] for t in p["to"])]

    def handle(self, request: Request) -> Response:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme != "Bearer" or key not in self.keys:
            return errors(401, "The provided authorization grant is invalid, expired, or revoked")
        if request.method == "GET" and request.path == "/v3/scopes":
            return json_response(200, {"scopes": self.keys[key]})
        if request.method != "POST" or request.path != "/v3/mail/send":
            return errors(404, "resource not found")
        if "mail.send" not in self.keys[key]:
            return errors(403, "access forbidden")
        if "application/json" not in request.headers.get("accept", "") and request.headers.get("accept") != "*/*":
            return errors(406, "Accept header must be application/json")
        if len(request.body) > MAX_BYTES:
            return errors(413, "The JSON payload you have included in your request is too large.")
        try:
            mail = request.json()
        except ValueError:
            return errors(
                400, "Bad Request", None, "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html"
            )
        problem = self._invalid(mail)
        if problem:
            return errors(400, *problem)
        sandbox = (mail.get("mail_settings") or {}).get("sandbox_mode", {}).get("enable")
        if sandbox:
            self.sandboxed.append(mail)
            return Response(200)
        self.sent.append(mail)
        return Response(202, {"X-Message-Id": secrets.token_urlsafe(16)})

    @staticmethod
    def _invalid(mail: dict) -> tuple[str, str] | None:
        if not isinstance(mail, dict):
            return "Bad Request", None
        if not (mail.get("from") or {}).get("email"):
            return "The from object must be provided for every email send.", "from"
        personalizations = mail.get("personalizations")
        if not isinstance(personalizations, list) or not 1 <= len(personalizations) <= 1000:
            return (
                "The personalizations field is required and must have at least one personalization.",
                "personalizations",
            )
        addresses = []
        for index, item in enumerate(personalizations):
            if not item.get("to"):
                return (
                    "The to array is required for all personalization objects, and must have at least one email object with a valid email address.",
                    f"personalizations.{index}.to",
                )
            for kind in ("to", "cc", "bcc"):
                for recipient in item.get(kind) or []:
                    if "@" not in str(recipient.get("email", "")):
                        return "Does not contain a valid address.", f"personalizations.{index}.{kind}"
                    if any(c in str(recipient.get("name", "")) for c in ";,"):
                        return "Recipient names may not contain ; or ,", f"personalizations.{index}.{kind}"
                    addresses.append(recipient["email"].lower())
        if len(addresses) > 1000:
            return "The total number of recipients must be less than 1000.", "personalizations"
        if len(set(addresses)) != len(addresses):
            return (
                "Each email address in the personalization block should be unique between to, cc, and bcc.",
                "personalizations",
            )
        if not mail.get("template_id"):
            if not mail.get("subject") and not all(p.get("subject") for p in personalizations):
                return (
                    "The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined.",
                    "subject",
                )
            if not mail.get("content"):
                return "Unless a valid template_id is provided, the content parameter is required.", "content"
        sandbox = ((mail.get("mail_settings") or {}).get("sandbox_mode") or {}).get("enable", False)
        if not isinstance(sandbox, bool):
            return "The sandbox_mode enable parameter must be a boolean.", "mail_settings.sandbox_mode.enable"
        return None
