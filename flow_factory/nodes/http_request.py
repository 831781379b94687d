"""http.request: calls any HTTP API."""

from __future__ import annotations

import json
import ssl
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from core.errors import Permanent, Retryable, StepFailure
from flow_factory.nodes.base import NodeType, StepContext, fixed_output
from flow_factory.nodes.http_auth import CONNECTION_DESCRIPTION, connection_headers

MAX_BODY_BYTES = 1024 * 1024
EXCERPT_CHARS = 300


class HttpRequestConfig(BaseModel):
    # Numbers rendered from templates ({{ trigger.id }}) are fine as header or query values.
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = Field(
        default="GET", description="HTTP method."
    )
    url: str = Field(
        # Spelled out rather than (?i): the UI checks this pattern with JavaScript regexes.
        pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://\S",
        description="Full http:// or https:// URL; may hold templates like https://api.example.com/orders/{{ trigger.id }}.",
    )
    connection: str | None = Field(default=None, description=CONNECTION_DESCRIPTION,
                                   json_schema_extra={"x-connection-type": "http"})
    headers: dict[str, str] = Field(default_factory=dict, description="Request headers.")
    query: dict[str, str] = Field(default_factory=dict, description="Query string parameters.")
    json_body: Any = Field(default=None, description="Body sent as JSON; leave empty to send no body.")
    timeout_seconds: float = Field(
        default=30, gt=0, le=300, description="Seconds to wait for the response before failing (retryably)."
    )
    fail_on_error_status: bool = Field(
        default=True,
        description="Fail the step on a 4xx or 5xx answer; when off, the status is in the output.",
    )


async def run(config: HttpRequestConfig, ctx: StepContext) -> dict[str, Any]:
    request = f"{config.method} {config.url}"
    headers = _headers(config, ctx)
    if config.connection:  # the connection's credentials win over same-named headers typed in the step
        headers.update(await connection_headers(ctx, config.connection))
    try:
        async with httpx.AsyncClient(
            timeout=config.timeout_seconds, verify=_ssl_context(), follow_redirects=True
        ) as client:
            async with client.stream(
                config.method,
                config.url,
                headers=headers,
                params=config.query or None,
                json=config.json_body,
            ) as response:
                body, truncated = await _read_capped(response)
    except httpx.TimeoutException as exc:
        raise Retryable(
            f"{request} timed out after {config.timeout_seconds:g} s ({type(exc).__name__})",
            hint="the server did not answer in time; it will be retried, or raise timeout_seconds",
        ) from exc
    except (httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.TooManyRedirects) as exc:
        raise Permanent(f"{request} failed: {exc}", hint="check the URL") from exc
    except httpx.TransportError as exc:
        raise Retryable(
            f"{request} failed: could not connect ({type(exc).__name__}: {exc})",
            hint="check the URL's host name and port, and that the server is up; it will be retried",
        ) from exc
    if truncated:
        ctx.logger.warning("%s: response body cut at %d bytes", request, MAX_BODY_BYTES)
    output = {
        "status_code": response.status_code,
        "headers": {name.lower(): value for name, value in response.headers.items()},
        "body": _decode(response, body, truncated),
    }
    if config.fail_on_error_status and response.status_code >= 400:
        raise _status_error(request, response, output["body"])
    return output


@lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    # Building an SSL context costs milliseconds of CPU; a batch makes many requests.
    return httpx.create_ssl_context()


def _headers(config: HttpRequestConfig, ctx: StepContext) -> dict[str, str]:
    headers = dict(config.headers)
    has_key = any(name.lower() == "idempotency-key" for name in headers)
    if config.method != "GET" and not has_key:
        # The same execution and node always send the same key, so a retry is not a repeat.
        headers["Idempotency-Key"] = f"{ctx.execution_id}-{ctx.node_id}"
    return headers


async def _read_capped(response: httpx.Response) -> tuple[bytes, bool]:
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return b"".join(chunks)[:MAX_BODY_BYTES], True
    return b"".join(chunks), False


def _decode(response: httpx.Response, body: bytes, truncated: bool) -> Any:
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if not truncated and (content_type == "application/json" or content_type.endswith("+json")):
        try:
            return json.loads(body)
        except ValueError:
            pass  # a server that says JSON and sends something else: keep the text
    return body.decode(response.charset_encoding or "utf-8", errors="replace")


def _status_error(request: str, response: httpx.Response, body: Any) -> StepFailure:
    status = response.status_code
    excerpt = _excerpt(body)
    message = f"{request} answered {status} {response.reason_phrase}" + (f": {excerpt}" if excerpt else "")
    details = {"status_code": status, "body_excerpt": excerpt}
    if status == 429 or status >= 500:
        return Retryable(
            message,
            hint="the server is busy or failing; the step will be retried",
            retry_after=_retry_after_seconds(response.headers.get("retry-after")),
            details=details,
        )
    return Permanent(message, hint=_STATUS_HINTS.get(status, _DEFAULT_4XX_HINT), details=details)


_DEFAULT_4XX_HINT = "the server rejected the request; check the URL, headers, query and body"
_STATUS_HINTS = {
    400: "the server rejected the request; check the body and query parameters",
    401: "check the credentials in the Authorization header",
    403: "the credentials are not allowed to do this; check their permissions",
    404: "check the URL: the server has nothing there",
    405: "the server does not accept this method at this URL; check the method",
    422: "the server could not process the body; check its fields",
}


def _excerpt(body: Any) -> str:
    text = body if isinstance(body, str) else json.dumps(body, default=str)
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"


def _retry_after_seconds(value: str | None) -> float | None:
    """Retry-After is either delay-seconds or an HTTP date (RFC 9110 section 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max((when - datetime.now(timezone.utc)).total_seconds(), 0.0)


NODE_TYPE = NodeType(
    output_fields=fixed_output("status_code", "headers", "body"),
    type="http.request",
    label="HTTP request",
    category="Actions",
    description="Calls an HTTP API and outputs its status, headers and body (parsed JSON or text).",
    config_model=HttpRequestConfig,
    run=run,
    sample_output={
        "status_code": 200,
        "headers": {"content-type": "application/json"},
        "body": {"id": 1042, "status": "created"},
    },
    docs_url="https://docs.flowyard.dev/nodes/http.request",
)
