"""sms.twilio against the Twilio fake, through the official SDK (no mocks)."""

from __future__ import annotations

import random

import pytest

from blocks.execute import run_action
from blocks.twilio import SEND_SMS, TEST_FROM_NUMBER, SendSmsInput, TwilioConnection
from core.errors import StepFailure
from tests.fakes.base import Delay, json_response
from tests.fakes.twilio import too_many
from tests.integrations.conftest import SLOWER_THAN_TIMEOUT


def number() -> str:
    """A mobile number no other test uses (the fake lives for the session)."""
    return f"+1415{random.randrange(10**6, 10**7)}"


@pytest.fixture
def twilio(acme, fake_services):
    live = fake_services.twilio.add_account(numbers=("+14155550100",), services=("MG" + "a" * 32,))
    test = fake_services.twilio.add_account(test=True)
    return acme.connection(
        TwilioConnection,
        "Main",
        secrets={"auth_token": live.token, "test_auth_token": test.token},
        account_sid=live.sid,
        from_number="+1 (415) 555-0100",
        test_account_sid=test.sid,
    )


def sms(**fields) -> SendSmsInput:
    return SendSmsInput.model_validate({"body": "Your order shipped", **fields})


async def test_sends_an_sms_from_the_connection_number(acme, twilio, fake_services):
    to = number()
    output = await run_action(
        SEND_SMS,
        acme.ctx(),
        twilio.connection_id,
        sms(to=to[:2] + " " + to[2:5] + "-" + to[5:], status_callback="https://acme-shop.com/status"),
    )
    assert output["sid"].startswith("SM") and output["status"] == "queued" and output["test"] is False
    [message] = fake_services.twilio.to(to)
    assert message["from"] == "+14155550100" and message["body"] == "Your order shipped"
    assert message["status_callback"] == "https://acme-shop.com/status"


async def test_mms_from_a_messaging_service(acme, twilio, fake_services):
    to = number()
    data = sms(
        to=to,
        media_urls=["https://acme-shop.com/a.png", "https://acme-shop.com/b.png"],
        messaging_service_sid="MG" + "a" * 32,
    )
    output = await run_action(SEND_SMS, acme.ctx(), twilio.connection_id, data)
    assert output["status"] == "accepted"
    [message] = fake_services.twilio.to(to)
    assert message["media_urls"] == ["https://acme-shop.com/a.png", "https://acme-shop.com/b.png"]
    assert message["messaging_service_sid"] == "MG" + "a" * 32 and message["from"] is None


async def test_test_mode_uses_test_credentials_and_the_magic_sender(acme, twilio, fake_services):
    to = number()
    output = await run_action(SEND_SMS, acme.ctx(mode="test"), twilio.connection_id, sms(to=to))
    assert output["test"] is True and output["from"] == TEST_FROM_NUMBER
    assert fake_services.twilio.to(to) == []
    assert fake_services.twilio.test_messages[-1]["to"] == to
    assert output["debug"]["response"]["status_code"] == 201


async def test_test_mode_magic_numbers_give_twilios_errors(acme, twilio):
    with pytest.raises(StepFailure) as caught:
        await run_action(SEND_SMS, acme.ctx(mode="test"), twilio.connection_id, sms(to="+15005550001"))
    error = caught.value
    assert error.message == (
        "Twilio refused to send the text message (400, error 21211): "
        "The 'To' number +15005550001 is not a valid phone number."
    )
    assert "international format" in error.hint and not error.retryable
    with pytest.raises(StepFailure) as blocked:
        await run_action(SEND_SMS, acme.ctx(mode="test"), twilio.connection_id, sms(to="+15005550004"))
    assert "error 21610" in blocked.value.message and "STOP" in blocked.value.hint


async def test_test_mode_without_test_credentials_says_what_to_add(acme, fake_services):
    live = fake_services.twilio.add_account()
    block = acme.connection(
        TwilioConnection, "NoTest", secrets={"auth_token": live.token}, account_sid=live.sid, from_number="+14155550100"
    )
    with pytest.raises(StepFailure) as caught:
        await run_action(SEND_SMS, acme.ctx(mode="test"), block.connection_id, sms(to=number()))
    assert "has none" in caught.value.message and "Test Auth Token" in caught.value.hint


async def test_wrong_token(acme, fake_services):
    live = fake_services.twilio.add_account()
    block = acme.connection(
        TwilioConnection, "Wrong", secrets={"auth_token": "0" * 32}, account_sid=live.sid, from_number="+14155550100"
    )
    with pytest.raises(StepFailure) as caught:
        await run_action(SEND_SMS, acme.ctx(), block.connection_id, sms(to=number()))
    assert caught.value.message == "Twilio rejected the Account SID or Auth Token (401, error 20003): Authenticate"
    assert "Twilio Console" in caught.value.hint and not caught.value.retryable
    with pytest.raises(StepFailure):
        await block.test_connection()


async def test_connection_test(twilio):
    assert "Twilio accepted the credentials" in await twilio.test_connection()


async def test_sender_not_owned(acme, twilio):
    with pytest.raises(StepFailure) as caught:
        await run_action(SEND_SMS, acme.ctx(), twilio.connection_id, sms(to=number(), from_number="+14155559999"))
    assert "error 21606" in caught.value.message and "SMS-capable" in caught.value.hint


def test_malformed_numbers_and_empty_messages_are_named():
    with pytest.raises(ValueError, match="'555-abc' is not a phone number in international format"):
        sms(to="555-abc")
    with pytest.raises(ValueError, match="give the message a body or at least one media URL"):
        SendSmsInput(to="+14155550123")
    assert sms(to="0044 20 7946 0958").to == "+442079460958"
    assert sms(to="whatsapp:+1 415 555 0123").to == "whatsapp:+14155550123"
    with pytest.raises(ValueError, match="start with \\+ and the country code"):
        SendSmsInput(to=14155550123, body="a number from JSON is text, without its +")


async def test_429_and_5xx_are_retryable(acme, twilio, fake_services):
    to = number()
    fake_services.twilio.script(
        lambda r: to in r.text().replace("%2B", "+"),
        too_many(),
        json_response(
            500,
            {
                "code": 20500,
                "message": "Internal Server Error",
                "more_info": "https://www.twilio.com/docs/errors/20500",
                "status": 500,
            },
        ),
    )
    for expected in ("(429, error 20429): Too Many Requests", "(500, error 20500): Internal Server Error"):
        with pytest.raises(StepFailure) as caught:
            await run_action(SEND_SMS, acme.ctx(), twilio.connection_id, sms(to=to))
        assert caught.value.retryable and expected in caught.value.message
    await run_action(SEND_SMS, acme.ctx(), twilio.connection_id, sms(to=to))
    assert len(fake_services.twilio.to(to)) == 1


async def test_timeout_is_not_retried_and_sends_once(acme, twilio, fake_services):
    to = number()
    fake_services.twilio.script(lambda r: to in r.text().replace("%2B", "+"), Delay(SLOWER_THAN_TIMEOUT))
    ctx = acme.ctx()
    with pytest.raises(StepFailure) as caught:
        await run_action(SEND_SMS, ctx, twilio.connection_id, sms(to=to))
    assert not caught.value.retryable and "did not answer" in caught.value.message
    with pytest.raises(StepFailure) as again:  # a replay of the step does not send again
        await run_action(SEND_SMS, ctx, twilio.connection_id, sms(to=to))
    assert "may already have reached the service" in again.value.message
    assert len(fake_services.twilio.received(lambda r: to in r.text().replace("%2B", "+"))) == 1
