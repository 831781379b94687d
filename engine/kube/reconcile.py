"""Apply a tenant's Kubernetes objects and Prefect work pool, repairing drift, and delete them.

`apply_tenant` makes the tenant's namespace hold exactly what `engine.kube.objects` renders for its tier: a
missing object is created, one that differs is replaced (the namespace's labels are patched), an object Flowyard
manages that the tier no longer wants is deleted, and nothing is written when nothing differs (a second pass
changes no resourceVersion). `apply_pool` does the same in Prefect: the tenant's own `kubernetes` pool with its
pinned template when its tier has a dedicated pool, none otherwise, and the tenant's deployments on the pool
`engine.publish.tenant_work_pool` names. `delete_tenant` removes the namespace (everything in it goes with it)
and the pool. `reconcile_all` is the periodic pass: a bounded number of tenants, the least recently reconciled
first, and the namespaces and pools of workspaces that no longer exist.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import DeploymentUpdate, WorkPoolCreate, WorkPoolUpdate
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags
from prefect.exceptions import ObjectNotFound
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.naming import owned_by, tenant_prefix
from core.prefect_client import prefect_client
from core.settings import KubernetesSettings, Settings
from engine.kube.cluster import cluster
from engine.kube.doors import delete_closed_doors
from engine.kube.objects import (
    MANAGED_BY,
    TENANT_ID_LABEL,
    Manifest,
    namespace_name,
    pool_name,
    tenant_objects,
    work_pool_template,
)
from engine.publish import BatchLimits, ensure_work_queue, tenant_work_pool
from store import Tenant
from store.db import get_session_factory

log = logging.getLogger(__name__)
POOL_TYPE = "kubernetes"
PAGE = 200
MANAGED_SELECTOR = ",".join(f"{key}={value}" for key, value in MANAGED_BY.items())
# Kinds inside a tenant's namespace that Flowyard manages: one of these carrying the managed-by label that the
# tier does not want is deleted.
NAMESPACED_KINDS = (
    ("v1", "ResourceQuota"),
    ("v1", "LimitRange"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("v1", "ServiceAccount"),
    ("v1", "Secret"),
)


@dataclass(frozen=True)
class TenantRef:
    tenant_id: str
    slug: str
    tier: str


@dataclass
class Changes:
    """What a pass wrote, as `Kind/name` (or `pool/<name>`, `deployment/<name>`)."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.created or self.updated or self.deleted)

    def merge(self, other: Changes) -> Changes:
        self.created += other.created
        self.updated += other.updated
        self.deleted += other.deleted
        return self


def tenant_ref(tenant: Tenant, settings: KubernetesSettings) -> TenantRef:
    return TenantRef(tenant.id, tenant.slug, tenant.tier or settings.default_tier)


# --- Kubernetes ---------------------------------------------------------------------------------------------


def apply_tenant(kube: DynamicClient, tenant: TenantRef, settings: Settings) -> Changes:
    """Make the tenant's namespace hold exactly its tier's objects; returns what was written."""
    auth = settings.prefect.auth_string.get_secret_value() if settings.prefect.auth_string else None
    desired = tenant_objects(tenant.tenant_id, tenant.slug, tenant.tier, settings.kubernetes, prefect_auth_string=auth)
    changes = Changes()
    for manifest in desired:
        _apply_object(kube, manifest, changes)
    namespace = namespace_name(tenant.slug, settings.kubernetes)
    _delete_unwanted(kube, namespace, {_key(m) for m in desired}, changes)
    return changes


def _key(manifest: Manifest) -> str:
    return f"{manifest['kind']}/{manifest['metadata']['name']}"


def _resource(kube: DynamicClient, manifest: Manifest) -> Any:
    return kube.resources.get(api_version=manifest["apiVersion"], kind=manifest["kind"])


def _apply_object(kube: DynamicClient, manifest: Manifest, changes: Changes) -> None:
    resource = _resource(kube, manifest)
    metadata = manifest["metadata"]
    try:
        live = resource.get(name=metadata["name"], namespace=metadata.get("namespace")).to_dict()
    except NotFoundError:
        resource.create(body=manifest, namespace=metadata.get("namespace"))
        changes.created.append(_key(manifest))
        return
    if not _drifted(manifest, live):
        return
    if manifest["kind"] == "Namespace":  # its spec and status are the cluster's; only the labels are ours
        resource.patch(body={"metadata": {"labels": metadata["labels"]}}, name=metadata["name"])
    else:
        body = {**manifest, "metadata": {**metadata, "resourceVersion": live["metadata"]["resourceVersion"]}}
        resource.replace(body=body, namespace=metadata["namespace"])
    changes.updated.append(_key(manifest))


