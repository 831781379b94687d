"""Publish requests: asking for a version to go live where publishing needs approval, listing and reading them
(with what would change), and an owner's or admin's approval (which deploys exactly the requested version) or
rejection. Every step is audited; reviewers are told of a new request and the requester of the decision."""

from __future__ import annotations

from fastapi import Request, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.settings import Settings
from flow_factory.diff import diff_graphs
from notifications.people import actor_name, notify_owners_and_admins
from platform_api.audit.service import audit
from platform_api.deps import Caller
from platform_api.pagination import paginate
from platform_api.problems import Problem, not_found
from platform_api.publish_requests import policy, schemas
from platform_api.triggers import service as triggers
from platform_api.workflows import service as workflows
from store import (
    Notification,
    PublishRequest,
    PublishRequestStatus,
    Role,
    User,
    Workflow,
    utcnow,
)


def _pending(db: Session, workflow_id: str, version: int) -> PublishRequest | None:
    return db.scalar(
        select(PublishRequest).where(
            PublishRequest.workflow_id == workflow_id,
            PublishRequest.version == version,
            PublishRequest.status == PublishRequestStatus.PENDING,
        )
    )


def request_if_required(
    db: Session, *, caller: Caller, workflow_id: str, request: Request | None = None
) -> schemas.PublishPending | None:
    """None when the caller publishes directly; otherwise the pending request for the latest version (made now,
    or the one already waiting), after the same checks as a publish (a valid graph, its connections)."""
    caller.require(Role.EDITOR, "publish workflows")
    workflow = workflows.get_owned_workflow(db, caller, workflow_id)
    if policy.publishes_directly(db, caller=caller, workflow=workflow):
        return None
    version = workflow.latest_version
    workflows.check_publishable(db, caller, workflows.get_version(db, workflow, version).graph)
    existing = _pending(db, workflow.id, version)
    if existing is not None:
        return schemas.PublishPending(request_id=existing.id, version=version)
    row = PublishRequest(
        tenant_id=caller.tenant_id,
        workflow_id=workflow.id,
        version=version,
        requested_by=caller.user_id,
        status=PublishRequestStatus.PENDING,
    )
    db.add(row)
    try:
        db.flush()
    except IntegrityError:  # the same request made at the same moment: answer with that one
        db.rollback()
        existing = _pending(db, workflow_id, version)
        if existing is None:
            raise
        return schemas.PublishPending(request_id=existing.id, version=version)
    detail = {"workflow_id": workflow.id, "version": version}
    audit(db, caller, "publish_request.created", f"publish_request:{row.id}", request=request, detail=detail)
    _notify_reviewers(db, caller=caller, workflow=workflow, row=row)
    db.commit()
    return schemas.PublishPending(request_id=row.id, version=version)


def _notify_reviewers(db: Session, *, caller: Caller, workflow: Workflow, row: PublishRequest) -> None:
    """Tell the workspace's owners and admins (but the requester) that a version waits for their approval."""
    who = actor_name(db, caller.user_id)
    notify_owners_and_admins(
        db,
        workflow.tenant_id,
        kind="publish_requested",
        title=f"Approval requested: '{workflow.name}' version {row.version}",
        body=f"{who} asks to publish version {row.version} of '{workflow.name}'. Review what changes and approve or "
        "reject it.",
        data={"workflow_id": workflow.id, "request_id": row.id, "version": row.version, "by": who},
        skip=caller.user_id,
    )


