"""Errors as RFC 9457 problem details: a stable `type`, a human `detail`, field paths and a hint."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from platform_api.problem_types import problem_type

PROBLEM_MEDIA_TYPE = "application/problem+json"
DATABASE_RETRY_AFTER_SECONDS = 5

log = logging.getLogger(__name__)


class Problem(Exception):
    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        hint: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.hint, self.errors, self.headers = hint, errors or [], headers

    def body(self, instance: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": problem_type(self.slug),
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
        }
        if self.hint:
            body["hint"] = self.hint
        if self.errors:
            body["errors"] = self.errors
        return body


def not_found(what: str) -> Problem:
    """The same answer for a missing object and another tenant's: nothing leaks."""
    return Problem(
        404,
        "not-found",
        "Not found",
        f"No {what} with that id exists in your workspace.",
        hint=f"List your {what}s to find the right id.",
    )


def forbidden(action: str, role: str, needed: str) -> Problem:
    return Problem(
        403,
        "forbidden",
        "Not allowed",
        f"Your role '{role}' cannot {action}.",
        hint=f"Ask an owner or admin for the '{needed}' role or higher.",
    )


def problem_response(problem: Problem, request: Request) -> JSONResponse:
    return JSONResponse(
        problem.body(request.url.path),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=problem.headers,
    )


def _field_path(loc: tuple[Any, ...]) -> str:
    """('body', 'graph', 'nodes', 2, 'config') -> 'graph.nodes[2].config'."""
    path = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or (str(loc[0]) if loc else "")


def _hint_for(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "Remove this field; it is not part of the request."
    if kind == "missing":
        return "Add this required field."
    if kind == "json_invalid":
        return "Send a valid JSON document with Content-Type: application/json."
    expected = error.get("ctx", {}).get("expected")
    return f"Expected {expected}." if expected else "Check the value's type and format against the API docs at /docs."


def validation_problem(errors: list[dict[str, Any]]) -> Problem:
    items = [
        {"path": _field_path(tuple(e.get("loc", ()))), "message": e.get("msg", ""), "hint": _hint_for(e)}
        for e in errors
    ]
    first = items[0] if items else {"path": "", "message": "invalid request"}
    return Problem(
        422,
        "validation-error",
        "Invalid request",
        f"{first['path'] or 'body'}: {first['message']}" + (f" (and {len(items) - 1} more)" if len(items) > 1 else ""),
        hint=items[0]["hint"] if items else None,
        errors=items,
    )


def database_unavailable() -> Problem:
    return Problem(
        503,
        "database-unavailable",
        "Service temporarily unavailable",
        "Flowyard's database cannot be reached right now; nothing of this request was saved.",
        hint=f"Send it again in {DATABASE_RETRY_AFTER_SECONDS} seconds; webhook senders retry a 503 by themselves.",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(validation_problem(list(exc.errors())), request)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        """The platform database cannot be reached (or is too busy): ask the client to come back, as a webhook
        sender retries a 503; nothing of this request was committed."""
        log.warning("database unavailable for %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return problem_response(database_unavailable(), request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = {400: "bad-request", 404: "not-found", 405: "method-not-allowed", 401: "unauthorized"}.get(
            exc.status_code, "http-error"
        )
        hint = {
            400: "Send a JSON document that parses, nested at most a few hundred levels deep.",
            404: "Check the URL against the API docs at /docs.",
            405: "Check the HTTP method against the API docs at /docs.",
        }.get(exc.status_code)
        problem = Problem(exc.status_code, slug, str(exc.detail), str(exc.detail), hint=hint, headers=exc.headers)
        return problem_response(problem, request)
