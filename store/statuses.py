"""Every status and closed set of words the platform stores. The API's words (which may differ, e.g. a
`queued` or `batched` execution is a `pending` run) are mapped in the API schemas, not here."""

from __future__ import annotations

from enum import StrEnum


class ExecutionStatus(StrEnum):
    QUEUED = "queued"  # accepted, in no batch yet
    BATCHED = "batched"  # in a batch whose flow run has not started it yet
    RUNNING = "running"
    WAITING = "waiting"  # left its batch for a delay or an approval
    NEEDS_ATTENTION = "needs_attention"  # a send may have gone through: a person says whether (run control)
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_EXECUTION_STATUSES = (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED)


class StepStatus(StrEnum):
    RUNNING = "running"
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"  # a disabled step: it did not run, its input passed through


FINISHED_STEP_STATUSES = (StepStatus.COMPLETED, StepStatus.FAILED, StepStatus.SKIPPED)


class ExecutionMode(StrEnum):
    LIVE = "live"
    TEST = "test"


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"  # its run was cancelled


class SideEffectStatus(StrEnum):
    SENDING = "sending"
    DONE = "done"
    UNCERTAIN = "uncertain"


class AlertStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class ConnectionStatus(StrEnum):
    UNTESTED = "untested"
    OK = "ok"
    FAILED = "failed"
    NEEDS_AUTH = "needs_auth"


class ConflictPolicy(StrEnum):
    PARALLEL = "parallel"
    QUEUE = "queue"
    SKIP = "skip"


class Role(StrEnum):
    """Most powerful first."""

    OWNER = "owner"
    ADMIN = "admin"
    EDITOR = "editor"
    OPERATOR = "operator"
    VIEWER = "viewer"

    def at_least(self, needed: Role) -> bool:
        return ROLES.index(self) <= ROLES.index(needed)


ROLES = tuple(Role)


class DealStage(StrEnum):
    LEAD = "lead"
    QUALIFIED = "qualified"
    PROPOSAL = "proposal"
    NEGOTIATION = "negotiation"
    WON = "won"
    LOST = "lost"


DEAL_STAGES = tuple(DealStage)
