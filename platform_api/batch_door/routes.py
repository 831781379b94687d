"""`/internal/batches/{batch_id}/…`: the interpreter's storage calls for a batch that runs as a tenant's Job, which
holds the batch's token and no database credentials (docs/architecture.md, "Tenant Jobs on Kubernetes")."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Response
from pydantic import TypeAdapter

from core.settings import Settings
from platform_api.batch_door import schemas
from platform_api.batch_door.service import only_this_batch, open_batch, outcomes, step_writes
from platform_api.deps import get_settings
from store.batch_door import OpenedBatch
from store.batches import BatchWork

router = APIRouter(prefix="/internal/batches", tags=["operators"], include_in_schema=False)
WORK = TypeAdapter(BatchWork)


def opened(
    batch_id: str,
    settings: Annotated[Settings, Depends(get_settings)],
    authorization: Annotated[str | None, Header()] = None,
) -> OpenedBatch:
    return open_batch(settings, batch_id, authorization)


Opened = Annotated[OpenedBatch, Depends(opened)]


@router.post("/{batch_id}/start")
def start(batch: Opened) -> Any:
    """Claim the batch's executions and hand over their work: the graph, inputs and earlier steps, opened."""
    return WORK.dump_python(batch.start(), mode="json")


@router.post("/{batch_id}/cancelled")
def cancelled(batch: Opened, body: schemas.ExecutionIds) -> schemas.ExecutionIds:
    with only_this_batch():
        return schemas.ExecutionIds(execution_ids=sorted(batch.cancelled_among(body.execution_ids)))


@router.post("/{batch_id}/steps", status_code=204)
def write_steps(batch: Opened, body: schemas.Steps) -> Response:
    with only_this_batch():
        batch.write_steps(step_writes(body.writes))
    return Response(status_code=204)


@router.post("/{batch_id}/finish", status_code=204)
def finish(batch: Opened, body: schemas.Finish) -> Response:
    with only_this_batch():
        batch.finish(outcomes(body), step_writes(body.writes))
    return Response(status_code=204)


@router.post("/{batch_id}/fail", status_code=204)
def fail(batch: Opened, body: schemas.Fail) -> Response:
    with only_this_batch():
        batch.fail(body.status, body.error, body.flow_run_id)
    return Response(status_code=204)


@router.post("/{batch_id}/resume")
def resume(
    batch: Opened, body: schemas.Resume, settings: Annotated[Settings, Depends(get_settings)]
) -> schemas.Resumed:
    """After a crash: at most the platform's FLOWYARD_EXECUTION__MAX_RESUMPTIONS, whatever the Job says."""
    outcome = batch.resume(settings.execution.max_resumptions, body.reason, body.flow_run_id)
    return schemas.Resumed(resumed=outcome["resumed"], failed=outcome["failed"])
