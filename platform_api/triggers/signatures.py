"""Checking that a webhook delivery comes from whoever holds the endpoint's secret, and what it proves.

Flowyard's scheme (`auth: hmac`), header `X-Flowyard-Signature: t=<unix time>,v1=<hex>` or `...,v2=<hex>`:

- `v1` = HMAC-SHA256(secret, `"<t>." + body`): signs the body only (Stripe's scheme, unchanged).
- `v2` = HMAC-SHA256(secret, `"v2.<t>.<delivery id>." + body`): also signs the delivery id header.

The timestamp must be within five minutes. A delivery id counts for deduplication only when the signature
covers it (a `v2` signature, or an id taken from a field of the signed body); otherwise the deliveries are
deduplicated by their signature, so replaying a captured delivery under a new delivery id starts nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl

REPLAY_WINDOW_SECONDS = 300


class BadSignature(Exception):
    """The delivery is not signed by the endpoint's secret (or is too old)."""


@dataclass(frozen=True)
class Verified:
    """What a valid signature proved. `proof` is the same for the same signed bytes (a replay) and unguessable
    without the secret; `delivery_id_signed` is whether the delivery id header was part of what was signed."""

    proof: str
    delivery_id_signed: bool = False


def _timestamped(header: str | None, *, name: str) -> tuple[int, list[str], list[str]]:
    """`t=<unix>,v1=<hex>[,v1=<hex>]` as used by Flowyard and by Stripe, or Flowyard's `v2=<hex>`."""
    if not header:
        raise BadSignature(f"the {name} header is missing")
    parts = [item.split("=", 1) for item in header.split(",") if "=" in item]
    stamps = [value for key, value in parts if key.strip() == "t"]
    v1 = [value.strip() for key, value in parts if key.strip() == "v1"]
    v2 = [value.strip() for key, value in parts if key.strip() == "v2"]
    if not stamps or not stamps[0].strip().isdigit() or not (v1 or v2):
        raise BadSignature(f"the {name} header must look like t=<unix time>,v1=<hex signature>")
    return int(stamps[0]), v1, v2


def _digest(secret: str, signed: bytes) -> str:
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def _signed_v1(stamp: int, body: bytes) -> bytes:
    return f"{stamp}.".encode() + body


def _signed_v2(stamp: int, delivery_id: str, body: bytes) -> bytes:
    return f"v2.{stamp}.{delivery_id}.".encode() + body  # "v2." keeps it apart from every v1 string


def verify_timestamped(
    secret: str,
    body: bytes,
    header: str | None,
    *,
    name: str,
    delivery_id: str | None = None,
    now: float | None = None,
) -> Verified:
    """`delivery_id` (Flowyard's scheme only) lets a `v2` signature cover the delivery id header."""
    stamp, v1, v2 = _timestamped(header, name=name)
    if abs((now or time.time()) - stamp) > REPLAY_WINDOW_SECONDS:
        raise BadSignature("the signature's timestamp is more than five minutes away: a replay, or a wrong clock")
    if delivery_id is not None and v2:
        expected = _digest(secret, _signed_v2(stamp, delivery_id, body))
        if any(hmac.compare_digest(expected, candidate) for candidate in v2):
            return Verified(proof=f"{stamp}.v2.{expected}", delivery_id_signed=True)
    expected = _digest(secret, _signed_v1(stamp, body))
    if any(hmac.compare_digest(expected, candidate) for candidate in v1):
        return Verified(proof=f"{stamp}.v1.{expected}")
    if v2 and delivery_id is None:
        raise BadSignature(f"a v2 signature signs the delivery id: send it in the delivery id header with {name}")
    raise BadSignature("the signature does not match the body (and delivery id) and the endpoint's secret")


def sign(secret: str, body: bytes, stamp: int | None = None, delivery_id: str | None = None) -> str:
    """The X-Flowyard-Signature header a sender computes (documented, and used by tests): `v2`, which also
    signs the delivery id, when one is given; else `v1`."""
    stamp = int(time.time()) if stamp is None else stamp
    if delivery_id is not None:
        return f"t={stamp},v2={_digest(secret, _signed_v2(stamp, delivery_id, body))}"
    return f"t={stamp},v1={_digest(secret, _signed_v1(stamp, body))}"


def verify_twilio(auth_token: str, url: str, body: bytes, content_type: str, header: str | None) -> Verified:
    from twilio.request_validator import RequestValidator

    if not header:
        raise BadSignature("the X-Twilio-Signature header is missing")
    form = content_type.startswith("application/x-www-form-urlencoded")
    params = dict(parse_qsl(body.decode(errors="replace"))) if form else body.decode(errors="replace")
    if not RequestValidator(auth_token).validate(url, params, header):
        raise BadSignature("the Twilio signature does not match: check the auth token and the public URL")
    return Verified(proof=f"twilio.{header}")  # Twilio signs the URL and the form, not its headers


def verify_bearer(secret: str, header: str | None) -> Verified:
    """A bearer token proves the sender, not the delivery: whoever holds it is trusted with its delivery ids."""
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip(), secret):
        raise BadSignature("the bearer token is missing or wrong")
    return Verified(proof="", delivery_id_signed=True)
