"""social.x.post and social.mastodon.post against their fakes, OAuth 2 PKCE included."""

from __future__ import annotations

import uuid
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from blocks import oauth
from blocks.execute import run_action
from blocks.mastodon import POST_STATUS, MastodonConnection, StatusInput
from blocks.x import POST, SPEC, PostInput, XConnection
from core.errors import StepFailure
from tests.fakes.base import Delay
from tests.fakes.mastodon import rate_limited as mastodon_limited
from tests.fakes.x import rate_limited as x_limited
from tests.integrations.conftest import SLOWER_THAN_TIMEOUT

REDIRECT = "https://flowyard.example.com/api/v1/connections/oauth/callback"


def grant(fake_x, app, user: str, scope: str = SPEC.scopes) -> oauth.Tokens:
    """The user presses Connect: authorise (the fake approves), then trade the code, with PKCE."""
    verifier, challenge = oauth.pkce_pair()
    url = oauth.authorize_url(
        replace(SPEC, scopes=scope), client_id=app.client_id, redirect_uri=REDIRECT, state="s1", challenge=challenge
    )
    answer = httpx.get(url + f"&login_hint={user}", follow_redirects=False)
    assert answer.status_code == 302 and answer.headers["location"].startswith(REDIRECT)
    back = parse_qs(urlsplit(answer.headers["location"]).query)
    assert back["state"] == ["s1"]
    return oauth.exchange_code(
        SPEC,
        client_id=app.client_id,
        client_secret=app.client_secret,
        code=back["code"][0],
        verifier=verifier,
        redirect_uri=REDIRECT,
    )


@pytest.fixture
def x_account(acme, fake_services):
    app, user = fake_services.x.add_app(), f"shop_{uuid.uuid4().hex[:6]}"
    tokens = grant(fake_services.x, app, user)
    block = acme.connection(XConnection, "Brand", secrets={"client_secret": app.client_secret}, client_id=app.client_id)
    block.store_tokens(tokens)
    return block, user


def test_pkce_exchange_checks_the_verifier(integration_env, fake_services):
    app = fake_services.x.add_app(confidential=False)
    verifier, challenge = oauth.pkce_pair()
    url = oauth.authorize_url(SPEC, client_id=app.client_id, redirect_uri=REDIRECT, state="s", challenge=challenge)
    code = parse_qs(urlsplit(httpx.get(url).headers["location"]).query)["code"][0]
    with pytest.raises(StepFailure) as caught:
        oauth.exchange_code(
            SPEC, client_id=app.client_id, client_secret=None, code=code, verifier="wrong" * 10, redirect_uri=REDIRECT
        )
    assert "X refused to get an access token (400)" in caught.value.message
    tokens = grant(fake_services.x, app, "public_app_user")
    assert tokens.refresh_token and tokens.expires_at  # offline.access gives a refresh token
    without_offline = grant(fake_services.x, app, "u2", scope="tweet.read tweet.write users.read")
    assert without_offline.refresh_token is None


async def test_x_post_and_connection_test(acme, x_account, fake_services):
    block, user = x_account
    assert f"@{user}" in await block.test_connection()
    output = await run_action(POST, acme.ctx(), block.connection_id, PostInput(text="Spring sale starts today!"))
    assert output["published"] is True and output["id"] and output["url"].endswith(output["id"])
    assert [p["text"] for p in fake_services.x.posts_by(user)] == ["Spring sale starts today!"]


async def test_x_test_mode_publishes_nothing(acme, x_account, fake_services):
    block, user = x_account
    output = await run_action(POST, acme.ctx(mode="test"), block.connection_id, PostInput(text="Only a test"))
    assert output["published"] is False and output["debug"]["request"]["json"] == {"text": "Only a test"}
    assert fake_services.x.posts_by(user) == []


async def test_x_duplicate_fails_at_once_with_xs_words(acme, x_account):
    block, _ = x_account
    await run_action(POST, acme.ctx(), block.connection_id, PostInput(text="Same words"))
    with pytest.raises(StepFailure) as caught:
        await run_action(POST, acme.ctx(), block.connection_id, PostInput(text="Same words"))
    assert caught.value.message == (
        "X refused to publish the post (403): You are not allowed to create a Tweet with duplicate content."
    )
    assert not caught.value.retryable and "duplicates" in caught.value.hint


async def test_x_rate_limit_is_retryable_until_the_reset(acme, x_account, fake_services):
    block, user = x_account
    fake_services.x.script(lambda r: r.path == "/2/tweets" and "busy hour" in r.text(), x_limited())
    with pytest.raises(StepFailure) as caught:
        await run_action(POST, acme.ctx(), block.connection_id, PostInput(text="busy hour"))
    assert caught.value.retryable and 0 <= caught.value.retry_after <= 2
    assert "(429): Too Many Requests" in caught.value.message


