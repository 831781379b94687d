from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from core.settings import Settings
from platform_api.deps import DB, CurrentCaller, get_settings
from platform_api.permissions import Allowed, Permission
from platform_api.run_control import schemas, service
from platform_api.workflows.schemas import WorkflowRead

router = APIRouter(prefix="/api/v1", tags=["run control"])


@router.post("/runs/{run_id}/cancel", response_model=schemas.RunCancelled, dependencies=[Allowed(Permission.RUN)])
def cancel_run(
    run_id: str, request: Request, db: DB, caller: CurrentCaller, settings: Settings = Depends(get_settings)
) -> schemas.RunCancelled:
    """Queued and waiting runs stop at once; a running one at its next step boundary. 409 if it already ended."""
    return service.cancel_run(db, caller=caller, run_id=run_id, settings=settings, request=request)


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
