"""Prefect clients: one bound to the configured API (never an ephemeral server) that sends the API's auth
string (the Prefect API is closed to anyone without it), and quick retries of idempotent writes.

Retry an idempotent Prefect API write quickly when Prefect answers 503.

A SQLite Prefect server answers 503 ("database is locked") when a write that reads first loses the race
for SQLite's write lock to another writer (its own services, a log batch, another client). The worker's
label on a flow run and the dispatcher's flow run from a deployment both read first, and on the embedded
default about half the labels met one. Prefect's client then waits 2 s, then 4 s (exponential back-off,
as the 503 carries no Retry-After): most of an execution's latency.

Inside `call`/`acall`, a 503 (429, 502) on a client that went through `install` is given a Retry-After of
50, 100, 200, 400, then 800 ms, so Prefect's client retries it that soon; if all its retries fail, the
call is made once more with Prefect's own back-off. Only for writes that may safely happen twice (a
label; a flow run created with an idempotency key; a rate-limit slot, where a second one only slows the
tenant a little).
"""

from __future__ import annotations

import base64
import contextvars
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from prefect.client.orchestration import SyncPrefectClient
from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, PREFECT_CLIENT_MAX_RETRIES, temporary_settings
from prometheus_client import Counter, Histogram

from core.settings import Settings

DELAYS = (0.05, 0.1, 0.2, 0.4, 0.8)
RETRYABLE = (429, 502, 503)
_quick: contextvars.ContextVar[bool] = contextvars.ContextVar("flowyard_quick_retries", default=False)
CALL_SECONDS = Histogram(
    "flowyard_prefect_call_seconds", "Prefect API calls made by this process, by outcome.", ["outcome"]
)
CALL_ERRORS = Counter(
    "flowyard_prefect_call_errors_total", "Prefect API calls of this process that failed, by reason.", ["reason"]
)
_STARTED = "flowyard_started"


def _retry_soon(response: httpx.Response) -> None:
    if not _quick.get() or response.status_code not in RETRYABLE or "Retry-After" in response.headers:
        return
    seen = response.request.extensions.get("flowyard_retries", 0)  # the same request is sent again
    response.request.extensions["flowyard_retries"] = seen + 1
    # Prefect's client sleeps even after its last attempt fails (2**6 s = about a minute with the default five
    # retries) before it gives up; `call` tries once more anyway, so that last wait is skipped.
    last = seen >= PREFECT_CLIENT_MAX_RETRIES.value()
    response.headers["Retry-After"] = "0" if last else str(DELAYS[min(seen, len(DELAYS) - 1)])


async def _aretry_soon(response: httpx.Response) -> None:
    _retry_soon(response)


def _mark_start(request: httpx.Request) -> None:
    request.extensions[_STARTED] = time.perf_counter()


def _observe(response: httpx.Response) -> None:
    started = response.request.extensions.get(_STARTED)
    outcome = f"{response.status_code // 100}xx"
    if started is not None:
        CALL_SECONDS.labels(outcome).observe(time.perf_counter() - started)
    if response.status_code >= 500 or response.status_code == 429:
        CALL_ERRORS.labels(f"http_{response.status_code}").inc()


def _measure(client: SyncPrefectClient) -> None:
    """Time every request of this client (`flowyard_prefect_call_seconds` on GET /metrics)."""
    hooks = client._client.event_hooks
    hooks["request"].append(_mark_start)
    hooks["response"].append(_observe)


def reachable(settings: Settings, *, timeout: float = 2.0) -> str | None:
    """None when the Prefect API answers its health check within `timeout`, else why not."""
    auth = auth_string(settings)
    headers = {"Authorization": f"Basic {base64.b64encode(auth.encode()).decode()}"} if auth else {}
    started = time.perf_counter()
    try:
        response = httpx.get(f"{settings.prefect_api_url.rstrip('/')}/health", headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        CALL_ERRORS.labels("unreachable").inc()
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    CALL_SECONDS.labels(f"{response.status_code // 100}xx").observe(time.perf_counter() - started)
    if response.status_code != 200:
        CALL_ERRORS.labels(f"http_{response.status_code}").inc()
        return f"the Prefect API answered {response.status_code}"
    return None


def install(client: Any) -> None:
    """Let `call`/`acall` shorten the retries of this PrefectClient or SyncPrefectClient."""
    http = client._client  # Prefect's httpx client: its retry loop honours Retry-After
    hook = _aretry_soon if isinstance(http, httpx.AsyncClient) else _retry_soon
    if hook not in http.event_hooks["response"]:
        http.event_hooks["response"].append(hook)


def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    token = _quick.set(True)
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        if not _failed_quickly(exc):
            raise
    finally:
        _quick.reset(token)
    return fn(*args, **kwargs)  # with Prefect's own back-off


async def acall(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    token = _quick.set(True)
    try:
        return await fn(*args, **kwargs)
    except Exception as exc:
        if not _failed_quickly(exc):
            raise
    finally:
        _quick.reset(token)
    return await fn(*args, **kwargs)  # with Prefect's own back-off


def _failed_quickly(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    return isinstance(response, httpx.Response) and response.status_code in RETRYABLE


def auth_string(settings: Settings) -> str | None:
    """The Prefect API auth string this process sends: the setting (which PREFECT_API_AUTH_STRING fills in),
    else whatever Prefect's own settings hold."""
    if settings.prefect.auth_string is not None:
        return settings.prefect.auth_string.get_secret_value()
    own: str | None = PREFECT_API_AUTH_STRING.value()
    return own


def api_settings(settings: Settings) -> dict[Any, Any]:
    """Prefect settings (for `temporary_settings`) that bind Prefect's own clients to the configured API."""
    return {PREFECT_API_URL: settings.prefect_api_url, PREFECT_API_AUTH_STRING: auth_string(settings)}


@contextmanager
def few_retries(retries: int = 1) -> Iterator[None]:
    """Prefect's clients, in this thread, retry a failed call `retries` times (2 s apart) instead of their
    default five with back-off (about a minute). For a pass that runs again soon and must know that Prefect
    did not answer, rather than wait through an outage and act on what it reads afterwards."""
    with temporary_settings(updates={PREFECT_CLIENT_MAX_RETRIES: retries}):
        yield


@contextmanager
def prefect_client(settings: Settings) -> Iterator[SyncPrefectClient]:
    """A Prefect client bound to the configured API URL (never an ephemeral server), authenticated."""
    with SyncPrefectClient(
        settings.prefect_api_url, auth_string=auth_string(settings), httpx_settings={"timeout": 30}
    ) as client:
        _measure(client)
        yield client
