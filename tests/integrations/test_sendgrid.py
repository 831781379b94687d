"""email.sendgrid against the SendGrid fake, through the official SDK (no mocks)."""

from __future__ import annotations

import base64
import uuid

import pytest

from blocks.execute import run_action
from blocks.sendgrid import SEND_EMAIL, SendEmailInput, SendGridConnection
from core.errors import StepFailure
from tests.fakes.base import Delay, Response
from tests.fakes.sendgrid import errors, rate_limited
from tests.integrations.conftest import SLOWER_THAN_TIMEOUT


@pytest.fixture
def sendgrid(acme, fake_services):
    key = fake_services.sendgrid.add_key()
    return acme.connection(
        SendGridConnection,
        "Marketing",
        secrets={"api_key": key},
        from_email="shop@acme-shop.com",
        from_name="Acme Shop",
    )


def email(**fields) -> SendEmailInput:
    return SendEmailInput.model_validate({"subject": "Welcome", "text": "Hello!", **fields})


def unique(local: str) -> str:
    """An address no other test (or backend leg) uses: the fakes live for the whole session."""
    return f"{local}-{uuid.uuid4().hex[:8]}@example.com"


def to_address(request, address):
    return address in request.text()


async def test_sends_one_email_with_everything(acme, sendgrid, fake_services):
    ctx, ada, bob = acme.ctx(), unique("ada"), unique("bob")
    data = email(
        to=f"{ada}, {bob}",
        cc=[unique("cy")],
        bcc="dee@example.com",
        html="<p>Hello!</p>",
        categories=["welcome"],
        reply_to="help@acme-shop.com",
    )
    output = await run_action(SEND_EMAIL, ctx, sendgrid.connection_id, data)
    assert output["status_code"] == 202 and output["message_id"] and output["sandbox"] is False
    assert output["recipients"] == 4
    [mail] = fake_services.sendgrid.delivered_to(ada)
    assert mail["from"] == {"email": "shop@acme-shop.com", "name": "Acme Shop"}
    assert [t["email"] for t in mail["personalizations"][0]["to"]] == [ada, bob]
    assert mail["personalizations"][0]["bcc"] == [{"email": "dee@example.com"}]
    assert mail["content"] == [
        {"type": "text/plain", "value": "Hello!"},
        {"type": "text/html", "value": "<p>Hello!</p>"},
    ]
    assert mail["categories"] == ["welcome"] and mail["reply_to"] == {"email": "help@acme-shop.com"}
    assert mail["custom_args"] == {"flowyard_idempotency_key": ctx.idempotency_key}


async def test_dynamic_template(acme, sendgrid, fake_services):
    tpl = unique("tpl")
    data = SendEmailInput(to=[tpl], template_id="d-123", template_data={"first_name": "Ada"})
    await run_action(SEND_EMAIL, acme.ctx(), sendgrid.connection_id, data)
    [mail] = fake_services.sendgrid.delivered_to(tpl)
    assert mail["template_id"] == "d-123" and "content" not in mail
    assert mail["personalizations"][0]["dynamic_template_data"] == {"first_name": "Ada"}


async def test_test_mode_uses_sandbox_and_records_the_request(acme, sendgrid, fake_services):
    sand = unique("sand")
    output = await run_action(SEND_EMAIL, acme.ctx(mode="test"), sendgrid.connection_id, email(to=sand))
    assert output["sandbox"] is True and output["status_code"] == 200
    assert fake_services.sendgrid.delivered_to(sand) == []
    assert fake_services.sendgrid.sandboxed[-1]["mail_settings"] == {"sandbox_mode": {"enable": True}}
    assert output["debug"]["request"]["json"]["personalizations"][0]["to"] == [{"email": sand}]
    assert "authorization" not in str(output["debug"]).lower()


async def test_a_retry_of_the_same_step_does_not_send_twice(acme, sendgrid, fake_services):
    ctx, once = acme.ctx(), unique("once")
    first = await run_action(SEND_EMAIL, ctx, sendgrid.connection_id, email(to=once))
    again = await run_action(SEND_EMAIL, ctx, sendgrid.connection_id, email(to=once))
    assert again == first
    assert len(fake_services.sendgrid.delivered_to(once)) == 1


async def test_wrong_key_fails_at_once_with_what_to_do(acme, fake_services):
    block = acme.connection(
        SendGridConnection, "Stale", secrets={"api_key": "SG.revoked.key"}, from_email="a@acme-shop.com"
    )
    with pytest.raises(StepFailure) as caught:
        await run_action(SEND_EMAIL, acme.ctx(), block.connection_id, email(to="x@example.com"))
    error = caught.value
    assert not error.retryable
    assert error.message.startswith("SendGrid rejected the API key (401): The provided authorization grant is invalid")
    assert "Mail Send permission" in error.hint
    assert error.as_dict()["kind"] == "auth" and error.as_dict()["docs_url"] == "/help/errors/auth/"
    with pytest.raises(StepFailure) as tested:
        await block.test_connection()
    assert "rejected the API key (401)" in tested.value.message


