"""Credentials for the generic HTTP step: none, basic, bearer, an API key header, or OAuth 2 client
credentials (the token is fetched from the token URL and reused until it expires).

`http.request` gains these when its config names a connection (see `auth_headers`)."""

from __future__ import annotations

import base64
import time
from typing import ClassVar, Literal

import httpx
from pydantic import Field, SecretStr, model_validator

from blocks.base import ActionContext, IntegrationBlock
from blocks.runtime import integration_settings
from blocks.webcall import status_error, unreachable

DOCS = "https://docs.flowyard.dev/integrations/http"
_tokens: dict[str, tuple[float, str]] = {}  # block name -> (expires at, monotonic; token)

REQUIRED = {
    "basic": ("username", "password"),
    "bearer": ("token",),
    "api_key": ("header_name", "api_key"),
    "oauth2_client_credentials": ("token_url", "client_id", "client_secret"),
}


class HttpAuthConnection(IntegrationBlock):
    """How the HTTP step authenticates to one API."""

    _block_type_name = "Flowyard HTTP credentials"
    _block_type_slug = "flowyard-http"
    _documentation_url = DOCS
    _description = "Credentials the HTTP step sends, for one Flowyard tenant (sealed with the tenant's key)."
    slug: ClassVar[str] = "http"

    auth: Literal["none", "basic", "bearer", "api_key", "oauth2_client_credentials"] = Field(
        description="How requests authenticate.")
    username: str | None = Field(default=None, description="User name (basic).")
    password: SecretStr | None = Field(default=None, description="Password (basic).")
    token: SecretStr | None = Field(default=None, description="Bearer token (bearer).")
    header_name: str | None = Field(default=None, description="Header that carries the key, e.g. X-API-Key (api_key).")
    api_key: SecretStr | None = Field(default=None, description="The key (api_key).")
    token_url: str | None = Field(default=None, description="Token endpoint (oauth2_client_credentials).")
    client_id: str | None = Field(default=None, description="Client id (oauth2_client_credentials).")
    client_secret: SecretStr | None = Field(default=None, description="Client secret (oauth2_client_credentials).")
    scope: str | None = Field(default=None, description="Scopes to ask for, space-separated (oauth2_client_credentials).")

    @model_validator(mode="after")
    def _complete(self) -> "HttpAuthConnection":
        missing = [name for name in REQUIRED.get(self.auth, ()) if getattr(self, name) in (None, "")]
        if missing:
            raise ValueError(f"auth '{self.auth}' needs {', '.join(missing)}")
        return self

    async def headers(self) -> dict[str, str]:
        if self.auth == "basic":
            pair = f"{self.username}:{self.reveal('password')}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        if self.auth == "bearer":
            return {"Authorization": f"Bearer {self.reveal('token')}"}
        if self.auth == "api_key":
            return {self.header_name: self.reveal("api_key")}
        if self.auth == "oauth2_client_credentials":
            return {"Authorization": f"Bearer {await self._client_token()}"}
        return {}

    async def _client_token(self) -> str:
        cached = _tokens.get(self._sealed_as)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        form = {"grant_type": "client_credentials", **({"scope": self.scope} if self.scope else {})}
        try:
            async with httpx.AsyncClient(timeout=integration_settings().timeout_seconds) as client:
                response = await client.post(self.token_url, data=form, auth=(self.client_id, self.reveal("client_secret")))
        except httpx.TransportError as exc:
            raise unreachable("the token endpoint", "get an access token", exc) from None
        if response.status_code != 200:
            raise status_error("The token endpoint", "issue an access token", response.status_code, response.text,
                               headers=response.headers, hints={400: "Check the client id, secret and scope.",
                                                                401: "Check the client id and secret."})
        body = response.json()
        lifetime = float(body.get("expires_in") or 300)
        _tokens[self._sealed_as] = (time.monotonic() + max(lifetime - 30, 0), body["access_token"])
        return body["access_token"]

    async def test_connection(self) -> str:
        await self.headers()
        if self.auth == "oauth2_client_credentials":
            return "The token endpoint issued an access token."
        return "The credentials are stored; they are checked by the API on the first request."


async def auth_headers(ctx: ActionContext, connection_id: str) -> dict[str, str]:
    """Headers for an http.request step whose config names a connection (the tenant is checked)."""
    from blocks.connections import load_for_step, throttle

    block, tenant_slug = await load_for_step(ctx, connection_id, HttpAuthConnection)
    await throttle(tenant_slug, "http")
    return await block.headers()
