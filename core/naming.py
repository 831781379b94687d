"""How a tenant's Prefect objects are named: `t-<tenant slug>-...`. The platform API resolves the tenant
from the caller and derives names with these functions; a name that does not start with the tenant's
prefix is never passed to Prefect on its behalf."""

from __future__ import annotations

import re


def tenant_prefix(tenant_slug: str) -> str:
    """`t-<slug>`: also the name of the tenant's work queue and its tag."""
    return f"t-{tenant_slug}"


def tenant_object_name(tenant_slug: str, *parts: str) -> str:
    """`t-<slug>-<part>-<part>`: a deployment, block document or concurrency limit of the tenant."""
    return "-".join((tenant_prefix(tenant_slug), *parts))


def owned_by(name: str, tenant_slug: str) -> bool:
    return name.startswith(tenant_prefix(tenant_slug) + "-")


def tenant_tags(tenant_slug: str, tenant_id: str) -> list[str]:
    return [tenant_prefix(tenant_slug), f"tenant:{tenant_id}", "flowyard"]


def slugify(text: str, max_length: int = 60, default: str = "default") -> str:
    """Lowercase letters, digits and single dashes."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:max_length].strip("-") or default