def _notify_requester(
    db: Session, *, caller: Caller, workflow: Workflow, row: PublishRequest, webhook_created: bool = False
) -> None:
    if row.requested_by is None or row.requested_by == caller.user_id:
        return
    who = actor_name(db, caller.user_id)
    comment = f' Comment: "{row.comment}"' if row.comment else ""
    if webhook_created:  # the secret is never in a notification: it was shown once, to the approver
        comment += (
            f" Publishing created its webhook; {who} was shown its signing secret once. To get a secret of your own,"
            " open the workflow's trigger step, Trigger tab, and rotate it (the one shown before then stops working)."
        )
    outcome = "approved and published" if row.status == PublishRequestStatus.APPROVED else "rejected"
    db.add(
        Notification(
            tenant_id=workflow.tenant_id,
            user_id=row.requested_by,
            kind=f"publish_request_{row.status}",
            title=f"Publish request {row.status}: '{workflow.name}' version {row.version}",
            body=f"{who} {outcome} version {row.version} of '{workflow.name}'.{comment}",
            data={"workflow_id": workflow.id, "request_id": row.id, "version": row.version, "by": who},
        )
    )


def _emails(db: Session, user_ids: set[str | None]) -> dict[str, str]:
    ids = {user_id for user_id in user_ids if user_id}
    if not ids:
        return {}
    return {user_id: email for user_id, email in db.execute(select(User.id, User.email).where(User.id.in_(ids)))}


def _reads(db: Session, rows: list[PublishRequest]) -> list[schemas.PublishRequestRead]:
    emails = _emails(db, {r.requested_by for r in rows} | {r.decided_by for r in rows})
    workflow_ids = {r.workflow_id for r in rows}
    by_id = {w.id: w for w in db.scalars(select(Workflow).where(Workflow.id.in_(workflow_ids)))}
    return [
        schemas.PublishRequestRead(
            id=r.id,
            workflow_id=r.workflow_id,
            workflow_name=by_id[r.workflow_id].name,
            version=r.version,
            status=PublishRequestStatus(r.status).value,
            requested_by=emails.get(r.requested_by or ""),
            created_at=r.created_at,
            decided_by=emails.get(r.decided_by or ""),
            decided_at=r.decided_at,
            comment=r.comment,
            live_version=by_id[r.workflow_id].published_version,
        )
        for r in rows
    ]


def list_requests(
    db: Session,
    *,
    caller: Caller,
    status: str | None,
    workflow_id: str | None,
    limit: int,
    cursor: str | None,
    request: Request,
    response: Response,
) -> list[schemas.PublishRequestRead]:
    query = (
        select(PublishRequest)
        .join(Workflow, Workflow.id == PublishRequest.workflow_id)
        .where(PublishRequest.tenant_id == caller.tenant_id, Workflow.deleted_at.is_(None))
    )
    if status is not None:
        query = query.where(PublishRequest.status == status)
    if workflow_id is not None:
        query = query.where(PublishRequest.workflow_id == workflow_id)
    rows = paginate(
        db,
        query,
        order=((PublishRequest.created_at, True),),
        row_id=PublishRequest.id,
        limit=limit,
        cursor=cursor,
        request=request,
        response=response,
    )
    return _reads(db, rows)


def _owned(db: Session, caller: Caller, request_id: str) -> tuple[PublishRequest, Workflow]:
    row = db.scalar(
        select(PublishRequest).where(PublishRequest.id == request_id, PublishRequest.tenant_id == caller.tenant_id)
    )
    if row is None:
        raise not_found("publish request")
    return row, workflows.get_owned_workflow(db, caller, row.workflow_id)


def read_request(db: Session, *, caller: Caller, request_id: str) -> schemas.PublishRequestDetail:
    row, workflow = _owned(db, caller, request_id)
    return _detail(db, row, workflow)


def _detail(db: Session, row: PublishRequest, workflow: Workflow) -> schemas.PublishRequestDetail:
    live = workflows.get_version(db, workflow, workflow.published_version).graph if workflow.published_version else None
    requested = workflows.get_version(db, workflow, row.version).graph
    return schemas.PublishRequestDetail(
        **_reads(db, [row])[0].model_dump(),
        diff=diff_graphs(live, requested),
        has_webhook=triggers.has_live_endpoint(db, workflow.id),
    )


def _check_reviewer(caller: Caller) -> None:
    if not Role(caller.role).at_least(Role.ADMIN):
        raise Problem(
            403,
            "forbidden",
            "Not allowed",
            f"Your role '{caller.role}' cannot approve or reject publish requests.",
            hint="Ask an owner or admin of the workspace to review it.",
        )


