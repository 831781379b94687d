from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from core.settings import Settings
from platform_api.deps import DB, CurrentCaller, get_settings, wake_dispatcher
from platform_api.limits import stream_slots
from platform_api.permissions import Allowed, Permission
from platform_api.runs import answer, schemas, service
from store import FINAL_EXECUTION_STATUSES, Execution
from store.db import get_session_factory

router = APIRouter(prefix="/api/v1", tags=["runs"])
EVENT_POLL_SECONDS = 0.25
RUNS_EVENT_POLL_SECONDS = 1.0


@router.post(
    "/workflows/{workflow_id}/runs",
    status_code=202,
    response_model=schemas.RunAccepted,
    responses={
        200: {
            "description": "With ?wait: the run's answer (its Respond to webhook step's, or the completed run's "
            "output)."
        },
        500: {"description": "With ?wait: the run failed or was cancelled before it had an answer."},
    },
    dependencies=[Allowed(Permission.RUN)],
)
async def create_run(
    workflow_id: str,
    data: schemas.RunCreate,
    request: Request,
    db: DB,
    caller: CurrentCaller,
    settings: Settings = Depends(get_settings),
    wait: Annotated[
        float | None,
        Query(
            gt=0,
            le=300,
            description="Seconds to wait for the run's answer (at most FLOWYARD_API__RESPOND_TIMEOUT_SECONDS); "
            "then 202 with the run id, and the run goes on.",
        ),
    ] = None,
) -> Response:
    def start() -> tuple[Execution, frozenset[str]]:
        execution = service.create_run(
            db, caller=caller, workflow_id=workflow_id, data=data, settings=settings, request=request
        )
        responders = service.responders_of(db, execution) if wait else frozenset()
        db.close()  # hold no transaction while waiting: on SQLite it would keep the worker from writing the answer
        return execution, responders

    execution, responders = await run_in_threadpool(start)
    wake_dispatcher(request)
    body = schemas.RunAccepted(run_id=execution.id, status=schemas.run_status(execution.status))
    accepted = JSONResponse(body.model_dump(mode="json"), status_code=202)
    if not wait:
        return accepted
    outcome = await answer.wait_for_outcome(
        settings,
        tenant_id=execution.tenant_id,
        execution_id=execution.id,
        responders=responders,
        seconds=min(wait, settings.api.respond_timeout_seconds),
    )
    return accepted if outcome is None else answer.outcome_response(outcome, execution.id, accepted)


@router.get("/runs", response_model=list[schemas.RunSummary])
def list_runs(
    request: Request,
    response: Response,
    db: DB,
    caller: CurrentCaller,
    query: Annotated[schemas.RunsQuery, Query()],
    settings: Settings = Depends(get_settings),
) -> list[schemas.RunSummary]:
    """A page of runs, newest first, narrowed by the filters; the next page's cursor is in the X-Next-Cursor
    (and Link) header."""
    return service.list_runs(db, caller=caller, query=query, settings=settings, request=request, response=response)


@router.get("/runs/counts", response_model=dict[str, int])
def count_runs(
    db: DB,
    caller: CurrentCaller,
    filters: Annotated[schemas.RunFilters, Query()],
    settings: Settings = Depends(get_settings),
) -> dict[str, int]:
    """How many runs match the filters, per status (the `status` filter is ignored)."""
    return service.count_runs(db, caller=caller, filters=filters, settings=settings)


@router.get("/runs/events")
async def runs_events(caller: CurrentCaller, settings: Settings = Depends(get_settings)) -> EventSourceResponse:
    """A `changed` event whenever a run of the workspace is added or changes status, for lists to refresh;
    a comment every 15 s keeps the connection open. Counts against `quotas.sse_streams`."""
    sessions = get_session_factory(settings.platform_database_url)

    def read() -> tuple:
        with sessions() as db:
            return service.last_change(db, caller=caller)

    async def events() -> AsyncIterator[dict]:
        seen = await asyncio.to_thread(read)
        while True:
            await asyncio.sleep(RUNS_EVENT_POLL_SECONDS)
            now = await asyncio.to_thread(read)
            if now != seen:
                seen = now
                yield {"event": "changed", "data": "{}"}

    stream = events()
    stream_slots.open(caller.tenant_id, stream, most=settings.quotas.sse_streams)
    return EventSourceResponse(stream, ping=15)


@router.get("/runs/{run_id}", response_model=schemas.RunRead)
def read_run(run_id: str, db: DB, caller: CurrentCaller, settings: Settings = Depends(get_settings)) -> schemas.RunRead:
    return service.read_run(db, caller=caller, run_id=run_id, settings=settings)


@router.get("/runs/{run_id}/events")
async def run_events(
    run_id: str, caller: CurrentCaller, settings: Settings = Depends(get_settings)
) -> EventSourceResponse:
    """One event per step change and per status change, until the run ends. A tenant may hold
    `quotas.sse_streams` of them open at once in one API process (not across replicas)."""
    sessions = get_session_factory(settings.platform_database_url)

    def read() -> tuple[str, list[schemas.StepRead]]:
        with sessions() as db:
            return service.snapshot(db, caller=caller, run_id=run_id)

    await asyncio.to_thread(read)  # a missing or foreign run answers 404 before the stream starts

    async def events() -> AsyncIterator[dict]:
        seen_status: str | None = None
        seen_steps: dict[str, tuple[str, int]] = {}
        while True:
            status, steps = await asyncio.to_thread(read)
            for step in steps:
                key = (step.status, step.attempts)
                if seen_steps.get(step.node_id) != key:
                    seen_steps[step.node_id] = key
                    yield {"event": "step", "data": step.model_dump_json()}
            if status != seen_status:
                seen_status = status
                yield {"event": "status", "data": json.dumps({"run_id": run_id, "status": status})}
            if status in FINAL_EXECUTION_STATUSES:
                return
            await asyncio.sleep(EVENT_POLL_SECONDS)

    stream = events()
    stream_slots.open(caller.tenant_id, stream, most=settings.quotas.sse_streams)  # 429 beyond the quota
    return EventSourceResponse(stream)
