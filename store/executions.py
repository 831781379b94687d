"""Accepting an execution: the one place every trigger writes a `queued` execution, exactly once per dedupe key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.models import Execution, Workflow


def enqueue_execution(
    db: Session, *, workflow: Workflow, version: int, mode: str, deployment_id: str, input: dict[str, Any],
    trigger: str, triggered_by: str | None = None, dedupe_key: str | None = None,
) -> tuple[Execution, bool]:
    """Add a queued execution (not committed). Returns it and whether it is new: a dedupe key seen before
    for this workflow returns the earlier execution instead."""
    if dedupe_key:
        earlier = db.scalar(select(Execution).where(Execution.workflow_id == workflow.id,
                                                    Execution.dedupe_key == dedupe_key))
        if earlier:
            return earlier, False
    execution = Execution(
        tenant_id=workflow.tenant_id, workflow_id=workflow.id, version=version, mode=mode,
        deployment_id=deployment_id, status="queued", input=input, trigger=trigger,
        triggered_by=triggered_by, dedupe_key=dedupe_key,
    )
    try:
        with db.begin_nested():
            db.add(execution)
    except IntegrityError:  # the same key, accepted concurrently
        return db.scalar(select(Execution).where(Execution.workflow_id == workflow.id,
                                                 Execution.dedupe_key == dedupe_key)), False
    return execution, True
