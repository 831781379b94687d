"""Workflow files over HTTP: export a workflow or the whole workspace, import them back by key, and the
JSON Schema of the document (docs/workflow-files.md)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from platform_api.deps import DB, CurrentCaller
from platform_api.permissions import Allowed, Permission
from platform_api.workflows import files
from platform_api.workflows.file_schemas import ImportResult, WorkspaceImportResult, workflow_file_json_schema

router = APIRouter(prefix="/api/v1", tags=["workflow files"])

ExportFormat = Literal["flowyard", "yaml", "bpmn"]
WorkspaceFormat = Literal["flowyard", "yaml"]
YAML_MEDIA_TYPE = "application/yaml"
_FILE_BODY = {"type": "object", "description": "A workflow file (GET /api/v1/schema/export)."}
_IMPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _FILE_BODY},
            YAML_MEDIA_TYPE: {"schema": {"type": "string"}},
            "application/xml": {"schema": {"type": "string", "description": "BPMN 2.0 (format=bpmn)"}},
        },
    }
}
_EXPORT_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The document: JSON (format=flowyard), YAML (format=yaml) or BPMN 2.0 XML (format=bpmn).",
        "content": {"application/json": {"schema": _FILE_BODY}, YAML_MEDIA_TYPE: {}, "application/xml": {}},
    }
}


def _schema_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/api/v1/schema/export"


async def _raw_body(request: Request) -> bytes:
    """The body as sent (JSON, YAML or XML); the app's body size limit has already applied."""
    return await request.body()


def _file_response(document: dict[str, Any], fmt: str, filename: str) -> Response:
    if fmt == "bpmn":
        return Response(
            files.render_bpmn(document),
            media_type="application/xml",
            headers={"Content-Disposition": f'attachment; filename="{filename}.bpmn"'},
        )
    if fmt == "yaml":
        return Response(
            files.render_yaml(document),
            media_type=YAML_MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{filename}.yaml"'},
        )
    return JSONResponse(document, headers={"Content-Disposition": f'attachment; filename="{filename}.json"'})


@router.get("/schema/export")
def export_schema(request: Request) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a workflow file, as exported and imported."""
    return workflow_file_json_schema(_schema_url(request))


@router.get("/workflows/{workflow_id}/export", response_class=Response, responses=_EXPORT_ANSWER)
def export_workflow(
    workflow_id: str,
    request: Request,
    db: DB,
    caller: CurrentCaller,
    fmt: ExportFormat = Query("flowyard", alias="format"),
) -> Response:
    """The workflow as a file: its latest version's graph, settings, tags, template and the connections it uses
    by type and name. Never a secret: config values under secret-looking keys are exported empty. A workflow
    without a key gets one here (the slug of its name, unique in the workspace). `bpmn`: the graph as BPMN 2.0
    (docs/bpmn.md), the process id being the key."""
    document = files.export_workflow(
        db, caller=caller, workflow_id=workflow_id, schema_url=_schema_url(request), request=request
    )
    return _file_response(document, fmt, document["key"])


@router.post(
    "/workflows/import",
    response_model=ImportResult,
    dependencies=[Allowed(Permission.CREATE_EDIT)],
    openapi_extra=_IMPORT_BODY,
    responses={201: {"model": ImportResult, "description": "Created."}},
)
def import_workflow(
    request: Request,
    response: Response,
    db: DB,
    caller: CurrentCaller,
    body: bytes = Depends(_raw_body),
    dry_run: bool = Query(False, description="Check the file and say what would change; write nothing."),
    fmt: ExportFormat = Query("flowyard", alias="format"),
    key: str | None = Query(None, description="format=bpmn: the key (default: the process id)."),
    name: str | None = Query(None, description="format=bpmn: the name (default: the process name)."),
) -> ImportResult:
    """Create the workflow with the file's key (201), or save what changed as a new version (200, `update`), or
    nothing (200, `unchanged`). JSON, or YAML with Content-Type application/yaml or format=yaml, or BPMN 2.0 XML
    with format=bpmn (what it cannot map is listed in `unmapped`). Connections the workspace lacks are listed in
    `setup`, not refused."""
    unmapped: list[str] = []
    if fmt == "bpmn":
        document, unmapped = files.document_from_bpmn(db, caller=caller, body=body, key=key, name=name)
    else:
        document = files.parse_body(body, fmt=fmt, content_type=request.headers.get("content-type", ""))
    result = files.import_workflow(
        db, caller=caller, document=document, dry_run=dry_run, request=request, unmapped=unmapped
    )
    response.status_code = 201 if result.action == "create" and not dry_run else 200
    return result


@router.get("/workspace/export", response_class=Response, responses=_EXPORT_ANSWER)
def export_workspace(
    request: Request, db: DB, caller: CurrentCaller, fmt: WorkspaceFormat = Query("flowyard", alias="format")
) -> Response:
    """Every workflow of the workspace: `{"format": "flowyard.workspace", "format_version": 1, "workflows": [...]}`."""
    document = files.export_workspace(db, caller=caller, schema_url=_schema_url(request), request=request)
    return _file_response(document, fmt, f"{caller.tenant_slug}-workflows")


@router.post(
    "/workspace/import",
    response_model=WorkspaceImportResult,
    dependencies=[Allowed(Permission.CREATE_EDIT)],
    openapi_extra=_IMPORT_BODY,
)
def import_workspace(
    request: Request,
    db: DB,
    caller: CurrentCaller,
    body: bytes = Depends(_raw_body),
    dry_run: bool = Query(False, description="Check every file and say what would change; write nothing."),
    fmt: WorkspaceFormat = Query("flowyard", alias="format"),
) -> WorkspaceImportResult:
    """Import every workflow of a workspace file: all are checked first, and nothing is written if any is invalid."""
    document = files.parse_body(body, fmt=fmt, content_type=request.headers.get("content-type", ""))
    return files.import_workspace(db, caller=caller, document=document, dry_run=dry_run, request=request)
