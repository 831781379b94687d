"""Account emails (invitations, password resets) through a workspace's alert SendGrid connection. Where a
workspace has none, the link goes to the server log, for self-hosters without email."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from blocks.base import ActionContext
from blocks.sendgrid import SEND_EMAIL, SendEmailInput, SendGridConnection
from core.errors import StepFailure
from store import Connection, ExecutionMode

log = logging.getLogger("flowyard.accounts")


@dataclass(frozen=True)
class AccountEmail:
    tenant_id: str | None
    connection_id: str | None  # the workspace's alert SendGrid connection; None: log the link
    to: str
    subject: str
    text: str
    link: str
    log_key: str  # names the email in the log and the send ledger, never the address


def alert_connection(db: Session, tenant_id: str) -> str | None:
    return db.scalar(
        select(Connection.id).where(
            Connection.tenant_id == tenant_id,
            Connection.type == SendGridConnection.slug,
            Connection.use_for_alerts.is_(True),
        )
    )


async def send(email: AccountEmail) -> None:
    """Never raises: the request that asked for the email has answered already."""
    if email.connection_id is None or email.tenant_id is None:
        log.warning("no email connection: %s link: %s", email.log_key, email.link)
        return
    from blocks.execute import run_action

    ctx = ActionContext(email.tenant_id, email.log_key, "email", ExecutionMode.LIVE, log)
    data = SendEmailInput(to=[email.to], subject=email.subject, text=f"{email.text}\n\n{email.link}")
    try:
        await run_action(SEND_EMAIL, ctx, email.connection_id, data)
    except (StepFailure, LookupError) as exc:
        log.warning("%s email not sent (%s); link: %s", email.log_key, exc, email.link)
    except Exception:
        log.exception("%s email not sent; link: %s", email.log_key, email.link)
