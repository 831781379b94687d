"""Answering `logic.approval` steps: by an authorised user through the API, or by a one-time link."""

from __future__ import annotations

import hashlib

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from platform_api.approvals import schemas
from platform_api.deps import Caller
from platform_api.problems import Problem, not_found
from store import Approval, ApprovalStatus, Execution, ExecutionStatus, Role, User, utcnow


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


def list_approvals(db: Session, *, caller: Caller, status: str | None) -> list[schemas.ApprovalRead]:
    query = select(Approval).where(Approval.tenant_id == caller.tenant_id)
    if status:
        query = query.where(Approval.status == status)
    return [_read(a) for a in db.scalars(query.order_by(Approval.created_at.desc()).limit(200))]


def _decide(db: Session, approval: Approval, data: schemas.ApprovalDecide, decided_by: str) -> schemas.ApprovalRead:
    if approval.status != ApprovalStatus.PENDING:
        raise Problem(
            409,
            "already-decided",
            "Already answered",
            f"This approval was already {approval.status}.",
            hint="Open the run to see who answered and when.",
        )
    if approval.expires_at <= utcnow():
        raise Problem(
            410,
            "approval-expired",
            "Approval expired",
            "The time to answer this approval has run out.",
            hint="The run took its timeout path; start the workflow again if needed.",
        )
    approval.status = ApprovalStatus.APPROVED if data.decision == "approve" else ApprovalStatus.REJECTED
    approval.decided_by, approval.decided_at, approval.comment = decided_by, utcnow(), data.comment
    db.execute(  # wake the execution now instead of at the timeout
        update(Execution)
        .where(Execution.id == approval.execution_id, Execution.status == ExecutionStatus.WAITING)
        .values(resume_at=utcnow())
    )
    db.commit()
    return _read(approval)


def decide_as_user(
    db: Session, *, caller: Caller, run_id: str, node_id: str, data: schemas.ApprovalDecide
) -> schemas.ApprovalRead:
    approval = db.scalar(
        select(Approval).where(
            Approval.tenant_id == caller.tenant_id, Approval.execution_id == run_id, Approval.node_id == node_id
        )
    )
    if approval is None:
        raise not_found("approval")
    email = db.scalar(select(User.email).where(User.id == caller.user_id)) if caller.user_id else None
    if email not in approval.approvers.get("emails", []):
        caller.require(Role.OPERATOR, "answer approvals")
    return _decide(db, approval, data, email or f"api-key:{caller.api_key_id}")


def approval_by_token(db: Session, token: str) -> Approval:
    approval = db.scalar(select(Approval).where(Approval.token_hash == hashlib.sha256(token.encode()).hexdigest()))
    if approval is None:
        raise Problem(
            404,
            "not-found",
            "Link not valid",
            "This approval link is not valid.",
            hint="Use the latest link you received, or answer in the app.",
        )
    return approval


def decide_by_link(db: Session, *, token: str, data: schemas.ApprovalDecide) -> schemas.ApprovalRead:
    approval = approval_by_token(db, token)
    if approval.status != ApprovalStatus.PENDING:
        raise Problem(
            410,
            "link-used",
            "Link already used",
            f"This one-time link was already used ({approval.status}).",
            hint="Open the run in the app to see the answer.",
        )
    return _decide(db, approval, data, "one-time link")
