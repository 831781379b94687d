"""Data-change triggers: turns CRM outbox rows into executions of the workflows subscribed to them.

Each row is handled in one transaction with the executions it creates, and each execution carries
the row's id as its dedupe key, so a change starts exactly one run per matching workflow, also when
a dispatcher restarts mid-batch or two dispatchers race. PostgreSQL wakes the dispatcher with
NOTIFY on every outbox insert (`CHANNEL`, heard through `engine.listen`); on SQLite the dispatcher polls.
A row a test run wrote (`test_data`) is marked dispatched without starting anything: a test run never
starts a live workflow.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection, event, select, text
from sqlalchemy.orm import Mapper, Session

from crm.records import link_run
from flow_factory.conditions import evaluate
from store import ExecutionMode, Outbox, TriggerSubscription, Workflow, enqueue_execution, utcnow

log = logging.getLogger("flowyard.outbox")
CHANNEL = "flowyard_outbox"


@event.listens_for(Outbox, "after_insert")
def _notify_on_postgres(_mapper: Mapper[Outbox], connection: Connection, _target: Outbox) -> None:
    if connection.dialect.name == "postgresql":  # delivered when the CRM change commits, not before
        connection.execute(text(f"NOTIFY {CHANNEL}"))


def change_input(row: Outbox) -> dict[str, Any]:
    operation = row.topic.rsplit(".", 1)[-1]
    before, after = row.before or {}, row.after or {}
    changed = (
        sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k)) if operation == "updated" else []
    )
    return {
        "event": operation,
        "record_type": row.record_type,
        "record_id": row.record_id,
        "record": row.after,
        "before": row.before,
        "changed_fields": changed,
    }


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
        return (
            evaluate(config["filter"], {"record": change["record"] or {}, "before": change["before"] or {}}).result
            is True
        )
    return True


def topic_for(config: dict[str, Any]) -> str:
    operation = "updated" if config["event"] == "field_changed" else config["event"]
    return f"crm.{config['record_type']}.{operation}"


def _next_row(db: Session) -> Outbox | None:
    """The oldest undispatched row that no other dispatcher holds, locked until this row's commit."""
    return db.scalars(
        select(Outbox)
        .where(Outbox.dispatched_at.is_(None))
        .order_by(Outbox.created_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()


def fan_out(db: Session, limit: int = 200) -> int:
    """Handle undispatched outbox rows, oldest first, one row per transaction (a commit releases every
    lock, so rows are locked one at a time). Returns how many executions were queued."""
    queued = 0
    for _ in range(limit):
        row = _next_row(db)
        if row is None:
            break
        if row.test_data:
            row.dispatched_at = utcnow()
            db.commit()
            continue
        change = change_input(row)
        subscriptions = db.scalars(
            select(TriggerSubscription).where(
                TriggerSubscription.tenant_id == row.tenant_id, TriggerSubscription.topic == row.topic
            )
        ).all()
        for subscription in subscriptions:
            workflow = db.get(Workflow, subscription.workflow_id)
            if workflow is None or not workflow.published_version or not workflow.deployment_id or workflow.disabled:
                continue
            if matches(subscription.config, change):
                execution, created = enqueue_execution(
                    db,
                    workflow=workflow,
                    version=workflow.published_version,
                    mode=ExecutionMode.LIVE,
                    deployment_id=workflow.deployment_id,
                    input=change,
                    trigger="data_change",
                    dedupe_key=f"outbox:{row.id}",
                )
                if created:  # the record page lists the runs its changes started
                    link_run(
                        db,
                        row.tenant_id,
                        row.record_type,
                        row.record_id,
                        execution_id=execution.id,
                        node_id=None,
                        action="trigger.data_change",
                        relation="triggered",
                    )
                queued += created
        row.dispatched_at = utcnow()
        db.commit()
    db.commit()  # also when there was nothing to do: release SQLite's lock
    return queued
