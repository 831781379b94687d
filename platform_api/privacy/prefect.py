"""What a workspace keeps in Prefect, found and removed: flow runs (their logs go with them), deployments,
block documents, its work queue and its rate limits. Every object is checked to carry the tenant's name
prefix (or to be one of its own batches' flow runs) before it is deleted."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId, DeploymentFilterTags
from prefect.exceptions import ObjectNotFound

from core.naming import owned_by, tenant_prefix
from core.prefect_client import prefect_client
from core.settings import Settings
from platform_api.problems import Problem

PAGE = 200


def prefect_unavailable(exc: Exception) -> Problem:
    return Problem(
        503,
        "engine-unavailable",
        "Workflow engine unavailable",
        f"The workflow engine could not be reached ({type(exc).__name__}); nothing was changed.",
        hint="Try again in a minute; the request is safe to repeat.",
        headers={"Retry-After": "30"},
    )


def delete_flow_runs(settings: Settings, flow_run_ids: Iterable[str]) -> int:
    """Delete these flow runs (Prefect then deletes their logs); returns how many existed."""
    ids = sorted(set(flow_run_ids))
    if not ids:
        return 0
    try:
        with prefect_client(settings) as client:
            return sum(_delete_flow_run(client, UUID(flow_run_id)) for flow_run_id in ids)
    except Exception as exc:  # connection errors, HTTP errors and Prefect's own
        raise prefect_unavailable(exc) from exc


def _delete_flow_run(client: SyncPrefectClient, flow_run_id: UUID) -> int:
    try:
        client.delete_flow_run(flow_run_id)
    except ObjectNotFound:
        return 0
    return 1


@dataclass(frozen=True)
class Workspace:
    tenant_id: str
    slug: str
    flow_run_ids: list[str]  # its batches' flow runs, from the platform database


def remove_workspace(settings: Settings, workspace: Workspace) -> dict[str, int]:
    """Delete everything of the workspace in Prefect; returns counts per kind."""
    try:
        with prefect_client(settings) as client:
            deployment_ids = _deployment_ids(client, workspace)
            runs = sum(_delete_flow_run(client, UUID(i)) for i in _flow_run_ids(client, workspace, deployment_ids))
            for deployment_id in deployment_ids:
                client.delete_deployment(deployment_id)
            return {
                "flow_runs": runs,
                "deployments": len(deployment_ids),
                "blocks": _delete_blocks(client, workspace.slug),
                "work_queues": _delete_work_queue(client, settings.worker.work_pool, workspace.slug),
                "rate_limits": _delete_rate_limits(client, workspace.slug),
            }
    except Exception as exc:  # nothing of the workspace is deleted in the database until Prefect is clean
        raise prefect_unavailable(exc) from exc


def _deployment_ids(client: SyncPrefectClient, workspace: Workspace) -> list[UUID]:
    tagged = DeploymentFilter(tags=DeploymentFilterTags(all_=[f"tenant:{workspace.tenant_id}"]))
    ids, offset = [], 0
    while page := client.read_deployments(deployment_filter=tagged, limit=PAGE, offset=offset):
        ids += [deployment.id for deployment in page if owned_by(deployment.name, workspace.slug)]
        offset += PAGE
    return ids


def _flow_run_ids(client: SyncPrefectClient, workspace: Workspace, deployment_ids: list[UUID]) -> set[str]:
    ids = set(workspace.flow_run_ids)
    if deployment_ids:
        of_deployments = DeploymentFilter(id=DeploymentFilterId(any_=deployment_ids))
        offset = 0
        while page := client.read_flow_runs(deployment_filter=of_deployments, limit=PAGE, offset=offset):
            ids.update(str(run.id) for run in page)
            offset += PAGE
    return ids


def _delete_blocks(client: SyncPrefectClient, slug: str) -> int:
    body = {"block_documents": {"name": {"like_": tenant_prefix(slug) + "-"}}, "include_secrets": False}
    response = client.request("POST", "/block_documents/filter", json=body)
    response.raise_for_status()
    owned = [doc["id"] for doc in response.json() if owned_by(doc.get("name") or "", slug)]
    for block_document_id in owned:
        client.delete_block_document(UUID(block_document_id))
    return len(owned)


def _delete_work_queue(client: SyncPrefectClient, work_pool: str, slug: str) -> int:
    try:
        queue = client.read_work_queue_by_name(tenant_prefix(slug), work_pool_name=work_pool)
    except ObjectNotFound:
        return 0
    client.delete_work_queue_by_id(queue.id)
    return 1


def _delete_rate_limits(client: SyncPrefectClient, slug: str) -> int:
    names, offset = [], 0
    while page := client.read_global_concurrency_limits(limit=PAGE, offset=offset):
        names += [limit.name for limit in page if owned_by(limit.name, slug)]
        offset += PAGE
    for name in names:
        client.delete_global_concurrency_limit_by_name(name)
    return len(names)
