"""The platform database: one declarative base, the tables, sessions and migrations."""

from store import integration_models  # noqa: E402,F401  (registers the integrations tables on Base.metadata)
