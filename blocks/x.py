"""X (Twitter) API v2: create a post as a user, connected with OAuth 2 authorisation code + PKCE.

Access tokens last two hours; the block refreshes one that expires within a minute (or that X
rejects) with the refresh token (scope offline.access) and saves the new tokens in the block.
X has no idempotency key and rejects duplicate text: the ledger keeps a retry from posting twice.
Test runs publish nothing.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pydantic import BaseModel, Field, SecretStr

from blocks import oauth
from blocks.base import Action, ActionContext, ActionInput, IntegrationBlock
from blocks.runtime import integration_settings
from blocks.webcall import Reply, request, status_error
from core.errors import Permanent

MAX_CHARS = 280
REFRESH_MARGIN = timedelta(seconds=60)
_refresh_locks: dict[str, asyncio.Lock] = {}

SPEC = oauth.OAuthSpec(
    service="X",
    authorize_url=lambda: integration_settings().x_authorize_url,
    token_url=lambda: integration_settings().x_api_base_url.rstrip("/") + "/2/oauth2/token",
    scopes="tweet.read tweet.write users.read offline.access",
)
_HINTS = {
    401: "Reconnect the X account in Settings → Connections (Connect button).",
    403: "X refused this post; change the text (X refuses duplicates) or check the app's permissions (Read and write).",
}


class XConnection(IntegrationBlock):
    """An X account that granted the Flowyard app 'tweet.write' through OAuth 2 (PKCE)."""

    slug: ClassVar[str] = "x"
    label: ClassVar[str] = "X"
    oauth_spec: ClassVar[oauth.OAuthSpec] = SPEC

    client_id: str = Field(
        min_length=1, description="OAuth 2.0 Client ID of your X app (developer portal → Keys and tokens)."
    )
    client_secret: SecretStr | None = Field(default=None, description="Client Secret, for confidential X apps.")
    access_token: SecretStr | None = Field(default=None, description="User access token; set by Connect.")
    refresh_token: SecretStr | None = Field(default=None, description="Refresh token (offline.access); set by Connect.")
    expires_at: datetime | None = Field(default=None, description="When the access token expires.")
    username: str | None = Field(default=None, description="The connected account, filled by the connection test.")

    def store_tokens(self, tokens: oauth.Tokens) -> None:
        self.set_secret("access_token", tokens.access_token)
        self.set_secret("refresh_token", tokens.refresh_token)
        self.expires_at = tokens.expires_at

    async def token(self, *, force_refresh: bool = False) -> str:
        """A valid access token, refreshed (and the block saved) when it is about to expire."""
        from blocks.connections import persist_block

        current = self._access_token()
        expiring = self.expires_at is not None and self.expires_at - REFRESH_MARGIN <= datetime.now(UTC)
        if not (expiring or force_refresh):
            return current
        async with _refresh_locks.setdefault(self._sealed_as, asyncio.Lock()):
            if self.expires_at and self.expires_at - REFRESH_MARGIN > datetime.now(UTC) and not force_refresh:
                return self._access_token()  # refreshed meanwhile by another execution
            refresh_token = self.reveal("refresh_token")
            if not refresh_token:
                raise oauth.expired_error("X")
            tokens = await asyncio.to_thread(
                oauth.refresh,
                SPEC,
                client_id=self.client_id,
                client_secret=self.reveal("client_secret"),
                refresh_token=refresh_token,
            )
            self.store_tokens(tokens)
            await persist_block(self)
            return tokens.access_token

    def _access_token(self) -> str:
        token = self.reveal("access_token")
        if not token:
            raise Permanent(
                "The X connection is not connected to an account yet.",
                hint="Press Connect on the connection in Settings → Connections.",
            )
        return token

    async def _call(self, method: str, path: str, doing: str, **kwargs: Any) -> Reply:
        url = integration_settings().x_api_base_url.rstrip("/") + path

        async def send(force_refresh: bool) -> Reply:
            headers = {"Authorization": f"Bearer {await self.token(force_refresh=force_refresh)}"}
            return await request("X", doing, method, url, idempotent=False, headers=headers, **kwargs)

        response = await send(force_refresh=False)
        if response.status_code == 401 and self.refresh_token is not None:
            response = await send(force_refresh=True)  # a 401 means X did not act: refresh once and try again
        if response.status_code >= 400:
            raise status_error(
                "X",
                doing,
                response.status_code,
                _said(response),
                headers=response.headers,
                hints=_HINTS,
                details={"body": _json(response)},
            )
        return response

    async def test_connection(self) -> str:
        response = await self._call("GET", "/2/users/me", "check the account")
        self.username = (_json(response).get("data") or {}).get("username")
        return f"X accepted the connection; posts will be made as @{self.username}."


def _json(response: Reply) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _said(response: Reply) -> str:
    body = _json(response)
    if body.get("detail") or body.get("title"):
        return str(body.get("detail") or body.get("title"))
    errors = body.get("errors") or []
    return "; ".join(str(e.get("message")) for e in errors if isinstance(e, dict)) or response.text


class PostInput(ActionInput):
    text: str = Field(max_length=MAX_CHARS, description="The post (280 characters at most).")
    reply_to_id: str | None = Field(default=None, description="Id of a post to reply to.")


class PostOutput(BaseModel):
    id: str | None = Field(description="The new post's id (none in test runs).")
    text: str = Field(description="The text posted.")
    url: str | None = Field(description="Link to the post.")
    published: bool = Field(description="False in test runs: nothing was posted.")


async def post(block: XConnection, data: PostInput, ctx: ActionContext) -> dict[str, Any]:
    body: dict[str, Any] = {"text": data.text}
    if data.reply_to_id:
        body["reply"] = {"in_reply_to_tweet_id": data.reply_to_id}
    if ctx.test_mode:
        return {
            "id": None,
            "text": data.text,
            "url": None,
            "published": False,
            "debug": {"request": {"method": "POST", "path": "/2/tweets", "json": body}, "response": None},
        }
    response = await block._call("POST", "/2/tweets", "publish the post", json=body)
    created = _json(response).get("data") or {}
    post_id = created.get("id")
    return {
        "id": post_id,
        "text": created.get("text", data.text),
        "url": f"https://x.com/i/web/status/{post_id}" if post_id else None,
        "published": True,
    }


POST = Action(
    node_type="social.x.post",
    effect="post",
    label="Post on X",
    description="Publishes a post (or a reply) on the connected X account. Test runs publish nothing.",
    integration="x",
    input_model=PostInput,
    output_model=PostOutput,
    sample_output={
        "id": "1445880548472328192",
        "text": "Our spring sale starts today!",
        "url": "https://x.com/i/web/status/1445880548472328192",
        "published": True,
    },
    run=post,
)
XConnection.actions = (POST,)
