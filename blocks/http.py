"""HTTP: `http.request` calls any HTTP API, through the shared web-call helper (blocks.webcall).

A step may name an `http` connection: its credentials (none, basic, bearer, an API key header, or
OAuth 2 client credentials, whose token is fetched from the token URL and reused until it expires)
are then sent, winning over same-named headers typed in the step, and only to URLs under the
connection's base URL (redirects included), so an editor cannot send them to another host. Every call
goes through the egress policy (core.egress) in blocks.webcall. Every request but a GET carries an
Idempotency-Key that is the same for every attempt of the step (and loop item), so a server that
honours it sees a retry as a repeat: that is why a lost answer is retried here, not left uncertain.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any, ClassVar, Literal, Self

import httpx
from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

from blocks import webcall
from blocks.base import Action, ActionContext, ActionInput, IntegrationBlock
from blocks.runtime import settings
from blocks.webcall import MAX_BODY_BYTES, Reply, retryable_status, status_error, status_failure, unreachable
from core import checks, egress
from core.errors import Permanent, Retryable, StepFailure

_tokens: dict[str, tuple[float, str]] = {}  # block name -> (expires at, monotonic; token)

REQUIRED = {
    "basic": ("username", "password"),
    "bearer": ("token",),
    "api_key": ("header_name", "api_key"),
    "oauth2_client_credentials": ("token_url", "client_id", "client_secret"),
}


class HttpAuthConnection(IntegrationBlock):
    """How the HTTP step authenticates to one API."""

    slug: ClassVar[str] = "http"
    label: ClassVar[str] = "HTTP credentials"

    base_url: str | None = Field(
        pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#\s]+(/[^?#\s]*)?$",
        description="The API this connection is for: scheme, host and optional path prefix, e.g. "
        "https://api.example.com/v2. Steps using the connection can only call URLs under it.",
    )
    auth: Literal["none", "basic", "bearer", "api_key", "oauth2_client_credentials"] = Field(
        description="How requests authenticate."
    )
    username: str | None = Field(default=None, description="User name (basic).")
    password: SecretStr | None = Field(default=None, description="Password (basic).")
    token: SecretStr | None = Field(default=None, description="Bearer token (bearer).")
    header_name: str | None = Field(default=None, description="Header that carries the key, e.g. X-API-Key (api_key).")
    api_key: SecretStr | None = Field(default=None, description="The key (api_key).")
    token_url: str | None = Field(default=None, description="Token endpoint (oauth2_client_credentials).")
    client_id: str | None = Field(default=None, description="Client id (oauth2_client_credentials).")
    client_secret: SecretStr | None = Field(default=None, description="Client secret (oauth2_client_credentials).")
    scope: str | None = Field(
        default=None, description="Scopes to ask for, space-separated (oauth2_client_credentials)."
    )

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        """Connections saved before base URLs existed load without one (Prefect loads through here);
        they send nothing until one is set. New ones must name it (the field is required)."""
        if isinstance(obj, dict) and "base_url" not in obj:
            obj = {**obj, "base_url": None}
        return super().model_validate(obj, *args, **kwargs)

    @field_validator("base_url")
    @classmethod
    def _plain_base(cls, value: str | None) -> str | None:
        if value is None:
            return None
        url = httpx.URL(value)
        if url.query or url.fragment or url.userinfo:
            raise ValueError("the base URL takes no query, fragment or user:password")
        return value

    def _base(self) -> httpx.URL:
        if self.base_url is None:
            raise Permanent(
                "The HTTP connection has no base URL, so its credentials are not sent anywhere.",
                hint="Set the connection's base URL (the API it is for) in Settings → Connections.",
            )
        return httpx.URL(self.base_url)

    def check_under_base(self, url: httpx.URL) -> None:
        """A step on this connection calls only URLs under its base URL (after templates), so its
        credentials go to no other host; redirects are held to the same rule."""
        if not under_base(url, self._base()):
            raise Permanent(
                f"{url.copy_with(query=None, fragment=None)} is not under the connection's base URL "
                f"{self.base_url}, so the connection's credentials are not sent there.",
                hint="Call a URL under the connection's base URL, choose another connection, or none.",
                details={"base_url": self.base_url},
            )

    @model_validator(mode="after")
    def _complete(self) -> HttpAuthConnection:
        missing = [name for name in REQUIRED.get(self.auth, ()) if getattr(self, name) in (None, "")]
        if missing:
            raise ValueError(f"auth '{self.auth}' needs {', '.join(missing)}")
        return self

    def _given(self, name: str) -> str:
        """A field this kind of auth requires (a secret opened); `_complete` made sure it was set when saved."""
        value = self.reveal(name) if name in self.secret_fields() else getattr(self, name)
        if not value:
            raise Permanent(f"The HTTP connection has no {name}.", hint="Fill it in under Settings → Connections.")
        return str(value)

    async def headers(self) -> dict[str, str]:
        if self.auth == "basic":
            pair = f"{self._given('username')}:{self._given('password')}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        if self.auth == "bearer":
            return {"Authorization": f"Bearer {self._given('token')}"}
        if self.auth == "api_key":
            return {self._given("header_name"): self._given("api_key")}
        if self.auth == "oauth2_client_credentials":
            return {"Authorization": f"Bearer {await self._client_token()}"}
        return {}

    async def _client_token(self) -> str:
        cached = _tokens.get(self._sealed_as)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        form = {"grant_type": "client_credentials", **({"scope": self.scope} if self.scope else {})}
        try:
            reply = await webcall.send(
                "POST",
                self._given("token_url"),
                data=form,
                auth=(self._given("client_id"), self._given("client_secret")),
            )
        except httpx.TransportError as exc:
            raise unreachable("the token endpoint", "get an access token", exc) from None
        if reply.status_code != 200:
            raise status_error(
                "The token endpoint",
                "issue an access token",
                reply.status_code,
                reply.text,
                headers=reply.headers,
                hints={400: "Check the client id, secret and scope.", 401: "Check the client id and secret."},
            )
        body = reply.json()
        token = str(body["access_token"])
        lifetime = float(body.get("expires_in") or 300)
        _tokens[self._sealed_as] = (time.monotonic() + max(lifetime - 30, 0), token)
        return token

    async def test_connection(self) -> str:
        base = self._checked_base()
        await self.headers()
        if self.auth == "oauth2_client_credentials":
            return "The token endpoint issued an access token."
        return f"{base.host} may be called; the credentials are checked by the API on the first request."

    def _checked_base(self) -> httpx.URL:
        """The base URL, its host resolved and checked against the egress policy (no request sent)."""
        base = self._base()
        port = base.port or egress.default_port(base.scheme) or 443
        try:
            egress.policy_for(settings()).check_host(base.host, port)
        except OSError as exc:
            raise Permanent(
                f"The base URL's host {base.host} could not be resolved ({exc}).", hint="Check the base URL."
            ) from None
        return base


def under_base(url: httpx.URL, base: httpx.URL) -> bool:
    """Same scheme, host and port, and the path below the base's path on a segment boundary
    (/v2 admits /v2 and /v2/orders, not /v2admin); dot segments are resolved by httpx first."""
    if (url.scheme, url.host, url.port or egress.default_port(url.scheme)) != (
        base.scheme,
        base.host,
        base.port or egress.default_port(base.scheme),
    ):
        return False
    prefix = base.path.rstrip("/")
    if not prefix:
        return True
    if any(escaped in url.raw_path.lower() for escaped in (b"%2e", b"%2f", b"%5c")):
        return False  # an escaped dot or slash a server may decode to climb out of the prefix
    return url.path == prefix or url.path.startswith(prefix + "/")


# The step's config is its input, the optional connection included (in its place in the form). Numbers
# rendered from templates ({{ trigger.id }}) are fine as header or query values (ActionInput coerces them).
class HttpRequestConfig(ActionInput):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = Field(default="GET", description="HTTP method.")
    url: str = Field(
        # Spelled out rather than (?i): the UI checks this pattern with JavaScript regexes.
        pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://\S",
        description="Full http:// or https:// URL; may hold templates like https://api.example.com/orders/{{ trigger.id }}.",
    )
    connection: str | None = Field(
        default=None,
        description="Id of an http connection (GET /api/v1/connections?type=http) whose credentials are sent: "
        "basic, bearer, an API key header or OAuth 2 client credentials.",
        json_schema_extra={"x-connection-type": "http"},
    )
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


class HttpResponse(BaseModel):
    status_code: int = Field(description="The HTTP status of the answer.")
    headers: dict[str, str] = Field(description="Response headers, names in lower case.")
    body: Any = Field(description="Parsed JSON when the answer is JSON, else the text (cut at 1 MiB).")


async def call(block: HttpAuthConnection | None, data: HttpRequestConfig, ctx: ActionContext) -> dict[str, Any]:
    request = f"{data.method} {data.url}"
    headers = _headers(data, ctx)
    allowed = None
    if block is not None:  # the connection's credentials win over same-named headers typed in the step
        block.check_under_base(_url(request, data.url))
        allowed = block.check_under_base
        headers.update(await block.headers())
    reply = await _send(request, data, headers, allowed)
    if reply.truncated:
        ctx.logger.warning("%s response body cut at %d bytes", data.method, MAX_BODY_BYTES)  # the URL may hold data
    output = {
        "status_code": reply.status_code,
        "headers": {name.lower(): value for name, value in reply.headers.items()},
        "body": _decode(reply),
    }
    if data.fail_on_error_status and reply.status_code >= 400:
        raise _status_error(request, reply, output["body"])
    return output


def _headers(data: HttpRequestConfig, ctx: ActionContext) -> dict[str, str]:
    headers = dict(data.headers)
    has_key = any(name.lower() == "idempotency-key" for name in headers)
    if data.method != "GET" and not has_key:
        headers["Idempotency-Key"] = ctx.idempotency_key
    return headers


def _url(request: str, url: str) -> httpx.URL:
    try:
        return httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise Permanent(f"{request} failed: {exc}", hint="check the URL") from None


async def _send(
    request: str, data: HttpRequestConfig, headers: dict[str, str], allowed: Callable[[httpx.URL], None] | None
) -> Reply:
    try:
        return await webcall.send(
            data.method,
            data.url,
            timeout=data.timeout_seconds,
            follow_redirects=True,
            allowed=allowed,
            headers=headers,
            params=data.query or None,
            json=data.json_body,
        )
    except httpx.TimeoutException as exc:
        raise Retryable(
            f"{request} timed out after {data.timeout_seconds:g} s ({type(exc).__name__})",
            hint="the server did not answer in time; it will be retried, or raise timeout_seconds",
        ) from exc
    except (httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.TooManyRedirects) as exc:
        raise Permanent(f"{request} failed: {exc}", hint="check the URL") from exc
    except httpx.TransportError as exc:
        raise Retryable(
            f"{request} failed: could not connect ({type(exc).__name__}: {exc})",
            hint="check the URL's host name and port, and that the server is up; it will be retried",
        ) from exc


def _decode(reply: Reply) -> Any:
    if not reply.truncated and (reply.media_type == "application/json" or reply.media_type.endswith("+json")):
        try:
            return reply.json()
        except ValueError:
            pass  # a server that says JSON and sends something else: keep the text
    return reply.text


def _status_error(request: str, reply: Reply, body: Any) -> StepFailure:
    excerpt = checks.excerpt(body if isinstance(body, str) else json.dumps(body, default=str))
    message = f"{request} answered {reply.status_code} {reply.reason_phrase}" + (f": {excerpt}" if excerpt else "")
    if retryable_status(reply.status_code):
        hint = "the server is busy or failing; the step will be retried"
    else:
        hint = _STATUS_HINTS.get(
            reply.status_code, "the server rejected the request; check the URL, headers, query and body"
        )
    return status_failure(
        reply.status_code, message, hint=hint, headers=reply.headers, details={"body_excerpt": excerpt}
    )


_STATUS_HINTS = {
    400: "the server rejected the request; check the body and query parameters",
    401: "check the credentials in the Authorization header",
    403: "the credentials are not allowed to do this; check their permissions",
    404: "check the URL: the server has nothing there",
    405: "the server does not accept this method at this URL; check the method",
    422: "the server could not process the body; check its fields",
}

HTTP_REQUEST = Action(
    node_type="http.request",
    label="HTTP request",
    description="Calls an HTTP API and outputs its status, headers and body (parsed JSON or text).",
    integration=HttpAuthConnection.slug,
    input_model=HttpRequestConfig,
    output_model=HttpResponse,
    sample_output={
        "status_code": 200,
        "headers": {"content-type": "application/json"},
        "body": {"id": 1042, "status": "created"},
    },
    run=call,
    needs_connection=False,  # optional: HttpRequestConfig.connection
    side_effect=False,  # the Idempotency-Key, not the ledger, keeps a retry from being a repeat
    category="Actions",
    known_output=True,
)
HttpAuthConnection.actions = (HTTP_REQUEST,)
