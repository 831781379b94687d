"""Load shedding: over capacity, the API refuses new work at once with 429 + Retry-After instead of queueing
it without bound (the thread pool's queue would grow, and with it memory and every request's latency).

A request holds a slot from the moment it arrives until its answer starts (a live stream frees its slot once
its headers are sent; `limits.stream_slots` bounds streams). Two limits, in this order:
- per tenant: a tenant's credential (bearer token or webhook endpoint) is known to this process once a
  request with it was authenticated, and then its requests count against the tenant's share, so one noisy
  workspace is refused before it can fill the platform;
- globally: all requests in this process, known tenant or not.

Only `/api/` and `/hooks/` are shed; health checks, metrics, the UI's files and approval links always answer."""

from __future__ import annotations

import hashlib
import json
from collections import Counter, OrderedDict
from threading import Lock

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from platform_api.problem_types import problem_type
from platform_api.problems import PROBLEM_MEDIA_TYPE

SHED_PREFIXES = ("/api/", "/hooks/")
NEVER_SHED_PREFIX = "/api/v1/health"  # a probe that got 429 would take a busy replica out of service
KNOWN_CREDENTIALS = 10_000  # most recently authenticated credentials remembered, per process


class TenantsByCredential:
    """Which tenant a credential belongs to, learned when it authenticates; bounded, least recent forgotten.
    Only credentials that authenticated are remembered, so a forged one counts against no tenant."""

    def __init__(self, size: int = KNOWN_CREDENTIALS) -> None:
        self._tenants: OrderedDict[str, str] = OrderedDict()
        self._size = size
        self._lock = Lock()

    def learn(self, credential: str, tenant_id: str) -> None:
        with self._lock:
            self._tenants[credential] = tenant_id
            self._tenants.move_to_end(credential)
            if len(self._tenants) > self._size:
                self._tenants.popitem(last=False)

    def tenant_of(self, credential: str | None) -> str | None:
        with self._lock:
            return self._tenants.get(credential) if credential else None


tenants_by_credential = TenantsByCredential()


def bearer_credential(authorization: str) -> str:
    return "bearer:" + hashlib.sha256(authorization.encode()).hexdigest()


def webhook_credential(endpoint_id: str) -> str:
    return "hook:" + endpoint_id


def _credential(scope: Scope) -> str | None:
    path: str = scope["path"]
    if path.startswith("/hooks/"):
        return webhook_credential(path.removeprefix("/hooks/").split("/", 1)[0])
    authorization = dict(scope["headers"]).get(b"authorization")
    return bearer_credential(authorization.decode("latin-1")) if authorization else None


class LoadShedding:
    def __init__(self, app: ASGIApp, *, most: int, most_per_tenant: int, retry_after_seconds: int) -> None:
        self.app = app
        self.most, self.most_per_tenant, self.retry_after = most, most_per_tenant, retry_after_seconds
        self._lock = Lock()
        self._total = 0
        self._per_tenant: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(SHED_PREFIXES) or path.startswith(NEVER_SHED_PREFIX):
            return await self.app(scope, receive, send)
        tenant_id = tenants_by_credential.tenant_of(_credential(scope))
        refusal = self._enter(tenant_id)
        if refusal:
            return await self._refuse(scope, send, *refusal)
        held = True

        def leave() -> None:
            nonlocal held
            if held:
                held = False
                self._leave(tenant_id)

        async def send_then_leave(message: Message) -> None:
            if message["type"] == "http.response.start":
                leave()
            await send(message)

        try:
            await self.app(scope, receive, send_then_leave)
        finally:
            leave()

    def _enter(self, tenant_id: str | None) -> tuple[str, str] | None:
        """Take a slot, or say why not: (problem type, detail)."""
        with self._lock:
            if tenant_id is not None and self._per_tenant[tenant_id] >= self.most_per_tenant:
                return "tenant-overloaded", f"Your workspace already has {self.most_per_tenant} requests in progress."
            if self._total >= self.most:
                return "overloaded", "The platform is at capacity."
            self._total += 1
            if tenant_id is not None:
                self._per_tenant[tenant_id] += 1
            return None

    def _leave(self, tenant_id: str | None) -> None:
        with self._lock:
            self._total -= 1
            if tenant_id is not None:
                self._per_tenant[tenant_id] -= 1
                if not self._per_tenant[tenant_id]:
                    del self._per_tenant[tenant_id]

    def in_flight(self, tenant_id: str | None = None) -> int:
        with self._lock:
            return self._total if tenant_id is None else self._per_tenant[tenant_id]

    async def _refuse(self, scope: Scope, send: Send, kind: str, detail: str) -> None:
        body = json.dumps(
            {
                "type": problem_type(kind),
                "title": "Too many requests in progress",
                "status": 429,
                "detail": detail,
                "instance": scope["path"],
                "hint": f"Retry after {self.retry_after} s; nothing of this request was done or stored.",
            }
        ).encode()
        headers = [
            (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(self.retry_after).encode()),
        ]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})
