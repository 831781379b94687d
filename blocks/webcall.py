"""One HTTP call with httpx, and the one mapping from an error status to a step failure.

Every action that speaks HTTP calls through here (X, Mastodon, the general `http.request` step), and
the SDK-based integrations (SendGrid, Twilio) map their error statuses with `status_error` too: a 429
or 5xx is retried after the time the service asks for, any other 4xx fails at once, whoever answered.
Bodies are read up to MAX_BODY_BYTES, so a huge answer cannot exhaust a worker's memory. Every call
goes through the egress policy (core.egress): no tenant-steered URL reaches an internal address.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import httpx

from blocks.runtime import integration_settings, settings
from core import checks, egress
from core.errors import ErrorKind, MaybeSent, Permanent, Retryable, StepFailure

MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Reply:
    """What a server answered, with its body read (cut at MAX_BODY_BYTES)."""

    status_code: int
    reason_phrase: str
    headers: httpx.Headers
    content: bytes
    truncated: bool
    charset: str | None  # as its Content-Type declared

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def text(self) -> str:
        return self.content.decode(self.charset or "utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


async def send(
    method: str,
    url: str,
    *,
    timeout: float | None = None,
    follow_redirects: bool = False,
    allowed: Callable[[httpx.URL], None] | None = None,
    **kwargs: Any,
) -> Reply:
    """The call itself, through the egress policy (core.egress): every host it connects to, the
    redirects' included, is resolved once, checked and connected to at the checked address; a refused
    one raises `EgressRefused` (a Permanent failure). `allowed` sees every URL before it is called (a
    connection's base URL). httpx's errors reach the caller, who words them (`request` does)."""
    seconds = integration_settings().timeout_seconds if timeout is None else timeout
    policy = egress.policy_for(settings())
    async with egress.async_client(policy, timeout=seconds, verify=_ssl_context()) as client:
        auth = kwargs.pop("auth", None)
        outgoing = client.build_request(method, url, **kwargs)
        response = await egress.send(client, outgoing, follow_redirects=follow_redirects, allowed=allowed, auth=auth)
        try:
            content, truncated = await _read_capped(response)
        finally:
            await response.aclose()
    return Reply(
        response.status_code, response.reason_phrase, response.headers, content, truncated, response.charset_encoding
    )


async def request(service: str, doing: str, method: str, url: str, *, idempotent: bool, **kwargs: Any) -> Reply:
    """`idempotent`: the service recognises a repeat (an Idempotency-Key), so a lost answer may be retried."""
    try:
        return await send(method, url, **kwargs)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise unreachable(service, doing, exc) from None
    except (httpx.TimeoutException, httpx.TransportError):
        if idempotent:
            raise Retryable(
                f"{service} did not answer in time to {doing}.",
                hint=f"{service} recognises a repeat of this request, so the step will be retried safely.",
                kind=ErrorKind.TIMEOUT,
            ) from None
        raise MaybeSent(
            f"{service} did not answer after receiving the request to {doing}.",
            hint=f"It may have gone through, so Flowyard did not repeat it. Check {service} before running again.",
        ) from None


@lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    # Building an SSL context costs milliseconds of CPU; a batch makes many requests.
    return httpx.create_ssl_context()


async def _read_capped(response: httpx.Response) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return b"".join(chunks)[:MAX_BODY_BYTES], True
    return b"".join(chunks), False


def unreachable(service: str, doing: str, exc: Exception) -> StepFailure:
    return Retryable(
        f"Could not reach {service} to {doing} ({type(exc).__name__}).",
        hint=f"{service} may be down or the network blocked; the step will be retried.",
    )


def retryable_status(status: int) -> bool:
    """429 (slow down) and 5xx (failing): the request was not carried out, so it is tried again."""
    return status == 429 or status >= 500


def status_failure(
    status: int,
    message: str,
    *,
    hint: str,
    headers: Mapping[str, str] | None = None,
    details: dict[str, Any] | None = None,
) -> StepFailure:
    """The one mapping of an error status to a failure, whoever words the message: 429 and 5xx are
    Retryable after the time the server asks for (Retry-After, a rate-limit reset); any other is Permanent."""
    details = {"status_code": status, **(details or {})}
    if retryable_status(status):
        return Retryable(message, hint=hint, retry_after=checks.retry_after_seconds(headers), details=details)
    return Permanent(message, hint=hint, details=details)


def status_error(
    service: str,
    doing: str,
    status: int,
    said: str,
    *,
    credentials: str = "the credentials",
    code: int | str | None = None,
    headers: Mapping[str, str] | None = None,
    hints: Mapping[int, str] | None = None,
    details: dict[str, Any] | None = None,
) -> StepFailure:
    """A service's error status in the words every integration uses. `code`: the service's own error code,
    shown beside the status; `hints` by status replace the general ones."""
    said = checks.excerpt(said) if said else "no details given"
    where = f"{status}, error {code}" if code and code != status else f"{status}"
    if retryable_status(status):
        message = f"{service} could not {doing} just now ({where}): {said}"
        hint = f"{service} is busy or failing; the step will be retried."
    elif status == 401:
        message, hint = (
            f"{service} rejected {credentials} ({where}): {said}",
            "Reconnect the account in Settings → Connections.",
        )
    else:
        message, hint = (
            f"{service} refused to {doing} ({where}): {said}",
            "Check the step's settings against the message above.",
        )
    return status_failure(status, message, hint=(hints or {}).get(status, hint), headers=headers, details=details)
