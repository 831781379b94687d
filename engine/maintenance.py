"""The `flowyard-maintenance` system flow and its hourly deployment.

Operators see it in the Prefect UI as `flowyard-maintenance/hourly-retention` (tags `flowyard`,
`flowyard-system`, `retention`), in the Flowyard work pool on a queue of its own; each flow run applies every
workspace's retention policy (`engine.retention.purge_expired`) and logs what it purged; with Kubernetes on, it
then reconciles workspaces' namespaces and pools (`engine.kube.reconcile.reconcile_all`, bounded). `flowyard up` and
`flowyard worker` create or update the deployment; an operator may also run it from the Prefect UI at once,
or run the purge in the foreground with `flowyard maintenance run`. Creating it creates the other system
deployment beside it too: `flowyard-reencrypt/on-key-rotation` (`engine.reencrypt`), which key rotations start.
Once a day (FLOWYARD_BACKUP__DAILY) a run also takes a backup with `flowyard backup` (docs/backups.md).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import DeploymentScheduleCreate
from prefect.client.schemas.schedules import IntervalSchedule

from core.settings import LAST_BACKUP_FILE, Settings, get_settings, is_postgres
from engine.kube.reconcile import reconcile_all
from engine.publish import ensure_system_deployment
from engine.reencrypt import ensure_reencrypt_deployment
from engine.retention import SYSTEM_TAG, purge_expired

MAINTENANCE_FLOW = "flowyard-maintenance"
DEPLOYMENT_NAME = "hourly-retention"
ENTRYPOINT = "engine.maintenance.flowyard_maintenance"
TAGS = ["flowyard", SYSTEM_TAG, "retention"]
INTERVAL = timedelta(hours=1)
BACKUP_EVERY = timedelta(days=1)
# The command is the layer above the engine's: the flow runs it in a process of its own rather than importing it.
DAILY_BACKUP_COMMAND = [sys.executable, "-m", "flowyard", "backup"]
BACKUP_TIMEOUT = timedelta(hours=6)


@flow(name=MAINTENANCE_FLOW, persist_result=False, log_prints=False)
async def flowyard_maintenance() -> dict[str, int]:
    """Purge what every workspace's retention policy no longer keeps. The purge (blocking database and
    Prefect calls) runs in a thread: the Flowyard worker runs other flow runs on this event loop."""
    settings = get_settings()
    report = await asyncio.to_thread(purge_expired, settings)
    totals = report.totals()
    get_run_logger().info("purged %s", ", ".join(f"{count} {kind}" for kind, count in totals.items()) or "nothing")
    if settings.kubernetes.enabled:
        totals |= await asyncio.to_thread(reconcile_kubernetes, settings)
    if backup_due(settings, datetime.now(UTC)):
        totals |= await asyncio.to_thread(take_daily_backup)
    return totals


def backup_due(settings: Settings, now: datetime) -> bool:
    """Whether daily backups are on (by default on SQLite only) and the last `flowyard backup`, this flow's or an
    operator's, is a day old. Half an hour's slack keeps the hourly runs from pushing it later each day."""
    daily = settings.backup.daily
    if not (daily if daily is not None else not is_postgres(settings.platform_database_url)):
        return False
    marker = settings.backup.directory(settings.home_dir) / LAST_BACKUP_FILE
    if not marker.exists():
        return True
    return now - datetime.fromtimestamp(marker.stat().st_mtime, UTC) >= BACKUP_EVERY - INTERVAL / 2


def take_daily_backup() -> dict[str, int]:
    """`flowyard backup` (with its retention); a failure is logged and tried again next hour."""
    try:
        result = subprocess.run(
            DAILY_BACKUP_COMMAND, capture_output=True, text=True, timeout=BACKUP_TIMEOUT.total_seconds()
        )
    except subprocess.TimeoutExpired:
        get_run_logger().warning("the daily backup took longer than %s and was stopped", BACKUP_TIMEOUT)
        return {"backup_failed": 1}
    if result.returncode != 0:
        get_run_logger().warning("the daily backup failed: %s", result.stderr.strip()[-2000:])
        return {"backup_failed": 1}
    get_run_logger().info("%s", result.stdout.strip())
    return {"backups_taken": 1}


def reconcile_kubernetes(settings: Settings) -> dict[str, int]:
    """Repair drift in workspaces' namespaces and pools (`reconcile_batch` of them, least recently reconciled
    first) and remove those of deleted workspaces; a tenant that fails is logged and tried again next hour."""
    try:
        report = reconcile_all(settings, limit=settings.kubernetes.reconcile_batch)
    except Exception:  # the cluster itself: the purge is done, the next run tries again
        get_run_logger().warning("could not reach the Kubernetes cluster", exc_info=True)
        return {"kubernetes_failed": 1}
    for slug, error in report.failed.items():
        get_run_logger().warning("workspace %s not reconciled on Kubernetes: %s", slug, error)
    return {
        "kubernetes_reconciled": len(report.reconciled),
        "kubernetes_repaired": sum(1 for changes in report.reconciled.values() if changes),
        "kubernetes_failed": len(report.failed),
        "kubernetes_namespaces_removed": len(report.removed),
    }


def ensure_maintenance_deployment(client: SyncPrefectClient, *, work_pool: str) -> UUID:
    """Create or update the hourly deployment (one flow run at a time: a slow purge never overlaps the next),
    and the re-encryption deployment the same worker runs (`flowyard up` and `flowyard worker` call this)."""
    ensure_reencrypt_deployment(client, work_pool=work_pool)
    return ensure_system_deployment(
        client,
        work_pool=work_pool,
        flow_name=MAINTENANCE_FLOW,
        name=DEPLOYMENT_NAME,
        entrypoint=ENTRYPOINT,
        tags=TAGS,
        description="Flowyard's retention: every hour, deletes each workspace's runs, step payloads, outbox "
        "snapshots, notifications and Prefect flow runs (with their logs) older than its policy, in bounded batches.",
        parameters={},
        schedules=[DeploymentScheduleCreate(schedule=IntervalSchedule(interval=INTERVAL), active=True, slug="hourly")],
    )