async def test_x_expired_token_without_refresh_says_reconnect(acme, fake_services):
    app = fake_services.x.add_app()
    tokens = grant(fake_services.x, app, "no_offline", scope="tweet.read tweet.write users.read")
    block = acme.connection(XConnection, "Old", secrets={"client_secret": app.client_secret}, client_id=app.client_id)
    block.store_tokens(tokens)
    fake_services.x.access.clear()  # X forgot the token (expired, revoked)
    with pytest.raises(StepFailure) as caught:
        await run_action(POST, acme.ctx(), block.connection_id, PostInput(text="hello"))
    assert caught.value.message == "X rejected the credentials (401): Unauthorized"
    assert "Reconnect the X account" in caught.value.hint


def test_x_text_limit():
    with pytest.raises(ValueError, match="at most 280 characters"):
        PostInput(text="x" * 281)


@pytest.fixture
def mastodon(acme, fake_services):
    account = f"shop{uuid.uuid4().hex[:6]}"
    token = fake_services.mastodon.add_token(account)
    block = acme.connection(
        MastodonConnection, "Fedi", secrets={"access_token": token}, instance_url=fake_services.mastodon.url + "/"
    )
    return block, account


async def test_mastodon_post(acme, mastodon, fake_services):
    block, account = mastodon
    assert f"@{account}" in await block.test_connection()
    output = await run_action(
        POST_STATUS, acme.ctx(), block.connection_id, StatusInput(status="New arrivals", visibility="unlisted")
    )
    assert output["published"] and output["url"].endswith(output["id"])
    [status] = [s for s in fake_services.mastodon.statuses if s["account_name"] == account]
    assert status["visibility"] == "unlisted"


async def test_mastodon_lost_answer_is_retried_and_the_key_prevents_a_second_status(acme, mastodon, fake_services):
    block, account = mastodon
    text = f"slow day {uuid.uuid4().hex[:6]}"
    fake_services.mastodon.script(lambda r: text in r.text(), Delay(SLOWER_THAN_TIMEOUT))
    ctx = acme.ctx()
    with pytest.raises(StepFailure) as caught:
        await run_action(POST_STATUS, ctx, block.connection_id, StatusInput(status=text))
    assert caught.value.retryable  # Mastodon honours Idempotency-Key: safe to retry
    output = await run_action(POST_STATUS, ctx, block.connection_id, StatusInput(status=text))
    mine = [s for s in fake_services.mastodon.statuses if s["account_name"] == account]
    assert len(mine) == 1 and output["id"] == mine[0]["id"]
    keys = {r.headers["idempotency-key"] for r in fake_services.mastodon.received(lambda r: text in r.text())}
    assert keys == {ctx.idempotency_key}


async def test_mastodon_errors(acme, mastodon, fake_services):
    block, _ = mastodon
    fake_services.mastodon.script(lambda r: "too often" in r.text(), mastodon_limited())
    with pytest.raises(StepFailure) as limited:
        await run_action(POST_STATUS, acme.ctx(), block.connection_id, StatusInput(status="too often"))
    assert limited.value.retryable and limited.value.retry_after > 200  # the ISO-8601 reset, five minutes away
    with pytest.raises(StepFailure) as blank:
        await run_action(POST_STATUS, acme.ctx(), block.connection_id, StatusInput.model_construct(status=" "))
    assert blank.value.message == "Mastodon refused to publish the status (422): Validation failed: Text can't be blank"
    wrong = acme.connection(
        MastodonConnection, "Wrong", secrets={"access_token": "nope"}, instance_url=fake_services.mastodon.url
    )
    with pytest.raises(StepFailure) as unauthorised:
        await wrong.test_connection()
    assert unauthorised.value.message == "Mastodon rejected the credentials (401): The access token is invalid"
    assert "write:statuses" in unauthorised.value.hint


async def test_a_mastodon_instance_on_an_internal_address_is_refused(acme):
    """instance_url is the tenant's: it goes through the egress policy like any step URL."""
    block = acme.connection(
        MastodonConnection, "Metadata", secrets={"access_token": "t"}, instance_url="http://169.254.169.254"
    )
    with pytest.raises(StepFailure) as caught:
        await block.test_connection()
    assert "169.254.169.254 is a link-local address" in caught.value.message
    assert "FLOWYARD_EGRESS__ALLOW" in caught.value.message and not caught.value.retryable