def _drifted(desired: Manifest, live: Manifest) -> bool:
    """Whether the live object differs from the rendered one in what Flowyard sets: its labels (others may add
    theirs) and every top-level field besides metadata (spec, data, automountServiceAccountToken...)."""
    labels = live["metadata"].get("labels") or {}
    if any(labels.get(key) != value for key, value in desired["metadata"]["labels"].items()):
        return True
    return any(live.get(key) != value for key, value in desired.items() if key not in ("metadata", "apiVersion"))


def _delete_unwanted(kube: DynamicClient, namespace: str, wanted: set[str], changes: Changes) -> None:
    for api_version, kind in NAMESPACED_KINDS:
        resource = kube.resources.get(api_version=api_version, kind=kind)
        for item in resource.get(namespace=namespace, label_selector=MANAGED_SELECTOR).items:
            key = f"{kind}/{item.metadata.name}"
            if key not in wanted:
                resource.delete(name=item.metadata.name, namespace=namespace)
                changes.deleted.append(key)


def delete_namespace(kube: DynamicClient, slug: str, settings: KubernetesSettings) -> bool:
    """Delete the tenant's namespace (Kubernetes then deletes everything in it); False if there was none."""
    try:
        kube.resources.get(api_version="v1", kind="Namespace").delete(name=namespace_name(slug, settings))
    except NotFoundError:
        return False
    return True


def tenant_namespaces(kube: DynamicClient, settings: KubernetesSettings) -> dict[str, str]:
    """Namespaces this platform manages (Flowyard's, with its prefix), by tenant id; those being deleted left
    out."""
    namespaces = kube.resources.get(api_version="v1", kind="Namespace").get(label_selector=MANAGED_SELECTOR)
    found = {}
    for item in namespaces.to_dict()["items"]:
        labels = item["metadata"].get("labels") or {}
        name, terminating = item["metadata"]["name"], (item.get("status") or {}).get("phase") == "Terminating"
        if TENANT_ID_LABEL in labels and name.startswith(settings.namespace_prefix) and not terminating:
            found[labels[TENANT_ID_LABEL]] = name
    return found


# --- Prefect ------------------------------------------------------------------------------------------------


def apply_pool(client: SyncPrefectClient, tenant: TenantRef, settings: Settings) -> Changes:
    """The tenant's own pool as its tier wants it, and its deployments on the pool they should run on."""
    changes = Changes()
    template = (
        work_pool_template(tenant.slug, tenant.tier, settings.kubernetes) if settings.kubernetes.enabled else None
    )
    if template is not None:
        _upsert_pool(client, pool_name(tenant.slug), template, changes)
    repoint_deployments(client, tenant, settings, changes)
    if template is None and delete_pool(client, tenant.slug):
        changes.deleted.append(f"pool/{pool_name(tenant.slug)}")
    return changes


def _upsert_pool(client: SyncPrefectClient, name: str, template: Manifest, changes: Changes) -> None:
    try:
        pool = client.read_work_pool(name)
    except ObjectNotFound:
        client.create_work_pool(WorkPoolCreate(name=name, type=POOL_TYPE, base_job_template=template))
        changes.created.append(f"pool/{name}")
        return
    if pool.type != POOL_TYPE:
        raise RuntimeError(f"work pool {name!r} is of type {pool.type!r}, not {POOL_TYPE!r}; delete it to repair")
    if pool.base_job_template != template:
        client.update_work_pool(name, WorkPoolUpdate(base_job_template=template))
        changes.updated.append(f"pool/{name}")


def repoint_deployments(client: SyncPrefectClient, tenant: TenantRef, settings: Settings, changes: Changes) -> None:
    """Move the tenant's deployments (and their work queue) to the pool its tier runs on."""
    pool = tenant_work_pool(settings, tenant.slug, tenant.tier)
    queue = tenant_prefix(tenant.slug)
    for deployment in _tenant_deployments(client, tenant):
        if deployment.work_pool_name == pool:
            continue
        limits = BatchLimits(settings.dispatcher.batches_per_workflow, settings.dispatcher.batches_per_tenant)
        ensure_work_queue(client, pool, queue, limits.per_tenant)
        client.update_deployment(deployment.id, DeploymentUpdate(work_pool_name=pool, work_queue_name=queue))
        changes.updated.append(f"deployment/{deployment.name}")


def _tenant_deployments(client: SyncPrefectClient, tenant: TenantRef) -> list[Any]:
    tagged = DeploymentFilter(tags=DeploymentFilterTags(all_=[f"tenant:{tenant.tenant_id}"]))
    found, offset = [], 0
    while page := client.read_deployments(deployment_filter=tagged, limit=PAGE, offset=offset):
        found += [deployment for deployment in page if owned_by(deployment.name, tenant.slug)]
        offset += PAGE
    return found


