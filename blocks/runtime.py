"""What blocks need from the process they run in: settings and the platform database."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from core.errors import Permanent
from core.settings import DEFAULT_RATE_LIMITS, IntegrationSettings, Settings, get_settings
from store.db import get_session_factory


def settings() -> Settings:
    return get_settings()


def integration_settings() -> IntegrationSettings:
    return get_settings().integrations


class NoPlatformDatabase(Permanent):
    """A step needed the platform database inside a tenant's Job, which holds none (the batch door): the step
    fails with this, as a configuration error the workspace's operator can act on."""


def platform_sessions() -> sessionmaker[Session]:
    """The platform database; refused inside a tenant's Job, which must not hold its credentials and whose
    default URL would open an empty local database instead."""
    current = get_settings()
    if current.batch_door.url:
        raise NoPlatformDatabase(
            "This step needs the platform database (connections, CRM, approvals, the send ledger or alerts), which "
            "a dedicated workspace's Jobs do not reach yet.",
            hint="Ask the operator to move the workspace to the shared tier (flowyard tenants tier <slug> shared).",
        )
    return get_session_factory(current.platform_database_url)


def rate_limit_per_second(integration: str) -> float:
    limits = integration_settings().rate_limits
    return float(limits.get(integration, DEFAULT_RATE_LIMITS.get(integration, 0.0)))
