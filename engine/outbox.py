"""Data-change triggers: turns CRM outbox rows into executions of the workflows subscribed to them.

Each row is handled in one transaction with the executions it creates, and each execution carries
the row's id as its dedupe key, so a change starts exactly one run per matching workflow, also when
a dispatcher restarts mid-batch or two dispatchers race. PostgreSQL wakes the dispatcher with
NOTIFY on every outbox insert; on SQLite the dispatcher polls.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from flow_factory.conditions import evaluate
from store import Outbox, TriggerSubscription, Workflow, enqueue_execution, utcnow

log = logging.getLogger("flowyard.outbox")
CHANNEL = "flowyard_outbox"


@event.listens_for(Outbox, "after_insert")
def _notify_on_postgres(_mapper, connection, _target) -> None:
    if connection.dialect.name == "postgresql":  # delivered when the CRM change commits, not before
        connection.execute(text(f"NOTIFY {CHANNEL}"))


def change_input(row: Outbox) -> dict[str, Any]:
    operation = row.topic.rsplit(".", 1)[-1]
    before, after = row.before or {}, row.after or {}
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k)) if operation == "updated" else []
    return {"event": operation, "record_type": row.record_type, "record_id": row.record_id,
            "record": row.after, "before": row.before, "changed_fields": changed}


def matches(config: dict[str, Any], change: dict[str, Any]) -> bool:
    if config["event"] == "field_changed":
        field = config.get("field")
        if change["event"] != "updated" or field not in change["changed_fields"]:
            return False
        if config.get("to") is not None and (change["record"] or {}).get(field) != config["to"]:
            return False
    elif config["event"] != change["event"]:
        return False
    if config.get("filter"):
        return evaluate(config["filter"], {"record": change["record"] or {}, "before": change["before"] or {}}).result is True
    return True


def topic_for(config: dict[str, Any]) -> str:
    operation = "updated" if config["event"] == "field_changed" else config["event"]
    return f"crm.{config['record_type']}.{operation}"


def _next_row(db: Session) -> Outbox | None:
    """The oldest undispatched row that no other dispatcher holds, locked until this row's commit."""
    return db.scalars(select(Outbox).where(Outbox.dispatched_at.is_(None)).order_by(Outbox.created_at)
                      .limit(1).with_for_update(skip_locked=True)).first()


def fan_out(db: Session, limit: int = 200) -> int:
    """Handle undispatched outbox rows, oldest first, one row per transaction (a commit releases every
    lock, so rows are locked one at a time). Returns how many executions were queued."""
    queued = 0
    for _ in range(limit):
        row = _next_row(db)
        if row is None:
            break
        change = change_input(row)
        subscriptions = db.scalars(select(TriggerSubscription).where(
            TriggerSubscription.tenant_id == row.tenant_id, TriggerSubscription.topic == row.topic)).all()
        for subscription in subscriptions:
            workflow = db.get(Workflow, subscription.workflow_id)
            if workflow.published_version and matches(subscription.config, change):
                _, created = enqueue_execution(
                    db, workflow=workflow, version=workflow.published_version, mode="live",
                    deployment_id=workflow.deployment_id, input=change, trigger="data_change",
                    dedupe_key=f"outbox:{row.id}",
                )
                queued += created
        row.dispatched_at = utcnow()
        db.commit()
    db.commit()  # also when there was nothing to do: release SQLite's lock
    return queued


def listen(database_url: str, wake, stop: threading.Event) -> None:
    """On PostgreSQL, call `wake()` whenever an outbox row commits; returns at once elsewhere."""
    if not database_url.startswith(("postgresql", "postgres")):
        return
    import psycopg

    plain = "postgresql://" + database_url.split("://", 1)[1]
    while not stop.is_set():
        try:
            with psycopg.connect(plain, autocommit=True) as conn:
                conn.execute(f"LISTEN {CHANNEL}")
                while not stop.is_set():
                    for _ in conn.notifies(timeout=1.0, stop_after=1):
                        wake()
        except Exception:  # the database restarted: listen again
            log.exception("outbox listener lost its connection")
            stop.wait(2)
