"""Mastodon: POST /api/v1/statuses (with Idempotency-Key replay) and verify_credentials."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta
from email.utils import formatdate

from tests.fakes.base import FakeService, Request, Response, json_response

LIMIT = 300


def rate_headers(remaining: int) -> dict[str, str]:
    reset = (datetime.now(UTC) + timedelta(minutes=5)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "X-RateLimit-Limit": str(LIMIT),
        "X-RateLimit-Remaining": str(max(remaining, 0)),
        "X-RateLimit-Reset": reset,
        "Date": formatdate(usegmt=True),
    }


def rate_limited() -> Response:
    return json_response(429, {"error": "Too many requests"}, rate_headers(0))


class FakeMastodon(FakeService):
    name = "mastodon"

    def __init__(self) -> None:
        super().__init__()
        self.tokens: dict[str, str] = {}  # token -> account
        self.statuses: list[dict] = []
        self._replays: dict[tuple[str, str], tuple[float, dict]] = {}

    def add_token(self, account: str = "shop") -> str:
        token = secrets.token_urlsafe(32)
        self.tokens[token] = account
        return token

    def handle(self, request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        account = self.tokens.get(token) if scheme == "Bearer" else None
        if account is None:
            return json_response(401, {"error": "The access token is invalid"})
        if (request.method, request.path) == ("GET", "/api/v1/accounts/verify_credentials"):
            return json_response(200, {"id": "1", "username": account, "acct": account}, rate_headers(LIMIT))
        if (request.method, request.path) != ("POST", "/api/v1/statuses"):
            return json_response(404, {"error": "Record not found"})
        key = request.headers.get("idempotency-key")
        replay = self._replays.get((account, key)) if key else None
        if replay and replay[0] > time.time():
            return json_response(200, replay[1], rate_headers(LIMIT - len(self.statuses)))
        body = (
            request.json()
            if "json" in request.headers.get("content-type", "")
            else {k: v[0] for k, v in request.form().items()}
        )
        text = (body.get("status") or "").strip()
        if not text:
            return json_response(422, {"error": "Validation failed: Text can't be blank"})
        if len(text) > 500:
            return json_response(422, {"error": "Validation failed: Text character limit of 500 exceeded"})
        status_id = str(109_000_000_000 + len(self.statuses))
        status = {
            "id": status_id,
            "created_at": datetime.now(UTC).isoformat(),
            "content": f"<p>{text}</p>",
            "visibility": body.get("visibility", "public"),
            "uri": f"https://fake.social/users/{account}/statuses/{status_id}",
            "url": f"https://fake.social/@{account}/{status_id}",
            "account": {"acct": account},
        }
        self.statuses.append({**status, "text": text, "account_name": account})
        if key:
            self._replays[(account, key)] = (time.time() + 3600, status)
        return json_response(200, status, rate_headers(LIMIT - len(self.statuses)))