def _check_open(row: PublishRequest, workflow: Workflow) -> None:
    if row.status == PublishRequestStatus.STALE:
        raise Problem(
            409,
            "publish-request-stale",
            "Request out of date",
            f"Version {workflow.published_version} of '{workflow.name}' was published after this request for "
            f"version {row.version} was made; version {workflow.published_version} is live now.",
            hint="Look at the workflow as it is now; to publish another version, ask for approval again "
            f"(POST /api/v1/workflows/{workflow.id}/publish).",
            errors=[
                {
                    "path": "version",
                    "message": f"version {workflow.published_version} is live now",
                    "hint": "ask for approval again",
                }
            ],
        )
    if row.status != PublishRequestStatus.PENDING:
        raise Problem(
            409,
            "publish-request-decided",
            "Already decided",
            f"This request was already {row.status} on {row.decided_at:%Y-%m-%d %H:%M} UTC."
            if row.decided_at
            else f"This request was already {row.status}.",
            hint="GET /api/v1/publish-requests?status=pending lists the requests still waiting.",
        )


def approve(
    db: Session,
    *,
    caller: Caller,
    request_id: str,
    data: schemas.PublishDecision,
    settings: Settings,
    request: Request | None = None,
) -> schemas.PublishApproved:
    """Deploy exactly the requested version (even when newer drafts exist) and mark the request approved, in one
    transaction with the deployment's records; when the engine is down (503) the request stays pending.

    When this publish creates the workflow's webhook endpoint, its new secret is in this answer only, for the
    approver (who can rotate it anyway); it is stored sealed and never shown again. The audit records that it was
    shown and to whom; the requester's notification says so and how to get one of their own (a rotation)."""
    _check_reviewer(caller)
    row, workflow = _owned(db, caller, request_id)
    _check_open(row, workflow)
    if row.requested_by is not None and row.requested_by == caller.user_id:
        raise Problem(
            403,
            "publish-request-own",
            "Cannot approve your own request",
            "You asked for this version to be published; someone else must approve it.",
            hint="Ask another owner or admin of the workspace to review it.",
        )

    webhook_created = triggers.creates_endpoint(db, workflow.id, workflows.get_version(db, workflow, row.version).graph)

    def record_approval() -> None:
        row.status = PublishRequestStatus.APPROVED
        row.decided_by, row.decided_at, row.comment = caller.user_id, utcnow(), data.comment
        detail = {"workflow_id": workflow.id, "version": row.version, "webhook_created": webhook_created}
        audit(db, caller, "publish_request.approved", f"publish_request:{row.id}", request=request, detail=detail)
        _notify_requester(db, caller=caller, workflow=workflow, row=row, webhook_created=webhook_created)

    published = workflows.publish_version(
        db,
        caller=caller,
        workflow=workflow,
        version=row.version,
        settings=settings,
        request=request,
        on_deployed=record_approval,
    )
    return schemas.PublishApproved(**_detail(db, row, workflow).model_dump(), webhook_secret=published.webhook_secret)


def reject(
    db: Session, *, caller: Caller, request_id: str, data: schemas.PublishDecision, request: Request | None = None
) -> schemas.PublishRequestDetail:
    """Close the request without publishing (a requester who reviews may withdraw their own this way)."""
    _check_reviewer(caller)
    row, workflow = _owned(db, caller, request_id)
    _check_open(row, workflow)
    row.status = PublishRequestStatus.REJECTED
    row.decided_by, row.decided_at, row.comment = caller.user_id, utcnow(), data.comment
    detail = {"workflow_id": workflow.id, "version": row.version}
    audit(db, caller, "publish_request.rejected", f"publish_request:{row.id}", request=request, detail=detail)
    _notify_requester(db, caller=caller, workflow=workflow, row=row)
    db.commit()
    return _detail(db, row, workflow)
