"""Answering a caller that waits for its run: a webhook whose trigger says `respond: when_done`, or
`POST /api/v1/workflows/{id}/runs?wait=`.

The caller is answered by the run's first `webhook.respond` step as soon as the worker has stored it (the run goes
on), else by the run's end: the last step's output when it completed, a problem when it failed or was cancelled. A
run that stops to wait (a delay, an approval, a person's answer), or takes longer than the timeout, is answered
202 with its id and goes on.

The wait polls the run's row in a thread (the step rows are written by the worker, in another process, and a
poll of one row by its key is cheap on both databases): every 20 ms for the first 2 seconds, where most answers
come, so that polling adds little to their latency; then less and less often, up to every 200 ms."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.settings import Settings
from platform_api.problems import Problem
from store import Execution, ExecutionStatus, StepResult, StepStatus
from store.db import get_session_factory, scope_to_tenant

RESPOND_NODE_TYPE = "webhook.respond"
QUICK_POLL_SECONDS, QUICK_POLLS_FOR_SECONDS, LONGEST_POLL_SECONDS = 0.02, 2.0, 0.2
STOPPED_TO_WAIT = (ExecutionStatus.WAITING, ExecutionStatus.NEEDS_ATTENTION)
# The answer comes from the platform's address: whatever it holds is a document of no origin, running nothing.
ANSWER_CONTENT_SECURITY_POLICY = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data: https:"


@dataclass(frozen=True)
class Outcome:
    status: str  # the execution's stored status when the answer was found
    answer: dict[str, Any] | None = None  # a webhook.respond step's output
    output: dict[str, Any] | None = None  # the last step's output, for a completed run without one


def respond_nodes(graph: dict[str, Any]) -> frozenset[str]:
    return frozenset(node["id"] for node in graph.get("nodes", []) if node.get("type") == RESPOND_NODE_TYPE)


def _step_output(db: Session, execution_id: str, *conditions: Any, first: bool = False) -> dict[str, Any] | None:
    """The output of the first or last step (outside loops) that ended, of those the conditions pick."""
    query = select(StepResult.output).where(
        StepResult.execution_id == execution_id, StepResult.item_index.is_(None), *conditions
    )
    order = StepResult.ended_at.asc() if first else StepResult.ended_at.desc()
    return db.scalar(query.order_by(order).limit(1))


def _look(settings: Settings, tenant_id: str, execution_id: str, responders: frozenset[str]) -> Outcome | None:
    with get_session_factory(settings.platform_database_url)() as db:
        scope_to_tenant(db, tenant_id=tenant_id, switch_role=settings.api.tenant_role)
        status = db.scalar(select(Execution.status).where(Execution.id == execution_id))
        if status is None:  # purged meanwhile
            return Outcome(ExecutionStatus.CANCELLED)
        if responders:
            answered = StepResult.node_id.in_(responders), StepResult.status == StepStatus.COMPLETED
            if (answer := _step_output(db, execution_id, *answered, first=True)) is not None:
                return Outcome(status, answer=answer)
        if status == ExecutionStatus.COMPLETED:
            ended = StepResult.status == StepStatus.COMPLETED
            return Outcome(status, output=_step_output(db, execution_id, ended))
        if status in (ExecutionStatus.FAILED, ExecutionStatus.CANCELLED, *STOPPED_TO_WAIT):
            return Outcome(status)
    return None


async def wait_for_outcome(
    settings: Settings, *, tenant_id: str, execution_id: str, responders: frozenset[str], seconds: float
) -> Outcome | None:
    """The run's outcome, or None when it has none within `seconds`."""
    began = time.monotonic()
    pause = QUICK_POLL_SECONDS
    while True:
        outcome = await asyncio.to_thread(_look, settings, tenant_id, execution_id, responders)
        waited = time.monotonic() - began
        if outcome is not None or waited >= seconds:
            return outcome
        await asyncio.sleep(min(pause, seconds - waited))
        if waited > QUICK_POLLS_FOR_SECONDS:
            pause = min(pause * 1.5, LONGEST_POLL_SECONDS)


def answer_response(answer: dict[str, Any]) -> Response:
    """A webhook.respond step's output as the HTTP answer."""
    headers = {**answer.get("headers", {}), "Content-Security-Policy": ANSWER_CONTENT_SECURITY_POLICY}
    return Response(
        answer.get("body", ""), status_code=answer["status_code"], headers=headers, media_type=answer["content_type"]
    )


def outcome_response(outcome: Outcome, run_id: str, accepted: Response) -> Response:
    """The HTTP answer for an outcome: the step's answer, the completed run's output, a problem for a run that
    failed or was cancelled, or `accepted` (202 with the run id) for a run that stopped to wait."""
    if outcome.answer is not None:
        return answer_response(outcome.answer)
    if outcome.status == ExecutionStatus.COMPLETED:
        return JSONResponse({"run_id": run_id, "status": "completed", "output": outcome.output})
    if outcome.status in STOPPED_TO_WAIT:
        return accepted
    raise Problem(
        500,
        "run-failed",
        "Run did not complete",
        f"Run {run_id} {'failed' if outcome.status == ExecutionStatus.FAILED else 'was cancelled'} before it "
        "had an answer.",
        hint=f"Open the run (GET /api/v1/runs/{run_id}) to see which step stopped it and why.",
    )
