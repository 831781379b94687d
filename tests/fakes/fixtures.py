"""The session's fakes, and the settings that point Flowyard (and the worker of `flowyard up`) at them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.fakes.mastodon import FakeMastodon
from tests.fakes.sendgrid import FakeSendGrid
from tests.fakes.twilio import FakeTwilio
from tests.fakes.x import FakeX

TIMEOUT_SECONDS = 10  # what Flowyard (in `flowyard up`) waits for a service; a longer Delay is a timeout
EGRESS_ALLOW = '["127.0.0.1/32"]'  # FLOWYARD_EGRESS__ALLOW of the tests: the local fakes and test servers


@dataclass
class FakeServices:
    sendgrid: FakeSendGrid
    twilio: FakeTwilio
    x: FakeX
    mastodon: FakeMastodon

    @property
    def env(self) -> dict[str, str]:
        return {
            "FLOWYARD_INTEGRATIONS__SENDGRID_BASE_URL": self.sendgrid.url,
            "FLOWYARD_INTEGRATIONS__TWILIO_BASE_URL": self.twilio.url,
            "FLOWYARD_INTEGRATIONS__X_API_BASE_URL": self.x.url,
            "FLOWYARD_INTEGRATIONS__X_AUTHORIZE_URL": self.x.url + "/i/oauth2/authorize",
            "FLOWYARD_INTEGRATIONS__TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
            "NO_PROXY": "127.0.0.1,localhost",
            # the fakes listen on 127.0.0.1: reachable only through the egress allow-list (own services stay refused)
            "FLOWYARD_EGRESS__ALLOW": EGRESS_ALLOW,
        }


@pytest.fixture(scope="session")
def fake_services() -> Iterator[FakeServices]:
    fakes = FakeServices(FakeSendGrid().start(), FakeTwilio().start(), FakeX().start(), FakeMastodon().start())
    yield fakes
    for fake in (fakes.sendgrid, fakes.twilio, fakes.x, fakes.mastodon):
        fake.stop()
