"""GET /metrics for operators, in Prometheus text format.

The platform's state (executions by status, queue depth and age, batch sizes, step durations, dispatcher
lag, batches running) is read from the platform database at scrape time by `PlatformCollector`: nothing is
counted on the hot paths, and every API replica reports the same figures. What only this process sees
(webhook deliveries it answered, its Prefect calls, its dispatcher's last pass) comes from counters kept
in memory. No tenant ids are exported: their number is unbounded.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.settings import Settings
from platform_api.problems import Problem
from store import FINAL_EXECUTION_STATUSES, Batch, Execution, ExecutionStatus, StepResult, utcnow
from store.db import get_session_factory

RECENT = timedelta(hours=1)  # batch sizes and step durations are those of the last hour
MAX_RECENT_STEPS = 10_000
BATCH_SIZE_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000)
STEP_SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"

WEBHOOK_DELIVERIES = Counter(
    "flowyard_webhook_deliveries_total", "Webhook deliveries this process answered, by outcome.", ["outcome"]
)
WEBHOOK_SECONDS = Histogram("flowyard_webhook_seconds", "Time to answer a webhook delivery (this process).")

router = APIRouter(tags=["operators"])


def _age_seconds(then: datetime | None, now: datetime) -> float:
    if then is None:
        return 0.0
    return max(0.0, (now - (then if then.tzinfo else then.replace(tzinfo=now.tzinfo))).total_seconds())


def _histogram(name: str, doc: str, values: Sequence[float], buckets: Sequence[float]) -> HistogramMetricFamily:
    cumulative = [(floatToGoString(bound), float(sum(1 for v in values if v <= bound))) for bound in buckets]
    cumulative.append(("+Inf", float(len(values))))
    return HistogramMetricFamily(name, doc, buckets=cumulative, sum_value=sum(values))


class PlatformCollector(Collector):
    """Queries the platform database (as the platform, across tenants) whenever /metrics is scraped."""

    def __init__(self, settings: Settings, dispatcher: Any = None) -> None:
        self._sessions = get_session_factory(settings.platform_database_url)
        self._dispatcher = dispatcher

    def collect(self) -> Iterable[Metric]:
        now = utcnow()
        with self._sessions() as db:
            yield from self._executions(db, now)
            yield self._batch_sizes(db, now)
            yield self._step_durations(db, now)
            yield from self._dispatch(db, now)
        if self._dispatcher is not None and self._dispatcher.last_pass_at is not None:
            yield GaugeMetricFamily(
                "flowyard_dispatcher_last_pass_age_seconds",
                "Seconds since this process's dispatcher loop last looked at the queue.",
                value=time.monotonic() - self._dispatcher.last_pass_at,
            )

    def _executions(self, db: Session, now: datetime) -> Iterable[Metric]:
        counts = dict(db.execute(select(Execution.status, func.count()).group_by(Execution.status)).all())
        by_status = GaugeMetricFamily("flowyard_executions", "Executions by status.", labels=["status"])
        for status in sorted({*ExecutionStatus, *counts}):
            by_status.add_metric([status], counts.get(status, 0))
        yield by_status
        yield GaugeMetricFamily(
            "flowyard_queue_depth", "Executions queued, in no batch yet.", value=counts.get(ExecutionStatus.QUEUED, 0)
        )
        oldest = db.scalar(select(func.min(Execution.created_at)).where(Execution.status == ExecutionStatus.QUEUED))
        yield GaugeMetricFamily(
            "flowyard_queue_oldest_age_seconds", "Age of the oldest queued execution.", value=_age_seconds(oldest, now)
        )

    def _batch_sizes(self, db: Session, now: datetime) -> Metric:
        sizes = db.scalars(
            select(func.count(Execution.id))
            .join(Batch, Batch.id == Execution.batch_id)
            .where(Batch.created_at >= now - RECENT)
            .group_by(Execution.batch_id)
        ).all()
        return _histogram(
            "flowyard_batch_size", "Executions per batch, batches of the last hour.", sizes, BATCH_SIZE_BUCKETS
        )

    def _step_durations(self, db: Session, now: datetime) -> Metric:
        recent = select(Execution.id).where(
            Execution.status.in_(FINAL_EXECUTION_STATUSES), Execution.created_at >= now - RECENT
        )
        rows = db.execute(
            select(StepResult.started_at, StepResult.ended_at)
            .where(StepResult.execution_id.in_(recent), StepResult.ended_at.is_not(None))
            .limit(MAX_RECENT_STEPS)
        ).all()
        seconds = [_age_seconds(started, ended) for started, ended in rows if started is not None and ended is not None]
        return _histogram(
            "flowyard_step_duration_seconds",
            "Step durations of executions that ended, created in the last hour.",
            seconds,
            STEP_SECONDS_BUCKETS,
        )

    def _dispatch(self, db: Session, now: datetime) -> Iterable[Metric]:
        unsubmitted = db.scalar(select(func.min(Batch.created_at)).where(Batch.flow_run_id.is_(None)))
        yield GaugeMetricFamily(
            "flowyard_dispatcher_lag_seconds",
            "Age of the oldest batch still waiting for its Prefect flow run.",
            value=_age_seconds(unsubmitted, now),
        )
        running = db.scalar(
            select(func.count(func.distinct(Execution.batch_id))).where(Execution.status == ExecutionStatus.RUNNING)
        )
        yield GaugeMetricFamily(
            "flowyard_worker_slots_in_use", "Batches (flow runs) a worker is running now.", value=running or 0
        )


class WebhookMetrics:
    """Counts and times the answers to POST /hooks/... (pure ASGI: no body buffering)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/hooks/"):
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            WEBHOOK_SECONDS.observe(time.perf_counter() - started)
            outcome = "accepted" if status < 300 else "refused" if status < 500 else "error"
            WEBHOOK_DELIVERIES.labels(outcome).inc()


def _check_token(request: Request, settings: Settings) -> None:
    token = settings.api.metrics_token
    if token is None:
        return
    sent = request.headers.get("authorization", "")
    expected = f"Bearer {token.get_secret_value()}"
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Problem(
            401,
            "unauthorized",
            "Metrics token needed",
            "GET /metrics needs the operators' bearer token.",
            hint="Send Authorization: Bearer <FLOWYARD_API__METRICS_TOKEN>.",
            headers={"WWW-Authenticate": "Bearer"},
        )


@router.get("/metrics", response_class=Response, responses={200: {"content": {TEXT_FORMAT: {}}}})
def metrics(request: Request) -> Response:
    """Prometheus text format; protected by FLOWYARD_API__METRICS_TOKEN when that is set."""
    settings: Settings = request.app.state.settings
    _check_token(request, settings)
    platform = CollectorRegistry(auto_describe=False)
    platform.register(PlatformCollector(settings, getattr(request.app.state, "dispatcher", None)))
    return Response(generate_latest(REGISTRY) + generate_latest(platform), media_type=TEXT_FORMAT)
