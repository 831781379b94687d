"""What blocks need from the process they run in: settings and the platform database."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from core.settings import DEFAULT_RATE_LIMITS, IntegrationSettings, Settings, get_settings
from store.db import get_session_factory


def settings() -> Settings:
    return get_settings()


def integration_settings() -> IntegrationSettings:
    return get_settings().integrations


def platform_sessions() -> sessionmaker[Session]:
    return get_session_factory(get_settings().platform_database_url)


def rate_limit_per_second(integration: str) -> float:
    limits = integration_settings().rate_limits
    return float(limits.get(integration, DEFAULT_RATE_LIMITS.get(integration, 0.0)))
