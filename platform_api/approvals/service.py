"""Answering `logic.approval` steps: by an authorised user through the API, or by a one-time link.

Only operators (and above) and the step's named approvers answer. A one-time link is issued to one of them
(`issue_link`, which replaces any earlier link) and answers in that person's name. Every answer is one
conditional UPDATE (`... WHERE status = 'pending'`): of two answers at once, exactly one counts."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any, cast

from fastapi import Request
from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from core.settings import Settings
from platform_api.approvals import schemas
from platform_api.audit.service import audit
from platform_api.deps import Caller
from platform_api.permissions import permissions_of
from platform_api.problems import Problem, not_found
from store import (
    Approval,
    ApprovalStatus,
    Execution,
    ExecutionStatus,
    Role,
    User,
    Workflow,
    WorkflowVersion,
    utcnow,
)
from store.sealed import seal_as


def _read(approval: Approval) -> schemas.ApprovalRead:
    return schemas.ApprovalRead(
        id=approval.id,
        run_id=approval.execution_id,
        node_id=approval.node_id,
        message=approval.message,
        status=approval.status,
        expires_at=approval.expires_at,
        decided_by=approval.decided_by,
        decided_at=approval.decided_at,
        comment=approval.comment,
    )


def list_approvals(
    db: Session, *, caller: Caller, status: str | None, decidable: bool = False
) -> list[schemas.ApprovalItem]:
    """The newest 200 of the workspace (of `status`), each with its run's context; `decidable`: only those the
    caller may answer (every one for operators and above, else those that name the caller an approver)."""
    query = (
        select(Approval, Execution, Workflow.name)
        .join(Execution, Execution.id == Approval.execution_id)
        .join(Workflow, Workflow.id == Execution.workflow_id)
        .where(Approval.tenant_id == caller.tenant_id)
    )
    if status:
        query = query.where(Approval.status == status)
    rows = db.execute(query.order_by(Approval.created_at.desc()).limit(200)).all()
    email = db.scalar(select(User.email).where(User.id == caller.user_id)) if caller.user_id else None
    operator = not (permissions_of(Role.OPERATOR) - caller.permissions)  # as `caller.require(Role.OPERATOR)`
    labels = _step_labels(db, {(e.workflow_id, e.version) for _, e, _ in rows})
    items = []
    for approval, execution, workflow_name in rows:
        can_decide = operator or (email is not None and email in approval.approvers.get("emails", []))
        if decidable and not can_decide:
            continue
        items.append(
            schemas.ApprovalItem(
                **_read(approval).model_dump(),
                created_at=approval.created_at,
                workflow_id=execution.workflow_id,
                workflow_name=workflow_name,
                step_label=labels.get((execution.workflow_id, execution.version, approval.node_id), approval.node_id),
                run_status=execution.status,
                run_input=execution.input or {},
                can_decide=can_decide,
            )
        )
    return items


def _step_labels(db: Session, versions: set[tuple[str, int]]) -> dict[tuple[str, int, str], str]:
    labels: dict[tuple[str, int, str], str] = {}
    for workflow_id, version in versions:
        graph = db.scalar(
            select(WorkflowVersion.graph).where(
                WorkflowVersion.workflow_id == workflow_id, WorkflowVersion.version == version
            )
        )
        for node in (graph or {}).get("nodes", []):
            if node.get("label"):
                labels[(workflow_id, version, node["id"])] = node["label"]
    return labels


def _already_decided(approval: Approval) -> Problem:
    return Problem(
        409,
        "already-decided",
        "Already answered",
        f"This approval was already {approval.status}.",
        hint="Open the run to see who answered and when.",
    )


def _decide(
    db: Session,
    approval: Approval,
    data: schemas.ApprovalDecide,
    decided_by: str,
    *,
    caller: Caller | None,
    request: Request | None,
    token_hash: str | None = None,
) -> schemas.ApprovalRead:
    if approval.status != ApprovalStatus.PENDING:
        raise _already_decided(approval)
    if approval.expires_at <= utcnow():
        raise Problem(
            410,
            "approval-expired",
            "Approval expired",
            "The time to answer this approval has run out.",
            hint="The run took its timeout path; start the workflow again if needed.",
        )
    # The run's row first, as the engine's end of batch takes it before it reads the answers: else an answer
    # given as the run stops to wait would be seen by neither side and the run would wait for its timeout.
    db.execute(select(Execution.id).where(Execution.id == approval.execution_id).with_for_update())
    still_open = [Approval.id == approval.id, Approval.status == ApprovalStatus.PENDING]
    seal_as(db, approval.tenant_id)  # the comment is sealed; a link's answer has no signed-in workspace
    if token_hash is not None:
        still_open.append(Approval.token_hash == token_hash)  # a link replaced meanwhile no longer answers
    answered = cast(
        CursorResult[Any],
        db.execute(
            update(Approval)
            .where(*still_open)
            .values(
                status=ApprovalStatus.APPROVED if data.decision == "approve" else ApprovalStatus.REJECTED,
                decided_by=decided_by,
                decided_at=utcnow(),
                comment=data.comment,
            )
            .execution_options(synchronize_session=False)
        ),
    )
    if answered.rowcount != 1:  # another answer came first
        db.rollback()
        db.refresh(approval)
        raise _already_decided(approval) if token_hash is None else _link_used(approval)
    db.execute(  # wake the execution now instead of at the timeout
        update(Execution)
        .where(Execution.id == approval.execution_id, Execution.status == ExecutionStatus.WAITING)
        .values(resume_at=utcnow())
    )
    detail = {"run_id": approval.execution_id, "node_id": approval.node_id, "decision": data.decision}
    audit(
        db,
        caller,
        "approval.decided",
        f"approval:{approval.id}",
        request=request,
        detail={**detail, "by_link": token_hash is not None},
        tenant_id=approval.tenant_id,
    )
    db.commit()
    db.refresh(approval)
    return _read(approval)


def decide_as_user(
    db: Session,
    *,
    caller: Caller,
    run_id: str,
    node_id: str,
    data: schemas.ApprovalDecide,
    request: Request | None = None,
) -> schemas.ApprovalRead:
    approval = _owned_approval(db, caller, run_id, node_id)
    return _decide(db, approval, data, _answerer(db, caller, approval), caller=caller, request=request)


def _owned_approval(db: Session, caller: Caller, run_id: str, node_id: str) -> Approval:
    approval = db.scalar(
        select(Approval).where(
            Approval.tenant_id == caller.tenant_id, Approval.execution_id == run_id, Approval.node_id == node_id
        )
    )
    if approval is None:
        raise not_found("approval")
    return approval


def _answerer(db: Session, caller: Caller, approval: Approval) -> str:
    """Who the caller answers as: a named approver, or an operator (and above); else 403."""
    email = db.scalar(select(User.email).where(User.id == caller.user_id)) if caller.user_id else None
    if email not in approval.approvers.get("emails", []):
        caller.require(Role.OPERATOR, "answer approvals")
    return email or f"api-key:{caller.api_key_id}"


def issue_link(
    db: Session, *, caller: Caller, run_id: str, node_id: str, data: schemas.ApprovalLinkCreate, settings: Settings
) -> schemas.ApprovalLink:
    """A new one-time link (any earlier one stops working) that answers as the caller or a named approver."""
    approval = _owned_approval(db, caller, run_id, node_id)
    issued_to = _answerer(db, caller, approval)
    if data.approver is not None:
        caller.require(Role.OPERATOR, "issue approval links for others")
        issued_to = data.approver.strip().lower()
        if issued_to not in approval.approvers.get("emails", []):
            raise Problem(
                422,
                "not-an-approver",
                "Not an approver of this step",
                f"{issued_to} is not one of this step's approvers.",
                hint="Name one of the emails in the step's approvers, or leave approver out to answer yourself.",
                errors=[{"path": "approver", "message": "not one of the step's approvers", "hint": ""}],
            )
    if approval.status != ApprovalStatus.PENDING:
        raise _already_decided(approval)
    token = secrets.token_urlsafe(32)
    approval.token_hash = _hash(token)
    approval.approvers = {**approval.approvers, "link_issued_to": issued_to}
    db.commit()
    return schemas.ApprovalLink(
        url=f"{settings.api_public_url.rstrip('/')}/approvals/{token}",
        issued_to=issued_to,
        expires_at=approval.expires_at,
    )


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _link_used(approval: Approval) -> Problem:
    return Problem(
        410,
        "link-used",
        "Link already used",
        f"This one-time link was already used ({approval.status}).",
        hint="Open the run in the app to see the answer.",
    )


def approval_by_token(db: Session, token: str) -> Approval:
    approval = db.scalar(select(Approval).where(Approval.token_hash == _hash(token)))
    if approval is None:
        raise Problem(
            404,
            "not-found",
            "Link not valid",
            "This approval link is not valid.",
            hint="Use the latest link you received, or answer in the app.",
        )
    return approval


def decide_by_link(
    db: Session, *, token: str, data: schemas.ApprovalDecide, request: Request | None = None
) -> schemas.ApprovalRead:
    approval = approval_by_token(db, token)
    if approval.status != ApprovalStatus.PENDING:
        raise _link_used(approval)
    issued_to = approval.approvers.get("link_issued_to") or "one-time link"
    decided_by = f"{issued_to} (by link)"[:320]
    return _decide(db, approval, data, decided_by, caller=None, request=request, token_hash=_hash(token))
