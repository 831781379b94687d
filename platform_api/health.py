"""Health probes: `live` (the process answers) and `ready` (what it needs answers: the platform database,
the Prefect API and, where this process runs one, the dispatcher loop). `GET /api/v1/health` stays as the
liveness answer it always was."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import text

from core import prefect_client
from core.settings import Settings
from platform_api.problems import Problem
from store.db import get_engine

router = APIRouter(prefix="/api/v1/health", tags=["health"])
PREFECT_TIMEOUT_SECONDS = 2.0
DISPATCHER_STALE_SECONDS = 60.0  # a pass blocked this long (e.g. on Prefect) means nothing is dispatched

HINTS = {
    "database": "Check that the platform database (FLOWYARD_DATABASE_URL) is up and reachable from the API.",
    "prefect": "Check that the Prefect server (FLOWYARD_PREFECT__API_URL) is up and its auth string matches.",
    "dispatcher": "The dispatcher loop stopped or is stuck: see the API's log for 'dispatch pass failed'.",
}


@router.get("")
@router.get("/live")
def live() -> dict[str, str]:
    """The process is up and serving requests."""
    return {"status": "ok"}


def _database(settings: Settings) -> str | None:
    try:
        with get_engine(settings.platform_database_url).connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not ready"; the message says which
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


def _dispatcher(request: Request, settings: Settings) -> str | None:
    dispatcher = getattr(request.app.state, "dispatcher", None)
    if dispatcher is None:
        return None  # this process runs none (FLOWYARD_DISPATCHER__ENABLED=false)
    within = max(DISPATCHER_STALE_SECONDS, 3 * settings.dispatcher.poll_seconds)
    if dispatcher.alive(within_seconds=within):
        return None
    return f"the dispatcher loop has not completed a pass in the last {within:g} s"


@router.get("/ready", responses={503: {"description": "A check failed; `errors` names it."}})
def ready(request: Request) -> dict[str, Any]:
    """200 when the platform database and Prefect answer and the dispatcher loop is alive; else 503 naming
    the failing checks."""
    settings: Settings = request.app.state.settings
    failures = {
        "database": _database(settings),
        "prefect": prefect_client.reachable(settings, timeout=PREFECT_TIMEOUT_SECONDS),
        "dispatcher": _dispatcher(request, settings),
    }
    failed = {name: why for name, why in failures.items() if why}
    if failed:
        raise Problem(
            503,
            "not-ready",
            "Not ready",
            f"Failing checks: {', '.join(failed)}.",
            errors=[{"path": name, "message": why, "hint": HINTS[name]} for name, why in failed.items()],
        )
    checks = {name: "ok" for name in failures}
    if getattr(request.app.state, "dispatcher", None) is None:
        checks["dispatcher"] = "off"
    return {"status": "ok", "checks": checks}
