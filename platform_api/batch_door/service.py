"""The batch door's checks: the bearer token opens one batch (`store.batch_door.OpenedBatch`), and ids that are
not the batch's are refused before anything is written."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from core.settings import Settings
from platform_api.batch_door import schemas
from platform_api.problems import Problem
from store.batch_door import DoorRefused, NotThisBatch, OpenedBatch
from store.batches import StepWrite

BEARER = "Bearer "


def open_batch(settings: Settings, batch_id: str, authorization: str | None) -> OpenedBatch:
    """401 for a missing, wrong or expired token and for a batch that has ended, alike: nothing says which."""
    token = authorization[len(BEARER) :] if authorization and authorization.startswith(BEARER) else ""
    try:
        return OpenedBatch(settings.platform_database_url, batch_id, token)
    except DoorRefused:
        raise Problem(
            401,
            "batch-door-closed",
            "Batch token needed",
            "This batch's internal routes need the token minted for it, while the batch runs.",
            hint="Tenant Jobs read it from FLOWYARD_BATCH_DOOR__TOKEN; a batch that ended or expired has none.",
            headers={"WWW-Authenticate": "Bearer"},
        ) from None


@contextmanager
def only_this_batch() -> Iterator[None]:
    try:
        yield
    except NotThisBatch as refused:
        raise Problem(
            403,
            "not-this-batch",
            "Not this batch's",
            f"Refused, and nothing was written: {refused}.",
            hint="A batch token opens its own batch's executions and step rows only.",
        ) from None


def step_writes(writes: list[schemas.StepWrite]) -> list[StepWrite]:
    return [(write.kind, [row.model_dump() for row in write.rows]) for write in writes]


def outcomes(finish: schemas.Finish) -> dict[str, dict[str, Any]]:
    return {execution_id: outcome.model_dump(exclude_unset=True) for execution_id, outcome in finish.outcomes.items()}
