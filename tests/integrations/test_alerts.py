"""notify_step_failed: a notification for each owner and admin, once; an email when configured."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from blocks.sendgrid import SendGridConnection
from notifications.alerts import notify_step_failed
from store import Connection, Execution, Membership, Notification, User, Workflow


def _people_and_run(handle) -> tuple[str, list[str]]:
    emails = [f"{role}-{uuid.uuid4().hex[:6]}@example.com" for role in ("owner", "admin", "viewer")]
    with handle.sessions().begin() as db:
        for email, role in zip(emails, ("owner", "admin", "viewer")):
            user = User(email=email, password_hash="x")
            db.add(user)
            db.flush()
            db.add(Membership(tenant_id=handle.id, user_id=user.id, role=role))
        workflow = Workflow(tenant_id=handle.id, name="New lead", slug=f"new-lead-{uuid.uuid4().hex[:4]}")
        db.add(workflow)
        db.flush()
        execution = Execution(tenant_id=handle.id, workflow_id=workflow.id, version=1, mode="live",
                              deployment_id=str(uuid.uuid4()), status="running", input={})
        db.add(execution)
        db.flush()
        return execution.id, emails


async def test_admins_are_notified_once_and_emailed(acme, fake_services):
    execution_id, (owner, admin, viewer) = _people_and_run(acme)
    block = acme.connection(SendGridConnection, "Alerts", secrets={"api_key": fake_services.sendgrid.add_key()},
                            from_email="alerts@acme-shop.com")
    with acme.sessions().begin() as db:
        db.get(Connection, block.connection_id).use_for_alerts = True
    error = {"message": "Twilio could not send the text message just now (500)", "hint": "Twilio is failing."}
    for _ in range(2):
        await notify_step_failed(tenant_id=acme.id, execution_id=execution_id, node_id="send_sms", error=error)
    with acme.sessions()() as db:
        rows = db.execute(select(Notification, User.email).join(User, User.id == Notification.user_id)
                          .where(Notification.tenant_id == acme.id)).all()
    assert sorted(email for _, email in rows) == sorted([owner, admin])
    note = rows[0][0]
    assert note.title == "'New lead' failed at step 'send_sms'" and "Twilio is failing." in note.body
    assert note.data["execution_id"] == execution_id and note.kind == "step_failed"
    [mail] = fake_services.sendgrid.delivered_to(owner)
    assert {t["email"] for t in mail["personalizations"][0]["to"]} == {owner, admin}
    assert mail["subject"] == "Flowyard: 'New lead' failed at step 'send_sms'"


async def test_alerting_never_raises(acme):
    await notify_step_failed(tenant_id=acme.id, execution_id=str(uuid.uuid4()), node_id="x", error=None)
    await notify_step_failed(tenant_id=str(uuid.uuid4()), execution_id=str(uuid.uuid4()), node_id="x", error={})
