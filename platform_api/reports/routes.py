from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from platform_api.deps import DB, CurrentCaller
from platform_api.permissions import Allowed, Permission
from platform_api.reports import schemas, service

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])
CSV_HELP: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "The report, or its series as CSV (format=csv)."}
}


def _answer(report: schemas.Report, query: schemas.ReportQuery, name: str) -> schemas.Report | Response:
    if query.format == "csv":
        headers = {"Content-Disposition": f'attachment; filename="{name}.csv"'}
        return Response(service.as_csv(report), media_type="text/csv", headers=headers)
    return report


@router.get("/tenant", response_model=schemas.Report, responses=CSV_HELP, dependencies=[Allowed(Permission.MONITOR)])
def tenant_report(
    db: DB, caller: CurrentCaller, query: Annotated[schemas.ReportQuery, Query()]
) -> schemas.Report | Response:
    """The workspace's live runs that ended in the range: by status, success rate, p50/p95 durations per
    bucket, per workflow, and what they sent (emails, SMS, posts, CRM writes, HTTP calls)."""
    return _answer(service.report(db, caller=caller, query=query), query, "flowyard-report")


@router.get(
    "/workflows/{workflow_id}",
    response_model=schemas.Report,
    responses=CSV_HELP,
    dependencies=[Allowed(Permission.MONITOR)],
)
def workflow_report(
    workflow_id: str, db: DB, caller: CurrentCaller, query: Annotated[schemas.ReportQuery, Query()]
) -> schemas.Report | Response:
    """One workflow's report, with failures and p95 duration per step."""
    report = service.report(db, caller=caller, query=query, workflow_id=workflow_id)
    return _answer(report, query, f"flowyard-report-{workflow_id}")


@router.get(
    "/workflows/{workflow_id}/failures",
    response_model=list[schemas.FailureGroup],
    dependencies=[Allowed(Permission.MONITOR)],
)
def workflow_failures(
    workflow_id: str, db: DB, caller: CurrentCaller, query: Annotated[schemas.ReportQuery, Query()]
) -> list[schemas.FailureGroup]:
    """The workflow's health: its failed live runs in the range, grouped when they failed alike (the same
    step, kind and status), e.g. "37 runs failed at 'Send SMS' with 401 since 09:12"; largest group first."""
    return service.failure_groups(db, caller=caller, workflow_id=workflow_id, query=query)
