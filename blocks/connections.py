"""Connections at run time: a step may use only its own tenant's connection, checked here, inside
the task, from the platform database; the block is loaded from Prefect and its secrets opened with
the tenant's data key only when the action needs them, after its stored settings were checked against
their MAC (blocks.base: a block edited outside Flowyard fails the step, its secrets unused). Also:
saving blocks from the API, and the per-tenant, per-integration rate limits (Prefect global
concurrency limits with slot decay)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

import httpx
from sqlalchemy import select

from blocks.base import ActionContext, IntegrationBlock
from blocks.crypto import TenantCipher, cipher_for
from blocks.runtime import platform_sessions, rate_limit_per_second, settings
from core import prefect_client as prefect_retries
from core.errors import Permanent, Retryable, StepFailure
from core.naming import owned_by, slugify, tenant_object_name
from core.retry import ask_again
from core.settings import Settings
from store import Connection, ConnectionStatus, Tenant, record_event

B = TypeVar("B", bound=IntegrationBlock)
R = TypeVar("R")
CACHE_SECONDS = 30.0
BLOCK_LOAD_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)  # about 15 s in all, before the step's own retries
_blocks: dict[tuple[str, str], tuple[float, IntegrationBlock]] = {}
_ensured_limits: set[tuple[str, float]] = set()
_waiting: dict[tuple[str, int], list[asyncio.Future]] = {}  # (rate limit, event loop) -> steps waiting
_secret_uses: dict[str, None] = {}  # dedupe keys of audited uses, oldest first (skips the database)
SECRET_USES_REMEMBERED = 10_000


def block_name(tenant_slug: str, type_slug: str, name: str) -> str:
    """`t-<tenant>-<type>-<name>`: a Prefect block document name (lowercase letters, digits, dashes)."""
    return tenant_object_name(tenant_slug, type_slug, slugify(name))


def rate_limit_name(tenant_slug: str, integration: str) -> str:
    return tenant_object_name(tenant_slug, integration, "rate")


@dataclass(frozen=True)
class Found:
    connection: Connection
    tenant_slug: str
    cipher: TenantCipher


def connection_missing(connection_id: str | None) -> StepFailure:
    return Permanent(
        f"This step's connection ({connection_id or 'none'}) does not exist in your workspace.",
        hint="Open the step and choose one of your connections (Settings → Connections lists them).",
    )


def _lookup(tenant_id: str, connection_id: str) -> Found | None:
    with platform_sessions()() as db:
        row = db.scalar(select(Connection).where(Connection.id == connection_id, Connection.tenant_id == tenant_id))
        if row is None:
            return None
        slug = db.scalar(select(Tenant.slug).where(Tenant.id == tenant_id))
        if slug is None:
            return None
        cipher = cipher_for(db, tenant_id, settings())
        return Found(row, slug, cipher)


async def load_for_step(ctx: ActionContext, connection_id: str, block_type: type[B]) -> tuple[B, str]:
    """The step's connection as a block bound to the tenant's cipher, and the tenant's slug."""
    found = await asyncio.to_thread(_lookup, ctx.tenant_id, connection_id)
    if found is None or found.connection.type != block_type.slug:
        if found is not None:
            raise Permanent(
                f"Connection '{found.connection.name}' is a {found.connection.type} connection; "
                f"this step needs a {block_type.slug} connection.",
                hint="Open the step and choose a connection of the right kind.",
            )
        raise connection_missing(connection_id)
    row = found.connection
    if not owned_by(row.block_name, found.tenant_slug):  # never trust a name we did not derive
        raise connection_missing(connection_id)
    block = await _cached_block(block_type, row)
    block.attach(found.cipher, row.block_name, row.id, recorded=row.config, label=row.name)
    block.verify_settings()  # before any action runs, even one that sends no secret
    await asyncio.to_thread(_audit_secret_use, ctx, row)
    return block, found.tenant_slug


