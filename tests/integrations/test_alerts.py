"""notify_step_failed: a notification for each owner and admin, once; an email when configured."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import select

from blocks.sendgrid import SendGridConnection
from core.settings import get_settings
from notifications.alerts import notify_step_failed
from store import Connection, Execution, Membership, Notification, User, Workflow
from tests.fakes.base import Delay
from tests.integrations.conftest import SLOWER_THAN_TIMEOUT


def _people_and_run(handle) -> tuple[str, list[str]]:
    emails = [f"{role}-{uuid.uuid4().hex[:6]}@example.com" for role in ("owner", "admin", "viewer")]
    with handle.sessions().begin() as db:
        for email, role in zip(emails, ("owner", "admin", "viewer"), strict=True):
            user = User(email=email, password_hash="x")
            db.add(user)
            db.flush()
            db.add(Membership(tenant_id=handle.id, user_id=user.id, role=role))
        workflow = Workflow(tenant_id=handle.id, name="New lead", slug=f"new-lead-{uuid.uuid4().hex[:4]}")
        db.add(workflow)
        db.flush()
        execution = Execution(
            tenant_id=handle.id,
            workflow_id=workflow.id,
            version=1,
            mode="live",
            deployment_id=str(uuid.uuid4()),
            status="running",
            input={},
        )
        db.add(execution)
        db.flush()
        return execution.id, emails


async def test_admins_are_notified_once_and_emailed(acme, fake_services):
    execution_id, (owner, admin, viewer) = _people_and_run(acme)
    block = acme.connection(
        SendGridConnection,
        "Alerts",
        secrets={"api_key": fake_services.sendgrid.add_key()},
        from_email="alerts@acme-shop.com",
    )
    with acme.sessions().begin() as db:
        db.get(Connection, block.connection_id).use_for_alerts = True
    error = {"message": "Twilio could not send the text message just now (500)", "hint": "Twilio is failing."}
    for _ in range(2):
        await notify_step_failed(tenant_id=acme.id, execution_id=execution_id, node_id="send_sms", error=error)
    with acme.sessions()() as db:
        rows = db.execute(
            select(Notification, User.email)
            .join(User, User.id == Notification.user_id)
            .where(Notification.tenant_id == acme.id)
        ).all()
    assert sorted(email for _, email in rows) == sorted([owner, admin])
    note = rows[0][0]
    assert note.title == "'New lead' failed at step 'send_sms'" and "Twilio is failing." in note.body
    assert note.data["execution_id"] == execution_id and note.kind == "step_failed"
    [mail] = fake_services.sendgrid.delivered_to(owner)
    assert {t["email"] for t in mail["personalizations"][0]["to"]} == {owner, admin}
    assert mail["subject"] == "Flowyard: 'New lead' failed at step 'send_sms'"


def _alert_logs(caplog, execution_id: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "flowyard.alerts" and execution_id in r.getMessage()]


async def test_alerting_never_raises_when_the_email_connection_breaks_and_keeps_the_notifications(
    acme, fake_services, caplog
):
    execution_id, (owner, admin, _) = _people_and_run(acme)
    block = acme.connection(
        SendGridConnection,
        "Alerts",
        secrets={"api_key": fake_services.sendgrid.add_key()},
        from_email="alerts@acme-shop.com",
    )
    with acme.sessions().begin() as db:
        db.get(Connection, block.connection_id).use_for_alerts = True
    fake_services.sendgrid.script(lambda r: owner in r.text(), Delay(SLOWER_THAN_TIMEOUT))  # no answer in time

    with caplog.at_level(logging.WARNING, logger="flowyard.alerts"):
        await notify_step_failed(
            tenant_id=acme.id, execution_id=execution_id, node_id="send_sms", error={"message": "Twilio is down"}
        )

    with acme.sessions()() as db:
        rows = db.execute(select(User.email, Notification.data).join(Notification, Notification.user_id == User.id))
        notified = [email for email, data in rows if data["execution_id"] == execution_id]  # data is sealed
    assert sorted(notified) == sorted([owner, admin])  # recorded before the email was tried
    assert fake_services.sendgrid.delivered_to(owner) == []
    [logged] = _alert_logs(caplog, execution_id)
    assert logged.levelno == logging.WARNING and "not sent" in logged.getMessage()


async def test_alerting_never_raises_when_the_database_refuses_and_says_so_in_the_log(acme, monkeypatch, caplog):
    execution_id = str(uuid.uuid4())
    monkeypatch.setenv("FLOWYARD_DATABASE_URL", "postgresql://flowyard@127.0.0.1:9/nowhere")  # nothing listens
    get_settings.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="flowyard.alerts"):
            await notify_step_failed(tenant_id=acme.id, execution_id=execution_id, node_id="x", error=None)
    finally:
        monkeypatch.setenv("FLOWYARD_DATABASE_URL", acme.db_url)
        get_settings.cache_clear()

    [logged] = _alert_logs(caplog, execution_id)
    assert logged.levelno == logging.ERROR and "step x" in logged.getMessage()
    assert "OperationalError" in logged.getMessage() and logged.exc_info is None  # the class, not its text
