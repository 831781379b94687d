"""Mastodon: publish a status on the connected account of any instance.

Auth is the instance's OAuth access token (scope write:statuses, from Preferences → Development or
an OAuth app). Mastodon honours `Idempotency-Key` for an hour, so a retry after a lost answer is
safe: it returns the first status. Test runs check the token and publish nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator

from blocks.base import Action, ActionContext, ActionInput, IntegrationBlock
from blocks.webcall import Reply, request, status_error

_HINTS = {
    401: "Create a new access token with the write:statuses scope (Preferences → Development) and update the connection.",
    422: "Mastodon could not accept the status; check its text and options.",
}


class MastodonConnection(IntegrationBlock):
    """A Mastodon account on one instance."""

    slug: ClassVar[str] = "mastodon"
    label: ClassVar[str] = "Mastodon"

    instance_url: str = Field(
        pattern=r"^https?://[^/\s]+/?$", description="The instance, e.g. https://mastodon.social."
    )
    access_token: SecretStr = Field(description="Access token with the write:statuses and read:accounts scopes.")

    @field_validator("instance_url")
    @classmethod
    def _base(cls, value: str) -> str:
        return value.rstrip("/")

    async def _call(
        self, method: str, path: str, doing: str, *, idempotency_key: str | None = None, **kwargs: Any
    ) -> Reply:
        headers = {"Authorization": f"Bearer {self.reveal('access_token')}"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        response = await request(
            "Mastodon",
            doing,
            method,
            self.instance_url + path,
            idempotent=idempotency_key is not None,
            headers=headers,
            **kwargs,
        )
        if response.status_code >= 400:
            try:
                said = response.json().get("error", response.text)
            except ValueError:
                said = response.text
            raise status_error("Mastodon", doing, response.status_code, said, headers=response.headers, hints=_HINTS)
        return response

    async def test_connection(self) -> str:
        account = (await self._call("GET", "/api/v1/accounts/verify_credentials", "check the token")).json()
        return f"Mastodon accepted the token; statuses will be posted as @{account.get('acct')}."


class StatusInput(ActionInput):
    status: str = Field(max_length=500, description="The text of the status (500 characters on most instances).")
    visibility: Literal["public", "unlisted", "private", "direct"] = Field(default="public", description="Who sees it.")
    spoiler_text: str | None = Field(default=None, description="Content warning shown before the text.")
    sensitive: bool = Field(default=False, description="Mark attached media as sensitive.")
    language: str | None = Field(default=None, pattern=r"^[a-z]{2}$", description="ISO 639-1 language code, e.g. en.")


class StatusOutput(BaseModel):
    id: str | None = Field(description="The status id (none in test runs).")
    url: str | None = Field(description="Link to the status.")
    published: bool = Field(description="False in test runs: nothing was posted.")


async def post_status(block: MastodonConnection, data: StatusInput, ctx: ActionContext) -> dict[str, Any]:
    body = data.model_dump(exclude_none=True)
    if ctx.test_mode:
        await block.test_connection()
        return {
            "id": None,
            "url": None,
            "published": False,
            "debug": {"request": {"method": "POST", "path": "/api/v1/statuses", "json": body}, "response": None},
        }
    status = (
        await block._call(
            "POST", "/api/v1/statuses", "publish the status", json=body, idempotency_key=ctx.idempotency_key
        )
    ).json()
    return {"id": status.get("id"), "url": status.get("url"), "published": True}


POST_STATUS = Action(
    node_type="social.mastodon.post",
    effect="post",
    label="Post on Mastodon",
    description="Publishes a status on the connected Mastodon account. Test runs check the token and publish nothing.",
    integration="mastodon",
    input_model=StatusInput,
    output_model=StatusOutput,
    sample_output={"id": "109372843234", "url": "https://mastodon.social/@flowyard/109372843234", "published": True},
    run=post_status,
)
MastodonConnection.actions = (POST_STATUS,)