async def test_key_without_mail_send(acme, fake_services):
    key = fake_services.sendgrid.add_key(scopes=("stats.read",))
    block = acme.connection(SendGridConnection, "Stats", secrets={"api_key": key}, from_email="a@acme-shop.com")
    with pytest.raises(StepFailure) as tested:
        await block.test_connection()
    assert "lacks the Mail Send permission" in tested.value.message
    with pytest.raises(StepFailure) as caught:
        await run_action(SEND_EMAIL, acme.ctx(), block.connection_id, email(to="x@example.com"))
    assert "(403): access forbidden" in caught.value.message and "Mail Send" in caught.value.hint
    assert caught.value.kind == "permission"


async def test_connection_test_passes(sendgrid):
    assert "may send email as shop@acme-shop.com" in await sendgrid.test_connection()


def test_bad_addresses_and_missing_content_are_named_before_any_call():
    with pytest.raises(ValueError, match="'not-an-email' is not a valid email address"):
        email(to="not-an-email")
    with pytest.raises(ValueError, match="give a subject and a text or html body"):
        SendEmailInput(to=["a@example.com"])
    with pytest.raises(ValueError, match="a@example.com appears more than once"):
        email(to="a@example.com", cc="A@example.com")
    with pytest.raises(ValueError, match="required field 'to' is empty"):
        SendEmailInput.model_validate({"to": "", "subject": "s", "text": "t"})


async def test_oversized_attachment_fails_before_sending(acme, sendgrid, fake_services):
    big = base64.b64encode(b"\0" * (23 * 1024 * 1024)).decode()  # 23 MB -> ~31 MB as base64
    before = len(fake_services.sendgrid.requests)
    with pytest.raises(StepFailure) as caught:
        await run_action(
            SEND_EMAIL,
            acme.ctx(),
            sendgrid.connection_id,
            email(to="big@example.com", attachments=[{"filename": "a.bin", "content": big}]),
        )
    assert "SendGrid accepts at most 30 MB" in caught.value.message and not caught.value.retryable
    assert "smaller files" in caught.value.hint
    assert len(fake_services.sendgrid.requests) == before


async def test_429_is_retryable_after_retry_after(acme, sendgrid, fake_services):
    busy = unique("busy")
    fake_services.sendgrid.script(lambda r: to_address(r, busy), rate_limited(retry_after=2))
    ctx = acme.ctx()
    with pytest.raises(StepFailure) as caught:
        await run_action(SEND_EMAIL, ctx, sendgrid.connection_id, email(to=busy))
    assert caught.value.retryable and caught.value.retry_after == 2
    assert "(429): too many requests" in caught.value.message and caught.value.kind == "rate_limited"
    await run_action(SEND_EMAIL, ctx, sendgrid.connection_id, email(to=busy))  # the retry
    assert len(fake_services.sendgrid.delivered_to(busy)) == 1


async def test_429_without_retry_after_uses_the_reset_header(acme, sendgrid, fake_services):
    reset = unique("reset")
    fake_services.sendgrid.script(lambda r: to_address(r, reset), rate_limited())
    with pytest.raises(StepFailure) as caught:
        await run_action(SEND_EMAIL, acme.ctx(), sendgrid.connection_id, email(to=reset))
    assert caught.value.retryable and 0 <= caught.value.retry_after <= 2


async def test_server_errors_are_retryable(acme, sendgrid, fake_services):
    down = unique("down")
    fake_services.sendgrid.script(
        lambda r: to_address(r, down), errors(500, "internal error"), Response(503, {}, b"Service Unavailable")
    )
    for expected in ("(500): internal error", "(503): Service Unavailable"):
        with pytest.raises(StepFailure) as caught:
            await run_action(SEND_EMAIL, acme.ctx(), sendgrid.connection_id, email(to=down))
        assert caught.value.retryable and expected in caught.value.message
    assert fake_services.sendgrid.delivered_to(down) == []


async def test_a_timed_out_answer_is_not_retried_so_nothing_is_sent_twice(acme, sendgrid, fake_services):
    slow = unique("slow")
    fake_services.sendgrid.script(lambda r: to_address(r, slow), Delay(SLOWER_THAN_TIMEOUT))
    ctx = acme.ctx()
    with pytest.raises(StepFailure) as caught:
        await run_action(SEND_EMAIL, ctx, sendgrid.connection_id, email(to=slow))
    assert not caught.value.retryable and "did not answer in time" in caught.value.message
    with pytest.raises(StepFailure) as again:  # a replay of the step refuses to send again
        await run_action(SEND_EMAIL, ctx, sendgrid.connection_id, email(to=slow))
    assert "may already have reached the service" in again.value.message
    assert len(fake_services.sendgrid.received(lambda r: to_address(r, slow))) == 1


async def test_unreachable_service_is_retryable(acme, sendgrid, monkeypatch):
    from core.settings import get_settings
    from tests.support import free_port

    monkeypatch.setenv("FLOWYARD_INTEGRATIONS__SENDGRID_BASE_URL", f"http://127.0.0.1:{free_port()}")
    get_settings.cache_clear()
    with pytest.raises(StepFailure) as caught:
        await run_action(SEND_EMAIL, acme.ctx(), sendgrid.connection_id, email(to="nowhere@example.com"))
    assert caught.value.retryable and caught.value.message.startswith("Could not reach SendGrid")


async def test_another_tenants_connection_is_refused_at_run_time(acme, globex, sendgrid):
    with pytest.raises(StepFailure) as caught:
        await run_action(SEND_EMAIL, globex.ctx(), sendgrid.connection_id, email(to="x@example.com"))
    assert "does not exist in your workspace" in caught.value.message
