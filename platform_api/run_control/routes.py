from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request

from core.settings import Settings
from platform_api.deps import DB, CurrentCaller, get_settings, wake_dispatcher
from platform_api.permissions import Allowed, Permission
from platform_api.run_control import attention, rerun, schemas, service
from platform_api.workflows.schemas import WorkflowRead

router = APIRouter(prefix="/api/v1", tags=["run control"])


@router.post("/runs/{run_id}/cancel", response_model=schemas.RunCancelled, dependencies=[Allowed(Permission.RUN)])
def cancel_run(
    run_id: str, request: Request, db: DB, caller: CurrentCaller, settings: Settings = Depends(get_settings)
) -> schemas.RunCancelled:
    """Queued and waiting runs stop at once; a running one at its next step boundary. 409 if it already ended."""
    return service.cancel_run(db, caller=caller, run_id=run_id, settings=settings, request=request)


@router.post(
    "/runs/{run_id}/attention", response_model=schemas.AttentionResolved, dependencies=[Allowed(Permission.RUN)]
)
def resolve_attention(
    run_id: str, data: schemas.AttentionResolve, request: Request, db: DB, caller: CurrentCaller
) -> schemas.AttentionResolved:
    """Answer a run that needs attention (a step may have been sent): after checking the service, `mark_sent`
    completes the step without sending, `send_again` sends it once more; the run then goes on. 409 if the run
    does not need attention."""
    resolved = attention.resolve(db, caller=caller, run_id=run_id, data=data, request=request)
    wake_dispatcher(request)
    return resolved


@router.post(
    "/workflows/{workflow_id}/cancel-runs", response_model=schemas.RunsCancelled, dependencies=[Allowed(Permission.RUN)]
)
def cancel_workflow_runs(
    workflow_id: str, request: Request, db: DB, caller: CurrentCaller, settings: Settings = Depends(get_settings)
) -> schemas.RunsCancelled:
    """Cancel every queued, waiting or running run of the workflow."""
    return service.cancel_workflow_runs(db, caller=caller, workflow_id=workflow_id, settings=settings, request=request)


@router.post(
    "/workflows/{workflow_id}/disable", response_model=WorkflowRead, dependencies=[Allowed(Permission.PUBLISH)]
)
def disable_workflow(
    workflow_id: str, request: Request, db: DB, caller: CurrentCaller, settings: Settings = Depends(get_settings)
) -> WorkflowRead:
    """No trigger starts it any more (webhooks answer 410, events and live runs are refused) and its schedules
    pause, until it is enabled again. Runs already accepted go on: cancel them with /cancel-runs."""
    return service.set_disabled(
        db, caller=caller, workflow_id=workflow_id, disabled=True, settings=settings, request=request
    )


@router.post("/workflows/{workflow_id}/enable", response_model=WorkflowRead, dependencies=[Allowed(Permission.PUBLISH)])
def enable_workflow(
    workflow_id: str, request: Request, db: DB, caller: CurrentCaller, settings: Settings = Depends(get_settings)
) -> WorkflowRead:
    """Triggers start it again and its schedules resume."""
    return service.set_disabled(
        db, caller=caller, workflow_id=workflow_id, disabled=False, settings=settings, request=request
    )


@router.get("/runs/{run_id}/retry/preview", response_model=schemas.RerunPlan, dependencies=[Allowed(Permission.RUN)])
def preview_retry(
    run_id: str,
    db: DB,
    caller: CurrentCaller,
    from_: Literal["failed_step", "start"] = Query("failed_step", alias="from"),
    settings: Settings = Depends(get_settings),
) -> schemas.RerunPlan:
    """What a retry would reuse and which of its steps act outside Flowyard again; starts nothing."""
    return rerun.preview_retry(db, caller=caller, run_id=run_id, from_=from_, settings=settings)


@router.post(
    "/runs/{run_id}/retry",
    status_code=202,
    response_model=schemas.RerunAccepted,
    dependencies=[Allowed(Permission.RUN)],
)
def retry_run(
    run_id: str,
    request: Request,
    db: DB,
    caller: CurrentCaller,
    data: schemas.RetryRequest | None = None,
    settings: Settings = Depends(get_settings),
) -> schemas.RerunAccepted:
    """A new run (`retry_of` this one) of the same version and input, from the failed step (the completed steps'
    outputs reused, nothing before it sent again) or from the start. 409 while the run is active."""
    from_ = (data or schemas.RetryRequest()).from_
    accepted = rerun.retry(db, caller=caller, run_id=run_id, from_=from_, settings=settings, request=request)
    wake_dispatcher(request)
    return accepted


@router.get("/runs/{run_id}/replay/preview", response_model=schemas.RerunPlan, dependencies=[Allowed(Permission.RUN)])
def preview_replay(
    run_id: str,
    db: DB,
    caller: CurrentCaller,
    version: int | None = Query(None, ge=1),
    settings: Settings = Depends(get_settings),
) -> schemas.RerunPlan:
    """The steps a replay would run that act outside Flowyard again (email, SMS, post, CRM write, HTTP POST)."""
    return rerun.preview_replay(db, caller=caller, run_id=run_id, version=version, settings=settings)


@router.post(
    "/runs/{run_id}/replay",
    status_code=202,
    response_model=schemas.RerunAccepted,
    dependencies=[Allowed(Permission.RUN)],
)
def replay_run(
    run_id: str,
    request: Request,
    db: DB,
    caller: CurrentCaller,
    data: schemas.ReplayRequest | None = None,
    settings: Settings = Depends(get_settings),
) -> schemas.RerunAccepted:
    """A new run (`retry_of` this one) of the same input from the start, on another version if given."""
    version = (data or schemas.ReplayRequest()).version
    accepted = rerun.replay(db, caller=caller, run_id=run_id, version=version, settings=settings, request=request)
    wake_dispatcher(request)
    return accepted
