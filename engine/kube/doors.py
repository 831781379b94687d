"""Batch tokens for tenants' Jobs (the batch door, docs/kubernetes.md).

When the dispatcher submits a batch of a workspace whose tier runs Jobs in its own namespace, it mints the
batch's token (`store.batch_door.mint_door_token`: only its SHA-256 is stored) and writes it to a Secret of that
namespace, which the flow run's job variables name (`batch_secret`) and the pool's template maps into the Job's
FLOWYARD_BATCH_DOOR__TOKEN. Prefect sees the Secret's name, never the token. The hourly maintenance pass deletes
the Secrets of batches that ended or expired.
"""

from __future__ import annotations

import base64
import logging
from datetime import datetime, timedelta

from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.settings import KubernetesSettings, Settings
from engine.kube.cluster import cluster
from engine.kube.objects import (
    BATCH_SECRET_VARIABLE,
    TENANT_ID_LABEL,
    Manifest,
    batch_secret_name,
    namespace_name,
    tier_of,
)
from store import Batch, Tenant, utcnow
from store.batch_door import mint_door_token

log = logging.getLogger(__name__)
BATCH_LABEL = "flowyard.io/batch-id"
EXPIRES_ANNOTATION = "flowyard.io/expires-at"


def job_batches(db: Session, batches: list[Batch], settings: Settings) -> dict[str, str]:
    """Batch id -> its tenant's namespace, for the batches that run as Jobs in a tenant's namespace."""
    kube = settings.kubernetes
    if not kube.enabled or not batches:
        return {}
    rows = db.execute(
        select(Batch.id, Tenant.slug, Tenant.tier)
        .join(Tenant, Tenant.id == Batch.tenant_id)
        .where(Batch.id.in_([b.id for b in batches]))
    )
    return {
        id: namespace_name(slug, kube)
        for id, slug, tier in rows
        if tier_of(tier or kube.default_tier, kube).dedicated_pool
    }


def open_doors(db: Session, batches: list[Batch], settings: Settings) -> tuple[dict[str, dict[str, str]], set[str]]:
    """Mint and store the token of each batch that runs as a Job. Returns the job variables of those batches
    and the ids of batches not to submit now (their Secret could not be written: the next pass tries again).
    The caller commits."""
    namespaces = job_batches(db, batches, settings)
    variables: dict[str, dict[str, str]] = {}
    if not namespaces:
        return variables, set()
    expires_at = utcnow() + timedelta(hours=settings.kubernetes.batch_token_hours)
    try:
        with cluster(settings.kubernetes) as kube:
            for batch in (b for b in batches if b.id in namespaces):
                token = mint_door_token(batch, expires_at)
                apply_secret(kube, batch_secret(batch, namespaces[batch.id], token, expires_at))
                variables[batch.id] = {BATCH_SECRET_VARIABLE: batch_secret_name(batch.id)}
    except Exception as exc:  # the cluster is unreachable: these batches wait, the others go on
        log.warning("Could not write batch tokens to Kubernetes (%s); those batches wait for the next pass", exc)
    return variables, set(namespaces) - set(variables)


def batch_secret(batch: Batch, namespace: str, token: str, expires_at: datetime) -> Manifest:
    """Not labelled managed-by: the tenant reconciler deletes managed objects its tier does not render."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": batch_secret_name(batch.id),
            "namespace": namespace,
            "labels": {BATCH_LABEL: batch.id, TENANT_ID_LABEL: batch.tenant_id},
            "annotations": {EXPIRES_ANNOTATION: expires_at.isoformat()},
        },
        "type": "Opaque",
        "data": {"token": base64.b64encode(token.encode()).decode()},
    }


def apply_secret(kube: DynamicClient, manifest: Manifest) -> None:
    secrets = kube.resources.get(api_version="v1", kind="Secret")
    metadata = manifest["metadata"]
    try:
        secrets.get(name=metadata["name"], namespace=metadata["namespace"])
    except NotFoundError:
        secrets.create(body=manifest, namespace=metadata["namespace"])
        return
    secrets.replace(body=manifest, name=metadata["name"], namespace=metadata["namespace"])


def delete_closed_doors(db: Session, kube: DynamicClient, settings: KubernetesSettings) -> list[str]:
    """Delete the batch-token Secrets whose batch ended (its door closed), is gone, or expired; in this
    platform's tenant namespaces only (another platform may share the cluster, with another prefix)."""
    secrets = kube.resources.get(api_version="v1", kind="Secret")
    found = [
        secret
        for secret in secrets.get(label_selector=BATCH_LABEL).to_dict()["items"]
        if secret["metadata"]["namespace"].startswith(settings.namespace_prefix)
    ]
    batch_ids = [s["metadata"]["labels"][BATCH_LABEL] for s in found]
    still_open = set(
        db.scalars(
            select(Batch.id).where(
                Batch.id.in_(batch_ids), Batch.door_token_sha256.is_not(None), Batch.door_expires_at > utcnow()
            )
        )
    )
    deleted = []
    for secret in found:
        metadata = secret["metadata"]
        if metadata["labels"][BATCH_LABEL] not in still_open:
            try:
                secrets.delete(name=metadata["name"], namespace=metadata["namespace"])
            except NotFoundError:
                continue
            deleted.append(f"{metadata['namespace']}/{metadata['name']}")
    return deleted
