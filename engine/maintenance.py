"""The `flowyard-maintenance` system flow and its hourly deployment.

Operators see it in the Prefect UI as `flowyard-maintenance/hourly-retention` (tags `flowyard`,
`flowyard-system`, `retention`), in the Flowyard work pool on a queue of its own; each flow run applies every
workspace's retention policy (`engine.retention.purge_expired`) and logs what it purged. `flowyard up` and
`flowyard worker` create or update the deployment; an operator may also run it from the Prefect UI at once,
or run the purge in the foreground with `flowyard maintenance run`.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import DeploymentScheduleCreate
from prefect.client.schemas.schedules import IntervalSchedule

from core.settings import get_settings
from engine.publish import ensure_work_pool, ensure_work_queue
from engine.retention import SYSTEM_TAG, purge_expired

MAINTENANCE_FLOW = "flowyard-maintenance"
DEPLOYMENT_NAME = "hourly-retention"
ENTRYPOINT = "engine.maintenance.flowyard_maintenance"
WORK_QUEUE = "flowyard-system"
TAGS = ["flowyard", SYSTEM_TAG, "retention"]
INTERVAL = timedelta(hours=1)


@flow(name=MAINTENANCE_FLOW, persist_result=False, log_prints=False)
async def flowyard_maintenance() -> dict[str, int]:
    """Purge what every workspace's retention policy no longer keeps. The purge (blocking database and
    Prefect calls) runs in a thread: the Flowyard worker runs other flow runs on this event loop."""
    report = await asyncio.to_thread(purge_expired, get_settings())
    totals = report.totals()
    get_run_logger().info("purged %s", ", ".join(f"{count} {kind}" for kind, count in totals.items()) or "nothing")
    return totals


def ensure_maintenance_deployment(client: SyncPrefectClient, *, work_pool: str) -> UUID:
    """Create or update the hourly deployment (one flow run at a time: a slow purge never overlaps the next)."""
    ensure_work_pool(client, work_pool)
    ensure_work_queue(client, work_pool, WORK_QUEUE, 1)
    flow_id = client.create_flow_from_name(MAINTENANCE_FLOW)
    return client.create_deployment(
        flow_id,
        DEPLOYMENT_NAME,
        entrypoint=ENTRYPOINT,
        work_pool_name=work_pool,
        work_queue_name=WORK_QUEUE,
        concurrency_limit=1,
        tags=TAGS,
        description="Flowyard's retention: every hour, deletes each workspace's runs, step payloads, outbox "
        "snapshots, notifications and Prefect flow runs (with their logs) older than its policy, in bounded batches.",
        parameter_openapi_schema={"title": "Parameters", "type": "object", "properties": {}},
        enforce_parameter_schema=True,
        paused=False,
        schedules=[DeploymentScheduleCreate(schedule=IntervalSchedule(interval=INTERVAL), active=True, slug="hourly")],
    )
