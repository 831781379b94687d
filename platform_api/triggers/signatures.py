"""Checking that a webhook delivery comes from whoever holds the endpoint's secret."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import parse_qsl

REPLAY_WINDOW_SECONDS = 300


class BadSignature(Exception):
    """The delivery is not signed by the endpoint's secret (or is too old)."""


def _timestamped(header: str | None, *, name: str) -> tuple[int, list[str]]:
    """`t=<unix>,v1=<hex>[,v1=<hex>]` as used by Flowyard and by Stripe."""
    if not header:
        raise BadSignature(f"the {name} header is missing")
    parts = [item.split("=", 1) for item in header.split(",") if "=" in item]
    stamps = [value for key, value in parts if key.strip() == "t"]
    signatures = [value.strip() for key, value in parts if key.strip() == "v1"]
    if not stamps or not stamps[0].strip().isdigit() or not signatures:
        raise BadSignature(f"the {name} header must look like t=<unix time>,v1=<hex signature>")
    return int(stamps[0]), signatures


def verify_timestamped(secret: str, body: bytes, header: str | None, *, name: str, now: float | None = None) -> None:
    stamp, signatures = _timestamped(header, name=name)
    if abs((now or time.time()) - stamp) > REPLAY_WINDOW_SECONDS:
        raise BadSignature("the signature's timestamp is more than five minutes away: a replay, or a wrong clock")
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise BadSignature("the signature does not match the body and the endpoint's secret")


def sign(secret: str, body: bytes, stamp: int | None = None) -> str:
    """The X-Flowyard-Signature header a sender computes (documented, and used by tests)."""
    stamp = int(time.time()) if stamp is None else stamp
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def verify_twilio(auth_token: str, url: str, body: bytes, content_type: str, header: str | None) -> None:
    from twilio.request_validator import RequestValidator

    if not header:
        raise BadSignature("the X-Twilio-Signature header is missing")
    form = content_type.startswith("application/x-www-form-urlencoded")
    params = dict(parse_qsl(body.decode(errors="replace"))) if form else body.decode(errors="replace")
    if not RequestValidator(auth_token).validate(url, params, header):
        raise BadSignature("the Twilio signature does not match: check the auth token and the public URL")


def verify_bearer(secret: str, header: str | None) -> None:
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip(), secret):
        raise BadSignature("the bearer token is missing or wrong")