def delete_pool(client: SyncPrefectClient, slug: str) -> bool:
    """Delete the tenant's own pool if it has one (a Kubernetes pool named after it); False if not."""
    try:
        pool = client.read_work_pool(pool_name(slug))
    except ObjectNotFound:
        return False
    if pool.type != POOL_TYPE:
        return False
    client.delete_work_pool(pool.name)
    return True


# --- Whole tenants and the periodic pass ----------------------------------------------------------------------


def reconcile_tenant(tenant: TenantRef, settings: Settings, kube: DynamicClient | None = None) -> Changes:
    """Apply the tenant's Kubernetes objects and its pool; raises on the first cluster or Prefect error."""
    changes = Changes()
    with prefect_client(settings) as client:  # the pool first: publishing needs it, the cluster may be down
        changes.merge(apply_pool(client, tenant, settings))
    if kube is not None:
        return changes.merge(apply_tenant(kube, tenant, settings))
    with cluster(settings.kubernetes) as own:
        return changes.merge(apply_tenant(own, tenant, settings))


def delete_tenant(slug: str, settings: Settings) -> Changes:
    """Remove the tenant's namespace and pool (the workspace is being deleted)."""
    changes = Changes()
    with cluster(settings.kubernetes) as kube:
        if delete_namespace(kube, slug, settings.kubernetes):
            changes.deleted.append(f"Namespace/{namespace_name(slug, settings.kubernetes)}")
    with prefect_client(settings) as client:
        if delete_pool(client, slug):
            changes.deleted.append(f"pool/{pool_name(slug)}")
    return changes


@dataclass
class PassReport:
    reconciled: dict[str, Changes] = field(default_factory=dict)  # by slug
    failed: dict[str, str] = field(default_factory=dict)  # slug: error
    removed: list[str] = field(default_factory=list)  # namespaces of workspaces that no longer exist
    closed_doors: list[str] = field(default_factory=list)  # batch-token Secrets deleted (`engine.kube.doors`)


def reconcile_all(settings: Settings, *, limit: int | None = None, slugs: list[str] | None = None) -> PassReport:
    """The periodic pass: up to `limit` tenants (all when None), the least recently reconciled first, each in
    its own try (one tenant's error is logged and retried next pass), then orphaned namespaces and pools, and the
    Secrets of batch tokens that can no longer open anything."""
    report = PassReport()
    factory = get_session_factory(settings.platform_database_url)
    with factory() as db, cluster(settings.kubernetes) as kube:
        for tenant in _tenants_due(db, limit, slugs):
            _reconcile_one(db, kube, tenant, settings, report)
        if slugs is None:
            report.removed = _remove_orphans(db, kube, settings)
            report.closed_doors = delete_closed_doors(db, kube, settings.kubernetes)
    return report


def _tenants_due(db: Session, limit: int | None, slugs: list[str] | None) -> list[Tenant]:
    query = select(Tenant).order_by(Tenant.kube_reconciled_at.is_not(None), Tenant.kube_reconciled_at, Tenant.id)
    if slugs is not None:
        query = query.where(Tenant.slug.in_(slugs))
    return list(db.scalars(query.limit(limit)))


def _reconcile_one(db: Session, kube: DynamicClient, tenant: Tenant, settings: Settings, report: PassReport) -> None:
    ref = tenant_ref(tenant, settings.kubernetes)
    try:
        report.reconciled[ref.slug] = reconcile_tenant(ref, settings, kube)
    except Exception as exc:  # the cluster's, Prefect's, an unknown tier: the next pass tries again
        log.warning("could not reconcile tenant %s (%s) on Kubernetes", ref.slug, ref.tenant_id, exc_info=True)
        report.failed[ref.slug] = f"{type(exc).__name__}: {exc}"
        return
    tenant.kube_reconciled_at = datetime.now(UTC)
    db.commit()


def mark_reconciled(settings: Settings, tenant_id: str) -> None:
    with get_session_factory(settings.platform_database_url)() as db:
        tenant = db.get(Tenant, tenant_id)
        if tenant is not None:
            tenant.kube_reconciled_at = datetime.now(UTC)
            db.commit()


def _remove_orphans(db: Session, kube: DynamicClient, settings: Settings) -> list[str]:
    """Namespaces (and pools) of workspaces that were deleted while the cluster could not be reached."""
    namespaces = tenant_namespaces(kube, settings.kubernetes)
    existing = set(db.scalars(select(Tenant.id).where(Tenant.id.in_(list(namespaces)))))
    removed = []
    for tenant_id, namespace in namespaces.items():
        if tenant_id in existing:
            continue
        slug = namespace.removeprefix(settings.kubernetes.namespace_prefix)
        delete_tenant(slug, settings)
        removed.append(namespace)
    return removed