def _audit_secret_use(ctx: ActionContext, row: Connection) -> None:
    """One `connection.secret_used` audit row per run and connection, however many steps or retries use it."""
    key = f"run:{ctx.execution_id}:connection:{row.id}"
    if key in _secret_uses:
        return
    with platform_sessions()() as db:
        record_event(
            db,
            tenant_id=ctx.tenant_id,
            action="connection.secret_used",
            target=f"connection:{row.id}",
            detail={"run_id": ctx.execution_id, "node_id": ctx.node_id, "mode": ctx.mode},
            dedupe_key=key,
        )
        db.commit()
    _secret_uses[key] = None
    if len(_secret_uses) > SECRET_USES_REMEMBERED:
        del _secret_uses[next(iter(_secret_uses))]


async def _cached_block(block_type: type[B], row: Connection) -> B:
    key = (row.block_name, row.updated_at.isoformat())
    cached = _blocks.get(key)
    if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]  # type: ignore[return-value]
    try:
        block = await _load_block(block_type, row)
    except ValueError as exc:  # Prefect: no block document of that name
        raise Permanent(
            f"The credentials of connection '{row.name}' are missing from the workflow engine.",
            hint="Open Settings → Connections and save the connection's credentials again.",
        ) from exc
    _blocks[key] = (time.monotonic(), block)
    return block


async def _load_block(block_type: type[B], row: Connection) -> B:
    """The block from Prefect, asked again while Prefect cannot answer: it is restarting, or its database is
    (Prefect answers 500 while it cannot connect to it, which its client does not retry). Nothing was sent
    yet, so the step may then fail retryably."""
    try:
        return await ask_again(BLOCK_LOAD_DELAYS, when=_prefect_away)(block_type.aload, row.block_name)
    except Exception as exc:
        if not _prefect_away(exc):
            raise
        raise Retryable(
            f"The workflow engine did not answer when asked for the credentials of connection "
            f"'{row.name}' ({type(exc).__name__}).",
            hint="It is restarting or overloaded; the step will be retried.",
        ) from exc


def _prefect_away(exc: BaseException) -> bool:
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code >= 500
    return isinstance(exc, httpx.TransportError)


def forget_cached(block_name_: str) -> None:
    for key in [k for k in _blocks if k[0] == block_name_]:
        _blocks.pop(key, None)


async def throttle(tenant_slug: str, integration: str) -> None:
    """Wait for a slot of the tenant's rate limit for this integration (inside Prefect tasks only).

    The limit is a Prefect global concurrency limit with slot decay, so it holds across workers.
    Executions of one batch that ask at the same time share one call to Prefect (`occupy=n`).
    """
    from prefect.context import TaskRunContext

    per_second = rate_limit_per_second(integration)
    if per_second <= 0 or TaskRunContext.get() is None:
        return
    name, slots = rate_limit_name(tenant_slug, integration), max(1, math.ceil(per_second))
    if (name, per_second) not in _ensured_limits:
        await _ensure_limit(name, slots, per_second)
        _ensured_limits.add((name, per_second))
    key = (name, id(asyncio.get_running_loop()))
    waiters = _waiting.setdefault(key, [])
    ready = asyncio.get_running_loop().create_future()
    waiters.append(ready)
    if len(waiters) == 1:
        asyncio.create_task(_acquire_for(key, name, slots))
    await ready


async def _ensure_limit(name: str, slots: int, per_second: float) -> None:
    """Create or update the limit. Prefect's upsert reads then writes, so two batches starting together
    can both try to create it; the loser's second try finds the winner's limit."""
    from prefect.client.orchestration import get_client

    for attempt in (1, 2):
        try:
            async with get_client() as client:
                await client.upsert_global_concurrency_limit_by_name(name, slots, slot_decay_per_second=per_second)
            return
        except Exception as exc:
            if attempt == 2:
                raise Retryable(
                    f"Could not set up the rate limit {name}: {type(exc).__name__}.",
                    hint="The workflow engine is busy or unreachable; the step will be retried.",
                ) from exc


