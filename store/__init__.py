"""The platform database: one declarative base, the tables by domain, sessions and migrations.

Importing `store` registers every table on `Base.metadata`; callers import tables from here
(`from store import Execution`) and the engine's bulk SQL from `store.batches`.
"""

from store.alerts import Alert
from store.audit import AuditEvent, record_event
from store.base import Base, IdMixin, JsonType, TenantOwnedMixin, TimestampMixin, UtcDateTime, new_id, utcnow
from store.catalog import FTS_TABLE, CatalogTemplate, CatalogTemplateTag, CatalogTemplateVersion, WorkflowLineage
from store.crm import CrmActivity, CrmCompany, CrmContact, CrmDeal, CrmRecordRun, CrmTag
from store.executions import Approval, Batch, Execution, StepResult, enqueue_execution
from store.ledger import SideEffect
from store.notifications import Notification, NotificationPreference, emails_muted_by
from store.privacy import PrivacyExport
from store.publish_requests import (
    PublishPolicy,
    PublishRequest,
    PublishRequestStatus,
    close_fulfilled_publish_requests,
    mark_stale_publish_requests,
)
from store.quotas import TenantMinuteCount, TenantQuota, TriggerKind, count_one
from store.reports import RunRollup, StepRollup
from store.search import DEFAULT_SEARCH_FIELDS, RunSearchKey
from store.secrets import Connection, OAuthState, RetiredTenantKey, TenantKey
from store.statuses import (
    DEAL_STAGES,
    FINAL_EXECUTION_STATUSES,
    FINISHED_STEP_STATUSES,
    ROLES,
    AlertStatus,
    ApprovalStatus,
    ConflictPolicy,
    ConnectionStatus,
    DealStage,
    ExecutionMode,
    ExecutionStatus,
    Role,
    SideEffectStatus,
    StepStatus,
)
from store.tenancy import (
    ApiKey,
    Invitation,
    LoginAttempt,
    LoginSession,
    Membership,
    PasswordReset,
    Tenant,
    User,
)
from store.triggers import Outbox, TriggerSubscription, WebhookEndpoint
from store.workflows import Workflow, WorkflowVersion

__all__ = [
    "DEFAULT_SEARCH_FIELDS",
    "RunSearchKey",
    "Alert",
    "AlertStatus",
    "RunRollup",
    "StepRollup",
    "AuditEvent",
    "record_event",
    "Base",
    "IdMixin",
    "JsonType",
    "TenantOwnedMixin",
    "TimestampMixin",
    "UtcDateTime",
    "new_id",
    "utcnow",
    "FTS_TABLE",
    "CatalogTemplate",
    "CatalogTemplateTag",
    "CatalogTemplateVersion",
    "WorkflowLineage",
    "CrmActivity",
    "CrmCompany",
    "CrmContact",
    "CrmDeal",
    "CrmRecordRun",
    "CrmTag",
    "Approval",
    "Batch",
    "Execution",
    "StepResult",
    "enqueue_execution",
    "SideEffect",
    "Notification",
    "NotificationPreference",
    "emails_muted_by",
    "PrivacyExport",
    "PublishPolicy",
    "PublishRequest",
    "PublishRequestStatus",
    "close_fulfilled_publish_requests",
    "mark_stale_publish_requests",
    "TenantMinuteCount",
    "TenantQuota",
    "TriggerKind",
    "count_one",
    "Connection",
    "OAuthState",
    "TenantKey",
    "RetiredTenantKey",
    "FINAL_EXECUTION_STATUSES",
    "FINISHED_STEP_STATUSES",
    "ROLES",
    "ApprovalStatus",
    "ConflictPolicy",
    "ConnectionStatus",
    "DEAL_STAGES",
    "DealStage",
    "ExecutionMode",
    "ExecutionStatus",
    "Role",
    "SideEffectStatus",
    "StepStatus",
    "ApiKey",
    "Invitation",
    "LoginAttempt",
    "PasswordReset",
    "LoginSession",
    "Membership",
    "Tenant",
    "User",
    "Outbox",
    "TriggerSubscription",
    "WebhookEndpoint",
    "Workflow",
    "WorkflowVersion",
]
