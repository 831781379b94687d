"""Checks and coercions of what actions send, so a bad address fails before any call, in plain words."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_PHONE_PUNCTUATION = re.compile(r"[\s().\-]")


def email_address(value: str) -> str:
    """A syntactically valid address, normalised (domain lower-cased); ValueError says what is wrong."""
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"'{value}' is not a valid email address: {exc}") from None


def email_list(value: Any) -> list[str]:
    """A list of addresses from a list or a comma/semicolon separated text."""
    if value is None:
        return []
    items = re.split(r"[,;]", value) if isinstance(value, str) else list(value)
    return [email_address(str(item)) for item in items if str(item).strip()]


def phone_number(value: str) -> str:
    """E.164 (+14155550123), after dropping spaces, dots, dashes and brackets; channel prefixes
    such as whatsapp: are kept."""
    channel, _, number = str(value).strip().rpartition(":")
    compact = _PHONE_PUNCTUATION.sub("", number)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not E164.match(compact):
        raise ValueError(
            f"'{value}' is not a phone number in international format: start with + and the country "
            "code, e.g. +14155550123"
        )
    return f"{channel}:{compact}" if channel else compact


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from Retry-After (seconds or HTTP date) or a rate-limit reset header
    (Unix epoch seconds, or an ISO-8601 time as Mastodon sends)."""
    if not headers:
        return None
    lower = {str(k).lower(): str(v) for k, v in headers.items()}
    value = lower.get("retry-after")
    if value:
        value = value.strip()
        if value.replace(".", "", 1).isdigit():
            return float(value)
        try:
            return _until(parsedate_to_datetime(value))
        except (TypeError, ValueError):
            pass
    reset = lower.get("x-ratelimit-reset") or lower.get("x-rate-limit-reset")
    if reset:
        reset = reset.strip()
        if reset.replace(".", "", 1).isdigit():
            return max(float(reset) - time.time(), 0.0)
        try:
            return _until(datetime.fromisoformat(reset.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def _until(when: datetime) -> float:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def excerpt(text: Any, limit: int = 300) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit] + "…"
