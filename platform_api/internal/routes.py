from __future__ import annotations

from fastapi import APIRouter, Header, Request

from core.settings import Settings
from platform_api.internal import schemas, service

router = APIRouter(prefix="/internal", tags=["operators"])


@router.get(
    "/pools/{pool}/backlog",
    response_model=schemas.Backlog,
    responses={
        401: {"description": "No bearer token, or not FLOWYARD_KUBERNETES__METRICS_TOKEN."},
        404: {"description": "FLOWYARD_KUBERNETES__METRICS_TOKEN is unset, or Prefect has no such work pool."},
        503: {"description": "Prefect did not answer."},
    },
)
def pool_backlog(
    request: Request, pool: str, authorization: str | None = Header(None, include_in_schema=False)
) -> schemas.Backlog:
    """Flow runs of a Prefect work pool that are due and not started, for KEDA's metrics-api scaler
    (`valueLocation: backlog`). Bearer token: FLOWYARD_KUBERNETES__METRICS_TOKEN."""
    settings: Settings = request.app.state.settings
    service.check_token(settings, authorization)
    return service.backlog(settings, pool)
