"""The backlog of a Prefect work pool, counted by Prefect (`POST /api/flow_runs/count`), and the bearer token
that guards it (`FLOWYARD_KUBERNETES__METRICS_TOKEN`)."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime

from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterNextScheduledStartTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
    WorkPoolFilter,
    WorkPoolFilterName,
)
from prefect.client.schemas.objects import StateType
from prefect.exceptions import ObjectNotFound

from core.prefect_client import prefect_client
from core.settings import Settings
from platform_api.internal import schemas
from platform_api.problems import Problem

WAITING = [StateType.SCHEDULED, StateType.PENDING]


def check_token(settings: Settings, authorization: str | None) -> None:
    """Unset token: the endpoint does not exist (404), so nothing about the pools is open by default. A missing
    or wrong token: 401. The comparison takes the same time whatever the token sent."""
    token = settings.kubernetes.metrics_token
    if token is None:
        raise Problem(
            404,
            "not-found",
            "Not found",
            "The work-pool backlog is served only when FLOWYARD_KUBERNETES__METRICS_TOKEN is set.",
        )
    expected = f"Bearer {token.get_secret_value()}".encode()
    if not hmac.compare_digest((authorization or "").encode(), expected):
        raise Problem(
            401,
            "unauthorized",
            "Metrics token needed",
            "The work-pool backlog needs the bearer token of FLOWYARD_KUBERNETES__METRICS_TOKEN.",
            hint="Send Authorization: Bearer <FLOWYARD_KUBERNETES__METRICS_TOKEN> (KEDA: a TriggerAuthentication "
            "with authMode bearer).",
            headers={"WWW-Authenticate": "Bearer"},
        )


def backlog(settings: Settings, pool: str) -> schemas.Backlog:
    due = FlowRunFilter(
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=WAITING)),
        next_scheduled_start_time=FlowRunFilterNextScheduledStartTime(before_=datetime.now(UTC)),
    )
    try:
        with prefect_client(settings) as client:
            client.read_work_pool(pool)
            count = client.count_flow_runs(
                flow_run_filter=due, work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=[pool]))
            )
    except ObjectNotFound:
        raise Problem(
            404,
            "not-found",
            "Not found",
            f"Prefect has no work pool named {pool!r}.",
            hint="Check the pool name in the ScaledObject's url.",
        ) from None
    except Exception as exc:  # Prefect down or busy: KEDA keeps the current replicas (or its fallback)
        raise Problem(
            503,
            "engine-unavailable",
            "Workflow engine unavailable",
            f"Prefect could not be asked for the backlog ({type(exc).__name__}).",
            headers={"Retry-After": "30"},
        ) from exc
    return schemas.Backlog(backlog=count)
