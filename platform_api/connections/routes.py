from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from blocks import registry
from blocks.base import SETTINGS_MAC, IntegrationBlock
from core.errors import help_url
from core.settings import Settings
from platform_api.connections import schemas, service
from platform_api.deps import DB, CurrentCaller, get_settings
from platform_api.pagination import MAX_PAGE, Cursor, limit_query
from platform_api.permissions import Allowed, Permission
from platform_api.problems import PROBLEM_MEDIA_TYPE, Problem

router = APIRouter(tags=["connections"])
SettingsDep = Depends(get_settings)
PAGE = """<!doctype html><meta name="viewport" content="width=device-width"><title>{title}</title>
<body style="font-family:sans-serif;max-width:36rem;margin:3rem auto"><h1>{title}</h1><p>{message}</p></body>"""


@router.get("/api/v1/connection-types", response_model=list[schemas.ConnectionTypeRead], response_model_by_alias=True)
def connection_types(caller: CurrentCaller) -> list[schemas.ConnectionTypeRead]:
    return [
        schemas.ConnectionTypeRead(
            type=slug,
            label=block.get_block_type_name(),
            docs_url=help_url(f"integrations/{slug}/"),  # its setup guide on the help site
            config_fields=block.config_fields(),
            secret_fields=block.secret_fields(),
            oauth=block.oauth_spec is not None,
            schema=_form_schema(block),
            actions=[a.node_type for a in block.actions],
        )
        for slug, block in registry.BLOCK_TYPES.items()
    ]


def _form_schema(block: type[IntegrationBlock]) -> dict[str, Any]:
    """The block's JSON Schema without the field Flowyard sets itself (the settings' MAC)."""
    schema = block.model_json_schema()
    schema.get("properties", {}).pop(SETTINGS_MAC, None)
    return schema


@router.post(
    "/api/v1/connections",
    status_code=201,
    response_model=schemas.ConnectionRead,
    dependencies=[Allowed(Permission.MANAGE_CONNECTIONS)],
)
def create_connection(
    data: schemas.ConnectionCreate, request: Request, db: DB, caller: CurrentCaller, settings: Settings = SettingsDep
) -> schemas.ConnectionRead:
    return service.create_connection(db, caller=caller, data=data, settings=settings, request=request)


@router.get("/api/v1/connections", response_model=list[schemas.ConnectionRead])
def list_connections(
    request: Request,
    response: Response,
    db: DB,
    caller: CurrentCaller,
    type: str | None = None,
    limit: int = limit_query(default=MAX_PAGE),
    cursor: Cursor = None,
) -> list[schemas.ConnectionRead]:
    """A page of connections by type and name; the next page's cursor is in the X-Next-Cursor (and Link) header."""
    return service.list_connections(
        db, caller=caller, type_=type, limit=limit, cursor=cursor, request=request, response=response
    )


@router.get("/api/v1/connections/oauth/callback", response_class=HTMLResponse, include_in_schema=False)
def oauth_callback(
    db: DB, state: str = "", code: str | None = None, error: str | None = None, settings: Settings = SettingsDep
) -> HTMLResponse:
    try:
        message = service.finish_oauth(db, state=state, code=code, error=error, settings=settings)
    except Problem as problem:
        text = html.escape(f"{problem.detail} {problem.hint or ''}")
        return HTMLResponse(PAGE.format(title=html.escape(problem.title), message=text), status_code=problem.status)
    return HTMLResponse(PAGE.format(title="Connected", message=html.escape(message)))


@router.get("/api/v1/connections/{connection_id}", response_model=schemas.ConnectionRead)
def read_connection(connection_id: str, db: DB, caller: CurrentCaller) -> schemas.ConnectionRead:
    return service.read_connection(db, caller=caller, connection_id=connection_id)


@router.patch(
    "/api/v1/connections/{connection_id}",
    response_model=schemas.ConnectionRead,
    dependencies=[Allowed(Permission.CREATE_EDIT)],
)
def update_connection(
    connection_id: str,
    data: schemas.ConnectionUpdate,
    request: Request,
    db: DB,
    caller: CurrentCaller,
    settings: Settings = SettingsDep,
) -> schemas.ConnectionRead:
    return service.update_connection(
        db, caller=caller, connection_id=connection_id, data=data, settings=settings, request=request
    )


class _ProblemJSON(JSONResponse):
    """Only names the media type of the route's documented problems; the routes answer with their own responses."""

    media_type = PROBLEM_MEDIA_TYPE


IN_USE: dict[int | str, dict[str, Any]] = {
    409: {"model": schemas.ConnectionInUseProblem, "description": "Workflows use it: one error per workflow."}
}


@router.delete(
    "/api/v1/connections/{connection_id}",
    status_code=204,
    response_class=_ProblemJSON,
    responses=IN_USE,
    dependencies=[Allowed(Permission.MANAGE_CONNECTIONS)],
)
def delete_connection(
    connection_id: str, request: Request, db: DB, caller: CurrentCaller, settings: Settings = SettingsDep
) -> Response:
    service.delete_connection(db, caller=caller, connection_id=connection_id, settings=settings, request=request)
    return Response(status_code=204)


@router.post(
    "/api/v1/connections/{connection_id}/test",
    response_model=schemas.ConnectionTestRead,
    dependencies=[Allowed(Permission.CREATE_EDIT)],
)
def test_connection(
    connection_id: str, request: Request, db: DB, caller: CurrentCaller, settings: Settings = SettingsDep
) -> schemas.ConnectionTestRead:
    return service.test_connection(db, caller=caller, connection_id=connection_id, settings=settings, request=request)


@router.post(
    "/api/v1/connections/{connection_id}/oauth/start",
    response_model=schemas.OAuthStartRead,
    dependencies=[Allowed(Permission.MANAGE_CONNECTIONS)],
)
def start_oauth(
    connection_id: str, db: DB, caller: CurrentCaller, settings: Settings = SettingsDep
) -> schemas.OAuthStartRead:
    return service.start_oauth(db, caller=caller, connection_id=connection_id, settings=settings)
