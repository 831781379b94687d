"""An email went out, and the platform database went away as the idempotency ledger was to mark it done: the
ledger asks again for a few seconds, so the step replayed when its batch resumes finds it done and sends nothing,
instead of asking a person whether it went out."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import OperationalError

from blocks import ledger
from blocks.execute import run_action
from blocks.sendgrid import SEND_EMAIL, SendEmailInput, SendGridConnection
from store import SideEffectStatus


async def test_a_send_whose_done_row_meets_a_database_restart_is_found_done_by_its_replay(
    acme, fake_services, monkeypatch
):
    connection = acme.connection(
        SendGridConnection, "Marketing", secrets={"api_key": fake_services.sendgrid.add_key()}, from_email="a@acme.io"
    )
    settle, refused = ledger._settle, []

    def database_restarting(tenant_id: str, key: str, status: str | None, result) -> None:
        if status == SideEffectStatus.DONE and len(refused) < 2:
            refused.append(key)  # as psycopg says it while PostgreSQL restarts
            raise OperationalError(
                "UPDATE side_effects ...", {}, Exception("server closed the connection unexpectedly")
            )
        settle(tenant_id, key, status, result)

    monkeypatch.setattr(ledger, "_settle", database_restarting)
    monkeypatch.setattr(ledger, "DONE_WRITE_DELAYS", (0.0,) * 5)
    ctx, to = acme.ctx(), f"ada-{uuid.uuid4().hex[:8]}@example.com"
    mail = SendEmailInput.model_validate({"to": to, "subject": "Welcome", "text": "Hello!"})

    sent = await run_action(SEND_EMAIL, ctx, connection.connection_id, mail)
    replayed = await run_action(SEND_EMAIL, ctx, connection.connection_id, mail)  # the step, after its batch resumed

    assert len(refused) == 2
    assert replayed == sent and len(fake_services.sendgrid.delivered_to(to)) == 1
