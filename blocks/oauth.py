"""OAuth 2 authorisation code grant with PKCE (RFC 7636), and token refresh.

The platform API starts a grant (`authorize_url`) and finishes it at its callback (`exchange_code`);
the worker refreshes an expiring access token (`refresh`) and persists the new tokens in the block.
Token requests go through the egress policy (core.egress) like every other outbound call.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from blocks.runtime import integration_settings, settings
from blocks.webcall import status_error, unreachable
from core import egress
from core.errors import ErrorKind, Permanent, StepFailure


@dataclass(frozen=True)
class OAuthSpec:
    service: str
    authorize_url: Callable[[], str]
    token_url: Callable[[], str]
    scopes: str
    pkce: bool = True


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    scope: str | None


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)[:96]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def authorize_url(spec: OAuthSpec, *, client_id: str, redirect_uri: str, state: str, challenge: str) -> str:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": spec.scopes,
        "state": state,
    }
    if spec.pkce:
        query |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    return f"{spec.authorize_url()}?{urlencode(query)}"


def _token_request(spec: OAuthSpec, client_id: str, client_secret: str | None, form: dict[str, str]) -> Tokens:
    # confidential clients use Basic auth
    auth = httpx.BasicAuth(client_id, client_secret) if client_secret else httpx.USE_CLIENT_DEFAULT
    if not client_secret:
        form = {**form, "client_id": client_id}
    try:
        policy = egress.policy_for(settings())
        with egress.client(policy, timeout=integration_settings().timeout_seconds) as client:
            response = client.post(spec.token_url(), data=form, auth=auth)
    except httpx.TransportError as exc:
        raise unreachable(spec.service, "get an access token", exc) from None
    body: dict[str, Any] = (
        response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    )
    if response.status_code != 200:
        said = body.get("error_description") or body.get("error") or response.text
        error = status_error(
            spec.service,
            "get an access token",
            response.status_code,
            said,
            headers=response.headers,
            hints={
                400: f"Reconnect the {spec.service} account in Settings → Connections.",
                401: f"Check the client id and secret of the {spec.service} app.",
            },
        )
        raise error
    expires_in = body.get("expires_in")
    expires_at = datetime.now(UTC) + timedelta(seconds=int(expires_in)) if expires_in else None
    return Tokens(body["access_token"], body.get("refresh_token"), expires_at, body.get("scope"))


def exchange_code(
    spec: OAuthSpec, *, client_id: str, client_secret: str | None, code: str, verifier: str, redirect_uri: str
) -> Tokens:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if spec.pkce:
        form["code_verifier"] = verifier
    return _token_request(spec, client_id, client_secret, form)


def refresh(spec: OAuthSpec, *, client_id: str, client_secret: str | None, refresh_token: str) -> Tokens:
    tokens = _token_request(
        spec, client_id, client_secret, {"grant_type": "refresh_token", "refresh_token": refresh_token}
    )
    if tokens.refresh_token is None:  # no rotation: keep the one we have
        tokens = Tokens(tokens.access_token, refresh_token, tokens.expires_at, tokens.scope)
    return tokens


def expired_error(service: str) -> StepFailure:
    return Permanent(
        f"The {service} connection's access has expired and cannot be renewed.",
        hint=f"Reconnect the {service} account in Settings → Connections (Connect button).",
        kind=ErrorKind.AUTH,
    )
