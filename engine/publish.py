"""One Prefect deployment per published workflow, named and tagged after its tenant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import DeploymentScheduleCreate, WorkPoolCreate
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from pydantic import BaseModel

from core.naming import tenant_object_name, tenant_prefix, tenant_tags
from core.settings import Settings
from engine.kube.objects import pool_name, tier_of, work_pool_template
from flow_factory.interpreter import ENTRYPOINT, FLOW_NAME

TEST_RUNS_SUFFIX = "test-runs"


class DeploymentNameTaken(Exception):
    """The deployment name belongs to another workflow; never take over a deployment we do not own."""


@dataclass(frozen=True)
class DeploymentTarget:
    tenant_id: str
    tenant_slug: str
    name_suffix: str  # the workflow slug, or "test-runs" for a tenant's test runs
    description: str

    @property
    def name(self) -> str:
        return tenant_object_name(self.tenant_slug, self.name_suffix)

    @property
    def work_queue(self) -> str:
        """The tenant's own queue in the work pool: its concurrency limit bounds the tenant's batches."""
        return tenant_prefix(self.tenant_slug)

    @property
    def tags(self) -> list[str]:
        return tenant_tags(self.tenant_slug, self.tenant_id)


@dataclass(frozen=True)
class BatchLimits:
    """Prefect's bounds on flow runs (batches) running at once."""

    per_workflow: int  # the deployment's concurrency limit
    per_tenant: int  # the tenant's work queue's concurrency limit


_pools_seen: set[tuple[str, str]] = set()  # (API URL, pool): a publish need not ask Prefect again
_queues_seen: set[tuple[str, str, str, int]] = set()  # (API URL, pool, queue, limit)


@dataclass(frozen=True)
class PoolChoice:
    name: str
    template: dict[str, Any] | None  # the base job template of a tenant's own Kubernetes pool; None: shared pool


def tenant_work_pool(settings: Settings, tenant_slug: str, tier: str | None) -> str:
    """The pool a tenant's deployments run on: its own (`t-<slug>`, Jobs in its namespace) when Kubernetes is on
    and its tier has a dedicated pool, else the shared Flowyard pool."""
    return tenant_pool_choice(settings, tenant_slug, tier).name


def tenant_pool_choice(settings: Settings, tenant_slug: str, tier: str | None) -> PoolChoice:
    kube = settings.kubernetes
    tier = tier or kube.default_tier
    if kube.enabled and tier_of(tier, kube).dedicated_pool:
        return PoolChoice(pool_name(tenant_slug), work_pool_template(tenant_slug, tier, kube))
    return PoolChoice(settings.worker.work_pool, None)


def ensure_work_pool(client: SyncPrefectClient, work_pool: str, template: dict[str, Any] | None = None) -> None:
    """Create the pool if it is missing: the Flowyard worker's type, or a Kubernetes pool with `template` (a
    tenant's own; `engine.kube.reconcile` keeps its template up to date)."""
    key = (str(client.api_url), work_pool)
    if key in _pools_seen:
        return
    create = (
        WorkPoolCreate(name=work_pool, type="flowyard")
        if template is None
        else WorkPoolCreate(name=work_pool, type="kubernetes", base_job_template=template)
    )
    try:
        client.create_work_pool(create)
    except ObjectAlreadyExists:
        pass
    _pools_seen.add(key)


def ensure_work_queue(client: SyncPrefectClient, work_pool: str, queue: str, limit: int) -> None:
    key = (str(client.api_url), work_pool, queue, limit)
    if key in _queues_seen:
        return
    try:
        client.create_work_queue(name=queue, work_pool_name=work_pool, concurrency_limit=limit)
    except ObjectAlreadyExists:
        existing = client.read_work_queue_by_name(queue, work_pool_name=work_pool)
        if existing.concurrency_limit != limit:
            client.update_work_queue(existing.id, concurrency_limit=limit)
    _queues_seen.add(key)


SYSTEM_QUEUE = "flowyard-system"  # Flowyard's own flows (maintenance, re-encryption): one flow run at a time


def ensure_system_deployment(
    client: SyncPrefectClient,
    *,
    work_pool: str,
    flow_name: str,
    name: str,
    entrypoint: str,
    tags: list[str],
    description: str,
    parameters: dict[str, Any],
    schedules: list[DeploymentScheduleCreate] | None = None,
) -> UUID:
    """Create or update a deployment of one of Flowyard's own flows, on the system queue of the Flowyard work
    pool (one flow run at a time); `parameters` is its JSON Schema's properties, all required."""
    ensure_work_pool(client, work_pool)
    ensure_work_queue(client, work_pool, SYSTEM_QUEUE, 1)
    return client.create_deployment(
        client.create_flow_from_name(flow_name),
        name,
        entrypoint=entrypoint,
        work_pool_name=work_pool,
        work_queue_name=SYSTEM_QUEUE,
        concurrency_limit=1,
        tags=tags,
        description=description,
        parameter_openapi_schema={
            "title": "Parameters",
            "type": "object",
            "properties": parameters,
            "required": list(parameters),
        },
        enforce_parameter_schema=True,
        paused=False,
        schedules=schedules or [],
    )


def schedule_creates(workflow_id: str, schedules: list[BaseModel], *, active: bool) -> list[DeploymentScheduleCreate]:
    """Prefect schedules whose flow runs enqueue one execution of `workflow_id` each (a tick)."""
    return [
        DeploymentScheduleCreate(
            schedule=schedule.model_dump(),
            active=active,
            parameters={"workflow_id": workflow_id},
            slug=f"flowyard-{index}",
        )
        for index, schedule in enumerate(schedules)
    ]


def upsert_deployment(
    client: SyncPrefectClient,
    *,
    target: DeploymentTarget,
    work_pool: str,
    known_id: str | None,
    limits: BatchLimits,
    schedules: list[DeploymentScheduleCreate] | None = None,
    pool_template: dict[str, Any] | None = None,
) -> UUID:
    """Create or update the deployment; refuse one of the same name that carries another tenant's tag.
    `pool_template`: `work_pool` is the tenant's own Kubernetes pool, created with it if missing."""
    try:
        existing = client.read_deployment_by_name(f"{FLOW_NAME}/{target.name}")
    except ObjectNotFound:
        existing = None
    if existing and str(existing.id) != known_id and f"tenant:{target.tenant_id}" not in (existing.tags or []):
        raise DeploymentNameTaken(target.name)
    ensure_work_pool(client, work_pool, pool_template)
    ensure_work_queue(client, work_pool, target.work_queue, limits.per_tenant)
    flow_id = client.create_flow_from_name(FLOW_NAME)
    return client.create_deployment(
        flow_id,
        target.name,
        entrypoint=ENTRYPOINT,
        work_pool_name=work_pool,
        work_queue_name=target.work_queue,
        concurrency_limit=limits.per_workflow,
        tags=target.tags,
        description=target.description,
        parameter_openapi_schema={
            "title": "Parameters",
            "type": "object",
            "properties": {
                "batch_id": {"title": "batch_id", "type": "string", "default": "", "position": 0},
                "workflow_id": {"title": "workflow_id", "type": "string", "default": "", "position": 1},
            },
        },
        enforce_parameter_schema=True,
        paused=False,
        schedules=schedules or [],
    )
