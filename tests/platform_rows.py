"""Rows of the platform database written straight, for tests of the engine's SQL without the API:
a tenant, a workflow with a saved (and published) version, executions in a given state."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from store import Approval, Execution, ExecutionStatus, Tenant, Workflow, WorkflowVersion, utcnow
from store.db import get_session_factory

MINIMAL_GRAPH = {
    "nodes": [
        {"id": "start", "type": "trigger.manual", "config": {}},
        {"id": "say", "type": "util.log", "config": {"message": "hi"}},
    ],
    "edges": [{"id": "e1", "source": "start", "target": "say"}],
}


def add_tenant(db: Session, *, max_running: int | None = None, time_zone: str = "UTC") -> Tenant:
    slug = f"t{uuid.uuid4().hex[:10]}"
    tenant = Tenant(name=f"Tenant {slug}", slug=slug, max_running=max_running, time_zone=time_zone)
    db.add(tenant)
    db.flush()
    return tenant


def add_workflow(
    db: Session,
    tenant: Tenant,
    *,
    graph: dict[str, Any] | None = None,
    versions: int = 1,
    conflict_policy: str = "parallel",
    max_parallel: int | None = None,
) -> Workflow:
    """A workflow with `versions` saved versions (all the same graph), the last one published."""
    name = f"wf-{uuid.uuid4().hex[:8]}"
    workflow = Workflow(
        tenant_id=tenant.id,
        name=name,
        slug=name,
        latest_version=versions,
        published_version=versions,
        deployment_id=str(uuid.uuid4()),
        conflict_policy=conflict_policy,
        max_parallel=max_parallel,
    )
    db.add(workflow)
    db.flush()
    for version in range(1, versions + 1):
        db.add(
            WorkflowVersion(
                tenant_id=tenant.id, workflow_id=workflow.id, version=version, graph=graph or MINIMAL_GRAPH, valid=True
            )
        )
    db.flush()
    return workflow


class Clock:
    """Creation times a second apart, so that "oldest first" is unambiguous on every backend."""

    def __init__(self) -> None:
        self._next = utcnow() - timedelta(hours=1)

    def tick(self) -> datetime:
        self._next += timedelta(seconds=1)
        return self._next


def add_execution(
    db: Session,
    workflow: Workflow,
    *,
    clock: Clock,
    version: int | None = None,
    status: str = ExecutionStatus.QUEUED,
    mode: str = "live",
    input: dict[str, Any] | None = None,
    started: bool = False,
    batch_id: str | None = None,
) -> Execution:
    execution = Execution(
        tenant_id=workflow.tenant_id,
        workflow_id=workflow.id,
        version=version or workflow.published_version,
        mode=mode,
        deployment_id=workflow.deployment_id,
        status=status,
        input=input or {},
        batch_id=batch_id,
        created_at=clock.tick(),
        started_at=utcnow() if started else None,
    )
    db.add(execution)
    db.flush()
    return execution


class RunRows:
    """Runs of a tenant's workflows and their pending approvals, written straight into the database."""

    def __init__(self, db_url: str, tenant_id: str) -> None:
        self.sessions = get_session_factory(db_url)
        self.tenant_id = tenant_id
        self.clock = Clock()

    def run(self, workflow_id: str, status: str = ExecutionStatus.QUEUED, **columns: Any) -> str:
        with self.sessions.begin() as db:
            execution = add_execution(db, db.get_one(Workflow, workflow_id), clock=self.clock, status=status)
            for name, value in columns.items():
                setattr(execution, name, value)
            return execution.id

    def pending_approval(self, run_id: str, node_id: str) -> None:
        with self.sessions.begin() as db:
            db.add(
                Approval(
                    tenant_id=self.tenant_id,
                    execution_id=run_id,
                    node_id=node_id,
                    token_hash=uuid.uuid4().hex,
                    approvers={},
                    expires_at=utcnow() + timedelta(days=1),
                )
            )
