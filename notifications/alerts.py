"""Alerts to a tenant's owners and admins when a step failed after its last retry: a notification
record each, and an email when the tenant marked a SendGrid connection "use for alerts" (but to those who
turned that email off in their notification preferences).
Recorded once per execution and node (the ledger key `alert-<execution>-<node>`)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from blocks.base import ActionContext
from blocks.runtime import platform_sessions
from blocks.sendgrid import SEND_EMAIL, SendEmailInput, SendGridConnection
from core.errors import StepFailure
from core.payload_free import failure_class
from store import (
    Alert,
    AlertStatus,
    Connection,
    Execution,
    ExecutionMode,
    Membership,
    Notification,
    Role,
    SideEffect,
    SideEffectStatus,
    User,
    Workflow,
    emails_muted_by,
)
from store.sealed import sealing_for

log = logging.getLogger("flowyard.alerts")
ALERT_ROLES = (Role.OWNER, Role.ADMIN)


async def notify_step_failed(*, tenant_id: str, execution_id: str, node_id: str, error: dict[str, Any] | None) -> None:
    """Call after a step's last attempt failed. Never raises: a failing alert must not fail the run."""
    try:
        alert = await asyncio.to_thread(_record, tenant_id, execution_id, node_id, error or {})
        if alert and alert["connection_id"] and alert["emails"]:
            await _email(tenant_id, execution_id, node_id, alert)
    except Exception as exc:  # its text may quote the error (the run's data): class and kind only
        log.error("could not alert about execution %s step %s: %s", execution_id, node_id, failure_class(exc))


def _record(tenant_id: str, execution_id: str, node_id: str, error: dict[str, Any]) -> dict[str, Any] | None:
    try:
        with platform_sessions().begin() as db:
            db.add(
                SideEffect(
                    tenant_id=tenant_id,
                    key=f"alert-{execution_id}-{node_id}",
                    action="alert",
                    status=SideEffectStatus.DONE,
                )
            )
            db.flush()
            workflow = (
                db.scalar(
                    select(Workflow.name)
                    .join(Execution, Execution.workflow_id == Workflow.id)
                    .where(Execution.id == execution_id, Execution.tenant_id == tenant_id)
                )
                or "a workflow"
            )
            admins = db.execute(
                select(User.id, User.email)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.tenant_id == tenant_id, Membership.role.in_(ALERT_ROLES))
            ).all()
            title = f"'{workflow}' failed at step '{node_id}'"
            body = f"{error.get('message') or 'The step failed.'}" + (
                f"\nWhat to do: {error['hint']}" if error.get("hint") else ""
            )
            data = {"execution_id": execution_id, "node_id": node_id, "error": error}
            db.add_all(
                Notification(
                    tenant_id=tenant_id, user_id=user_id, kind="step_failed", title=title, body=body, data=data
                )
                for user_id, _ in admins
            )
            muted = emails_muted_by(db, tenant_id, "step_failed")  # their notification stays; no email
            connection_id = db.scalar(
                select(Connection.id).where(
                    Connection.tenant_id == tenant_id,
                    Connection.type == SendGridConnection.slug,
                    Connection.use_for_alerts.is_(True),
                )
            )
            return {
                "title": title,
                "body": body,
                "emails": [email for user_id, email in admins if user_id not in muted],
                "connection_id": connection_id,
            }
    except IntegrityError:
        return None  # already alerted about this execution and step


async def _email(tenant_id: str, execution_id: str, node_id: str, alert: dict[str, Any]) -> None:
    from blocks.execute import run_action

    ctx = ActionContext(tenant_id, f"alert-{execution_id}", f"{node_id}-email", ExecutionMode.LIVE, log)
    data = SendEmailInput(
        to=alert["emails"], subject=f"Flowyard: {alert['title']}", text=f"{alert['body']}\n\nRun: {execution_id}"
    )
    try:
        await run_action(SEND_EMAIL, ctx, alert["connection_id"], data)
    except StepFailure as exc:
        log.warning("alert email for execution %s step %s not sent: %s", execution_id, node_id, failure_class(exc))


# --- alerts from the workspace's rules (engine.watch) ------------------------------------------------------


@dataclass(frozen=True)
class AlertMail:
    tenant_id: str
    key: str  # the ledger key: each alert's raised and resolved email is sent once
    connection_id: str
    to: list[str]
    subject: str
    text: str


def alert_changed(db: Session, alert: Alert) -> AlertMail | None:
    """Tell the workspace's owners and admins that `alert` was raised or resolved (in `db`'s transaction);
    returns the email to send after the commit (`send_alert_mails`), if the workspace has an alert connection."""
    resolved = alert.status == AlertStatus.RESOLVED
    title = f"Resolved: {alert.title}" if resolved else alert.title
    body = "The condition cleared." if resolved else alert.detail
    admins = db.execute(
        select(User.id, User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.tenant_id == alert.tenant_id, Membership.role.in_(ALERT_ROLES))
    ).all()
    kind = "alert_resolved" if resolved else "alert_raised"
    data = {"alert_id": alert.id, "rule": alert.rule, "workflow_id": alert.workflow_id, "value": alert.value}
    with sealing_for(db, alert.tenant_id):  # the watch pass crosses workspaces: flush this one's on its own
        db.add_all(
            Notification(tenant_id=alert.tenant_id, user_id=user_id, kind=kind, title=title, body=body, data=data)
            for user_id, _ in admins
        )
        db.flush()
    connection_id = db.scalar(
        select(Connection.id).where(
            Connection.tenant_id == alert.tenant_id,
            Connection.type == SendGridConnection.slug,
            Connection.use_for_alerts.is_(True),
        )
    )
    muted = emails_muted_by(db, alert.tenant_id, "alerts")
    to = [email for user_id, email in admins if user_id not in muted]
    if not connection_id or not to:
        return None
    return AlertMail(
        alert.tenant_id, f"alert-{alert.id}-{kind}", connection_id, to,
        f"Flowyard: {title}", body,
    )  # fmt: skip


async def send_alert_mails(mails: list[AlertMail]) -> None:
    """Send each once (the ledger); a failure is logged, never raised."""
    from blocks.execute import run_action

    for mail in mails:
        ctx = ActionContext(mail.tenant_id, mail.key, "email", ExecutionMode.LIVE, log)
        try:
            await run_action(
                SEND_EMAIL, ctx, mail.connection_id, SendEmailInput(to=mail.to, subject=mail.subject, text=mail.text)
            )
        except Exception:
            log.warning("alert email %s not sent", mail.key, exc_info=True)
