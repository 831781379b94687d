from __future__ import annotations

import html
from typing import Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse

from core.settings import Settings
from platform_api.approvals import schemas, service
from platform_api.deps import DB, CurrentCaller, get_settings, wake_dispatcher
from store import ApprovalStatus

router = APIRouter(tags=["approvals"])

LINK_PAGE = """<!doctype html><meta name="viewport" content="width=device-width">
<title>Approval requested</title><body style="font-family:sans-serif;max-width:36rem;margin:3rem auto">
<h1>Approval requested</h1><p>{message}</p><p>Answer by {expires}.</p>
<form method="post"><textarea name="comment" placeholder="Comment (optional)" style="width:100%"></textarea>
<button name="decision" value="approve">Approve</button> <button name="decision" value="reject">Reject</button>
</form></body>"""


@router.get("/api/v1/approvals", response_model=list[schemas.ApprovalItem])
def list_approvals(
    db: DB,
    caller: CurrentCaller,
    status: schemas.ApprovalState | None = None,
    decidable: bool = Query(False, description="Only those you may answer: the inbox."),
) -> list[schemas.ApprovalItem]:
    """The workspace's approvals, newest first (200 at most), each with its run's workflow, step and data."""
    return service.list_approvals(db, caller=caller, status=status, decidable=decidable)


@router.post("/api/v1/runs/{run_id}/approvals/{node_id}", response_model=schemas.ApprovalRead)
def decide(
    run_id: str, node_id: str, data: schemas.ApprovalDecide, request: Request, db: DB, caller: CurrentCaller
) -> schemas.ApprovalRead:
    answer = service.decide_as_user(db, caller=caller, run_id=run_id, node_id=node_id, data=data, request=request)
    wake_dispatcher(request)
    return answer


@router.post("/api/v1/runs/{run_id}/approvals/{node_id}/link", status_code=201, response_model=schemas.ApprovalLink)
def issue_link(
    run_id: str,
    node_id: str,
    db: DB,
    caller: CurrentCaller,
    data: schemas.ApprovalLinkCreate | None = None,
    settings: Settings = Depends(get_settings),
) -> schemas.ApprovalLink:
    """A one-time link for an operator or a named approver; it replaces any earlier link of the step."""
    return service.issue_link(
        db,
        caller=caller,
        run_id=run_id,
        node_id=node_id,
        data=data or schemas.ApprovalLinkCreate(),
        settings=settings,
    )


@router.get("/approvals/{token}", response_class=HTMLResponse, include_in_schema=False)
def approval_page(token: str, db: DB) -> HTMLResponse:
    approval = service.approval_by_token(db, token)
    if approval.status != ApprovalStatus.PENDING:
        return HTMLResponse(f"<p>This approval was already answered: {approval.status}.</p>", status_code=410)
    return HTMLResponse(
        LINK_PAGE.format(
            message=html.escape(approval.message), expires=approval.expires_at.strftime("%Y-%m-%d %H:%M UTC")
        )
    )


@router.post("/approvals/{token}", response_model=schemas.ApprovalRead)
def decide_by_link(
    token: str,
    request: Request,
    db: DB,
    decision: Literal["approve", "reject"] = Form(...),
    comment: str | None = Form(None),
) -> schemas.ApprovalRead:
    data = schemas.ApprovalDecide(decision=decision, comment=comment)
    answer = service.decide_by_link(db, token=token, data=data, request=request)
    wake_dispatcher(request)
    return answer
