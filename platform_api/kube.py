"""A workspace's Kubernetes namespace and work pool, kept in step with the workspace (`engine.kube`).

Sign-up never fails because of the cluster: the workspace is created first, then reconciled after the answer
is sent; an error is logged and the periodic pass (`flowyard kube reconcile`, the maintenance flow) tries
again, least recently reconciled first. Deleting a workspace deletes its namespace and pool; if the cluster
cannot be reached the deletion goes on and the periodic pass removes the namespace of a workspace that no
longer exists."""

from __future__ import annotations

import logging

from core.settings import Settings
from engine.kube.reconcile import TenantRef, delete_tenant, mark_reconciled, reconcile_tenant

log = logging.getLogger(__name__)


def provision_workspace(settings: Settings, tenant: TenantRef) -> None:
    if not settings.kubernetes.enabled:
        return
    try:
        reconcile_tenant(tenant, settings)
    except Exception:
        log.warning(
            "workspace %s created, its Kubernetes objects not yet: the next pass retries", tenant.slug, exc_info=True
        )
        return
    mark_reconciled(settings, tenant.tenant_id)


def deprovision_workspace(settings: Settings, slug: str) -> list[str]:
    """Delete the workspace's namespace and pool; what was deleted, or `["deferred"]` when the cluster or
    Prefect failed (the periodic pass removes them)."""
    if not settings.kubernetes.enabled:
        return []
    try:
        return delete_tenant(slug, settings).deleted
    except Exception:
        log.warning("workspace %s deleted, its namespace not yet: the next pass removes it", slug, exc_info=True)
        return ["deferred"]
