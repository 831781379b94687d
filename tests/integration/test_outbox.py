"""The outbox fan-out on its own, on SQLite and PostgreSQL: exactly one execution per change and
matching workflow when dispatchers crash mid-batch, redeliver, or race each other."""

from __future__ import annotations

import threading
import uuid

from sqlalchemy import func, select, update

from engine.outbox import fan_out
from store import Execution, Outbox, Tenant, TriggerSubscription, Workflow, WorkflowVersion
from store.db import get_session_factory

CONFIG = {"record_type": "deal", "event": "field_changed", "field": "stage", "to": "won"}


def _world(db) -> tuple[Tenant, list[Workflow]]:
    tenant = Tenant(slug=f"t{uuid.uuid4().hex[:8]}", name="Outbox test")
    db.add(tenant)
    db.flush()
    workflows = []
    for n in range(2):
        workflow = Workflow(
            tenant_id=tenant.id,
            name=f"w{n}",
            slug=f"w{n}-{uuid.uuid4().hex[:6]}",
            latest_version=1,
            published_version=1,
            deployment_id=str(uuid.uuid4()),
        )
        db.add(workflow)
        db.flush()
        db.add(WorkflowVersion(tenant_id=tenant.id, workflow_id=workflow.id, version=1, graph={}, valid=True))
        db.add(
            TriggerSubscription(tenant_id=tenant.id, workflow_id=workflow.id, topic="crm.deal.updated", config=CONFIG)
        )
        workflows.append(workflow)
    for i in range(20):
        stage = "won" if i % 2 == 0 else "lost"
        db.add(
            Outbox(
                tenant_id=tenant.id,
                topic="crm.deal.updated",
                record_type="deal",
                record_id=str(uuid.uuid4()),
                before={"stage": "negotiation"},
                after={"stage": stage},
            )
        )
    db.commit()
    return tenant, workflows


def _executions(db, tenant: Tenant) -> int:
    return db.scalar(select(func.count()).select_from(Execution).where(Execution.tenant_id == tenant.id))


def test_exactly_once_across_a_crash_a_redelivery_and_a_race(platform_db_url):
    sessions = get_session_factory(platform_db_url)
    with sessions() as db:
        tenant, _ = _world(db)

    with sessions() as first:  # a dispatcher handles 5 changes, then its process dies
        fan_out(first, limit=5)

    def race() -> None:
        with sessions() as db:
            fan_out(db)

    racers = [threading.Thread(target=race) for _ in range(2)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    with sessions() as db:
        assert _executions(db, tenant) == 20  # 10 changes to `won` × 2 workflows
        db.execute(update(Outbox).where(Outbox.tenant_id == tenant.id).values(dispatched_at=None))
        db.commit()
        fan_out(db)
        assert _executions(db, tenant) == 20
        keys = db.scalars(select(Execution.dedupe_key).where(Execution.tenant_id == tenant.id)).all()
        assert len(set(keys)) == 10 and all(key.startswith("outbox:") for key in keys)
