"""Limits on what one request or one tenant may use of the shared platform.

- Request bodies over the configured size get 413 before any route reads them (`BodySizeLimit`).
- A tenant's quotas (`core.settings.QuotaSettings`, overridden per tenant by `store.TenantQuota`): its
  executions waiting to start (`refuse_when_queue_full`), its triggers per minute, counted in the
  database so that API replicas share them (`count_trigger`), and its live event streams in this process
  (`stream_slots`). Each refusal is a 429 problem with Retry-After; what was accepted before is kept.
"""

from __future__ import annotations

import json
import math
import time
import weakref
from collections import defaultdict
from collections.abc import AsyncIterator
from threading import Lock
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.settings import Settings
from platform_api.problem_types import problem_type
from platform_api.problems import PROBLEM_MEDIA_TYPE, Problem
from store import Execution, ExecutionStatus, TenantQuota, TriggerKind, count_one

PENDING = (ExecutionStatus.QUEUED, ExecutionStatus.BATCHED)  # accepted, not started: the API's `pending`
PER_MINUTE_FIELD = {TriggerKind.WEBHOOK: "webhooks_per_minute", TriggerKind.EVENT: "events_per_minute"}
TRIGGER_WORDS = {TriggerKind.WEBHOOK: "webhook deliveries", TriggerKind.EVENT: "events"}
STREAM_RETRY_SECONDS = 5


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._too_large(scope, send)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await self._too_large(scope, send)
            if not message.get("more_body"):
                break
        await self.app(scope, self._replay(b"".join(chunks), receive), send)

    @staticmethod
    def _replay(body: bytes, receive: Receive) -> Receive:
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay

    async def _too_large(self, scope: Scope, send: Send) -> None:
        body = json.dumps(
            {
                "type": problem_type("payload-too-large"),
                "title": "Request too large",
                "status": 413,
                "detail": f"The request body is larger than {self.max_bytes} bytes.",
                "instance": scope.get("path", ""),
                "hint": "Send a smaller body; pass large data by reference (a URL) instead.",
                "errors": [{"path": "body", "message": "too large", "hint": f"at most {self.max_bytes} bytes"}],
            }
        ).encode()
        headers = [(b"content-type", PROBLEM_MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _own_quota(db: Session, tenant_id: str, field: str) -> int | None:
    own = db.get(TenantQuota, tenant_id)
    value = getattr(own, field) if own is not None else None
    return int(value) if value is not None else None


def refuse_when_queue_full(db: Session, *, settings: Settings, tenant_id: str) -> None:
    """After new executions were added (not committed): when the tenant now has more than its `max_queued`
    waiting to start, roll them back and answer 429. The executions accepted before stay as they were."""
    limit = _own_quota(db, tenant_id, "max_queued") or settings.quotas.max_queued
    if db.get_bind().dialect.name == "postgresql":  # one count at a time per tenant (SQLite: one writer anyway)
        db.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"queue:{tenant_id}"})
    pending = db.scalar(
        select(func.count())
        .select_from(Execution)
        .where(Execution.tenant_id == tenant_id, Execution.status.in_(PENDING))
    )
    if (pending or 0) <= limit:
        return
    db.rollback()
    raise Problem(
        429,
        "queue-full",
        "Too many runs waiting",
        f"Your workspace already has {limit} runs waiting to start, its most.",
        hint="Retry after the Retry-After seconds, when some have started; the runs accepted so far are kept.",
        headers={"Retry-After": str(settings.quotas.queue_full_retry_after_seconds)},
    )


def count_trigger(db: Session, *, settings: Settings, tenant_id: str, kind: TriggerKind) -> None:
    """Count one trigger of the tenant in this minute (committed at once: the count is shared by every API
    replica through the database); 429 when it is over the tenant's per-minute quota."""
    field = PER_MINUTE_FIELD[kind]
    limit = _own_quota(db, tenant_id, field) or getattr(settings.quotas, field)
    now = time.time()
    count = count_one(db, tenant_id=tenant_id, kind=kind, minute=int(now // 60))
    db.commit()
    if count <= limit:
        return
    raise Problem(
        429,
        "tenant-rate-limited",
        "Too many requests this minute",
        f"Your workspace may send {limit} {TRIGGER_WORDS[kind]} per minute.",
        hint="Retry after the Retry-After seconds (the next minute); ask the operator for a higher quota.",
        headers={"Retry-After": str(max(1, math.ceil(60 - now % 60)))},
    )


def _unfinished(stream: AsyncIterator[Any]) -> bool:
    """An async generator keeps its frame until it returns, raises or is closed."""
    return getattr(stream, "ag_frame", None) is not None


class StreamSlots:
    """Live event streams per tenant, in this process. A stream holds its slot while its generator is
    unfinished; the set holds generators weakly, so a stream dropped before it started frees its slot too."""

    def __init__(self) -> None:
        self._streams: dict[str, weakref.WeakSet[AsyncIterator[Any]]] = defaultdict(weakref.WeakSet)
        self._lock = Lock()

    def open(self, tenant_id: str, stream: AsyncIterator[Any], *, most: int) -> None:
        """Register `stream`; 429 when the tenant already has `most` unfinished ones."""
        with self._lock:
            streams = self._streams[tenant_id]
            if sum(map(_unfinished, streams)) >= most:
                raise Problem(
                    429,
                    "too-many-streams",
                    "Too many live streams",
                    f"Your workspace has {most} live run streams open, its most.",
                    hint="Close a stream you no longer watch (another tab?), then retry.",
                    headers={"Retry-After": str(STREAM_RETRY_SECONDS)},
                )
            streams.add(stream)

    def open_count(self, tenant_id: str) -> int:
        with self._lock:
            return sum(map(_unfinished, self._streams[tenant_id]))


stream_slots = StreamSlots()
