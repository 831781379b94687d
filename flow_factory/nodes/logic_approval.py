"""logic.approval: the run waits, holding no process, until a person approves or rejects, or time runs out.

The step's output holds no secret: anyone who can read the run sees it. `approval_url` is the run's page in
the app, where operators and the named approvers answer; a one-time link is issued only to them through the
API (`POST /api/v1/runs/<run>/approvals/<node>/link`). Until then the stored token hash matches no link."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from blocks.runtime import platform_sessions
from core.errors import Permanent
from core.settings import get_settings
from flow_factory.nodes.base import NodeResult, NodeType, StepContext, Wait, fixed_output
from store import Approval, ApprovalStatus

HANDLES = ("approved", "rejected", "timeout")
_HANDLE_OF: dict[str, str] = {ApprovalStatus.APPROVED: "approved", ApprovalStatus.REJECTED: "rejected"}  # else: timeout


class ApprovalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str = Field(
        min_length=1,
        max_length=2000,
        description="What the approver is asked, e.g. 'Send a 20% discount to {{ trigger.name }}?'",
    )
    approvers: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Emails allowed to answer through the API besides admins and operators.",
    )
    timeout_hours: float = Field(72, gt=0, le=24 * 90, description="Hours to wait before taking the `timeout` path.")


def _sessions() -> sessionmaker[Session]:
    return platform_sessions()


def _run_page_url(execution_id: str) -> str:
    return f"{get_settings().api_public_url.rstrip('/')}/#/runs/{execution_id}"


async def run(config: ApprovalConfig, ctx: StepContext) -> NodeResult:
    unissued = secrets.token_urlsafe(32)  # never shown: no link works until one is issued
    expires_at = datetime.now(UTC) + timedelta(hours=config.timeout_hours)
    with _sessions().begin() as db:
        db.add(
            Approval(
                tenant_id=ctx.tenant_id,
                execution_id=ctx.execution_id,
                node_id=ctx.node_id,
                message=config.message,
                approvers={"emails": [e.lower() for e in config.approvers]},
                expires_at=expires_at,
                token_hash=hashlib.sha256(unissued.encode()).hexdigest(),
            )
        )
    ctx.logger.info("waiting for approval until %s", expires_at.isoformat())
    output = {
        "message": config.message,
        "approval_url": _run_page_url(ctx.execution_id),
        "expires_at": expires_at.isoformat(),
    }
    return NodeResult(output=output, wait=Wait(expires_at, "approval"))


async def resume(previous: dict[str, Any] | None, ctx: StepContext) -> NodeResult:
    with _sessions().begin() as db:
        approval = db.scalar(
            select(Approval).where(Approval.execution_id == ctx.execution_id, Approval.node_id == ctx.node_id)
        )
        if approval is None:
            raise Permanent(
                "The approval this step waited for no longer exists.",
                hint="Run the workflow again to ask for a new approval.",
            )
        if approval.status == ApprovalStatus.PENDING:
            approval.status = ApprovalStatus.TIMED_OUT
        handle = _HANDLE_OF.get(approval.status, "timeout")
        output = {
            "message": approval.message,
            "decision": handle,
            "decided_by": approval.decided_by,
            "comment": approval.comment,
            "decided_at": approval.decided_at.isoformat() if approval.decided_at else None,
        }
    return NodeResult(output=output, handle=handle)


NODE_TYPE = NodeType(
    output_fields=fixed_output(
        "message", "decision", "decided_by", "comment", "decided_at", "approval_url", "expires_at"
    ),
    type="logic.approval",
    label="Approval",
    category="Logic",
    description="Pauses the run until someone approves or rejects it (in the app, by API or a one-time link).",
    config_model=ApprovalConfig,
    run=run,
    resume=resume,
    outputs=HANDLES,
    sample_output={
        "decision": "approved",
        "decided_by": "owner@example.com",
        "comment": "Go ahead",
        "decided_at": "2026-12-01T09:00:00+00:00",
        "message": "Send the discount?",
    },
)