async def _acquire_for(key: tuple[str, int], name: str, slots: int) -> None:
    """Acquire slots for everyone waiting on this limit, at most `slots` per call to Prefect."""
    waiters = _waiting[key]
    try:
        while waiters:
            group = waiters[:slots]
            try:
                await _take_slots(name, len(group))
            except Exception as exc:  # e.g. Prefect unreachable: the steps fail (retryably) with it
                _answer(
                    group,
                    Retryable(
                        f"Could not take a slot of the rate limit {name}: {type(exc).__name__}.",
                        hint="The workflow engine is busy or unreachable; the step will be retried.",
                    ),
                )
            else:
                _answer(group, None)
            del waiters[: len(group)]
    finally:  # whatever happened, the next step to wait starts a new acquisition rather than wait for this one
        _waiting.pop(key, None)


def _answer(group: list[asyncio.Future[None]], error: Exception | None) -> None:
    for future in group:
        if future.done():  # its step was cancelled while it waited (its flow run crashed or was cancelled)
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


async def _take_slots(name: str, count: int) -> None:
    """What `prefect.concurrency.asyncio.rate_limit(name, occupy=count, strict=True)` does, on this event loop's
    client rather than on a client of Prefect's own thread, so that a SQLite Prefect's 503 is retried within
    milliseconds instead of after Prefect's 2 s back-off (see `core.prefect_client`)."""
    import httpx
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        prefect_retries.install(client)
        while True:
            try:
                response = await prefect_retries.acall(
                    client.increment_concurrency_slots, names=[name], slots=count, mode="rate_limit"
                )
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code != 423:  # 423: no slot free yet, come back after Retry-After
                    raise
                await asyncio.sleep(float(exc.response.headers.get("Retry-After", 1)))
                continue
            if not response.json():
                raise LookupError(f"the rate limit {name} does not exist")
            return


# --- the API side (sync): save, read and delete block documents --------------------------------


def prefect_settings(settings_: Settings):
    """Prefect calls of this block go to the configured server (never an ephemeral one), with its auth string."""
    from prefect.settings import temporary_settings

    return temporary_settings(prefect_retries.api_settings(settings_))


def save_block(settings_: Settings, block: IntegrationBlock, name: str) -> UUID:
    with prefect_settings(settings_):
        block_id = _ran(block.save(name, overwrite=True))
    forget_cached(name)
    return block_id


def read_block(settings_: Settings, block_type: type[B], name: str) -> B:
    with prefect_settings(settings_):
        return _ran(block_type.load(name))


def delete_block(settings_: Settings, block_type: type[IntegrationBlock], name: str) -> None:
    with prefect_settings(settings_):
        try:
            _ran(block_type.delete(name))
        except ValueError:
            pass  # already gone
    forget_cached(name)


def _ran(result: R | Coroutine[Any, Any, R]) -> R:
    """Prefect runs these methods synchronously in a thread without an event loop, as the API's are;
    from a coroutine it would have returned one (use the `a...` variants there)."""
    if isinstance(result, Coroutine):
        result.close()
        raise RuntimeError("a synchronous Prefect block call was made from an event loop")
    return result


async def persist_block(block: IntegrationBlock) -> None:
    """Save a block changed at run time (a refreshed OAuth token), authenticated as it now is, and mark
    its connection updated, with the settings recorded as saved."""
    from store import utcnow

    block.verify_settings()  # as loaded (a no-op once a secret was revealed); then changed by Flowyard only
    block.reseal()
    await block.asave(block._sealed_as, overwrite=True)
    forget_cached(block._sealed_as)
    expires_at = getattr(block, "expires_at", None)
    config = block.setting_values()

    def mark() -> None:
        with platform_sessions().begin() as db:
            row = db.get(Connection, block.connection_id)
            if row is not None:
                row.token_expires_at, row.updated_at, row.status = expires_at, utcnow(), ConnectionStatus.OK
                row.config = config

    await asyncio.to_thread(mark)
