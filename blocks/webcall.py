"""One HTTP call to a service with httpx, and the failures every integration reports the same way."""

from __future__ import annotations

from typing import Any, Mapping

import httpx

from blocks.runtime import integration_settings
from core import checks
from core.errors import MaybeSent, Permanent, Retryable, StepFailure


async def request(service: str, doing: str, method: str, url: str, *, idempotent: bool, **kwargs: Any) -> httpx.Response:
    """`idempotent`: the service recognises a repeat (an Idempotency-Key), so a lost answer may be retried."""
    try:
        async with httpx.AsyncClient(timeout=integration_settings().timeout_seconds) as client:
            return await client.request(method, url, **kwargs)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise unreachable(service, doing, exc) from None
    except (httpx.TimeoutException, httpx.TransportError):
        if idempotent:
            raise Retryable(
                f"{service} did not answer in time to {doing}.",
                hint=f"{service} recognises a repeat of this request, so the step will be retried safely.",
            ) from None
        raise MaybeSent(
            f"{service} did not answer after receiving the request to {doing}.",
            hint=f"It may have gone through, so Flowyard did not repeat it. Check {service} before running again.",
        ) from None


def unreachable(service: str, doing: str, exc: Exception) -> StepFailure:
    return Retryable(
        f"Could not reach {service} to {doing} ({type(exc).__name__}).",
        hint=f"{service} may be down or the network blocked; the step will be retried.",
    )


def status_error(
    service: str,
    doing: str,
    status: int,
    said: str,
    *,
    headers: Mapping[str, str] | None = None,
    hints: Mapping[int, str] | None = None,
    details: dict[str, Any] | None = None,
) -> StepFailure:
    """4xx: fail at once with the service's words; 429 and 5xx: retry, after the time the service asks."""
    hints = hints or {}
    details = {"status_code": status, **(details or {})}
    said = checks.excerpt(said) if said else "no details given"
    if status == 429 or status >= 500:
        return Retryable(
            f"{service} could not {doing} just now ({status}): {said}",
            hint=hints.get(status, f"{service} is busy or failing; the step will be retried."),
            retry_after=checks.retry_after_seconds(headers),
            details=details,
        )
    if status == 401:
        return Permanent(f"{service} rejected the credentials ({status}): {said}",
                                hint=hints.get(401, "Reconnect the account in Settings → Connections."), details=details)
    return Permanent(f"{service} refused to {doing} ({status}): {said}",
                            hint=hints.get(status, "Check the step's settings against the message above."), details=details)
