"""The idempotency ledger: an action that sends something runs at most once per execution and node.

Before the call a `sending` row is claimed under the key `<execution>-<node>`. A success stores the
result (`done`): a retry or a replay gets that result back and sends nothing. A failure that provably
did not reach the service (refused, 4xx, 429, 5xx) removes the row so a retry may send. A failure
after which the service may have acted (the answer timed out) leaves the row `uncertain`, and no
later attempt sends again: it raises `MaybeSent` (so does a row left `sending` by a worker that died), and the
execution waits as `needs_attention` until a person says whether it went out (run control's attention).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from blocks.base import ActionContext
from blocks.runtime import platform_sessions
from core.errors import MaybeSent, StepFailure
from core.payload_free import is_database_away
from core.retry import ask_again
from store import SideEffect, SideEffectStatus, utcnow
from store.sealed import seal_as

DONE_WRITE_DELAYS = (0.25, 0.5, 1.0, 2.0, 4.0)  # about 8 s: a database restart or failover


async def once(ctx: ActionContext, action: str, send: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    prior = await asyncio.to_thread(_claim, ctx.tenant_id, ctx.idempotency_key, action)
    if prior is not None:
        return _replay(ctx, prior)
    try:
        result = await send()
    except StepFailure as exc:
        await asyncio.to_thread(
            _settle, ctx.tenant_id, ctx.idempotency_key, SideEffectStatus.UNCERTAIN if exc.maybe_sent else None, None
        )
        raise
    except BaseException:
        await asyncio.to_thread(_settle, ctx.tenant_id, ctx.idempotency_key, SideEffectStatus.UNCERTAIN, None)
        raise
    await _record_done(ctx, result)
    return result


async def _record_done(ctx: ActionContext, result: dict[str, Any]) -> None:
    """Mark the row `done`, asking again for a few seconds while the database is away (restarting, failing
    over): the batch of a step whose database went away resumes, and a replay that finds the row still `sending`
    has to ask a person whether it went out. If it cannot, it was sent all the same: report that; the row stays
    `sending`, so a replay will not resend."""
    try:
        await ask_again(DONE_WRITE_DELAYS, when=is_database_away)(
            asyncio.to_thread, _settle, ctx.tenant_id, ctx.idempotency_key, SideEffectStatus.DONE, result
        )
    except Exception:
        ctx.logger.warning("sent, but could not record it in the idempotency ledger (key %s)", ctx.idempotency_key)


def _replay(ctx: ActionContext, prior: SideEffect) -> dict[str, Any]:
    if prior.status == SideEffectStatus.DONE:
        ctx.logger.info("already done by an earlier attempt (key %s): not sending again", ctx.idempotency_key)
        return prior.result or {}
    raise MaybeSent(
        "An earlier attempt of this step may already have reached the service (it did not answer in time, or "
        "its worker stopped), so Flowyard did not send it again.",
        hint="Check in the service whether it arrived, then choose Mark as sent or Send again on the run.",
        details={"idempotency_key": ctx.idempotency_key},
    )


def _claim(tenant_id: str, key: str, action: str) -> SideEffect | None:
    sessions = platform_sessions()
    try:
        with sessions.begin() as db:
            db.add(SideEffect(tenant_id=tenant_id, key=key, action=action, status=SideEffectStatus.SENDING))
        return None
    except IntegrityError:
        with sessions() as db:
            return db.scalar(select(SideEffect).where(SideEffect.tenant_id == tenant_id, SideEffect.key == key))


def _settle(tenant_id: str, key: str, status: str | None, result: dict[str, Any] | None) -> None:
    where = (SideEffect.tenant_id == tenant_id, SideEffect.key == key)
    with platform_sessions().begin() as db:
        seal_as(db, tenant_id)
        if status is None:
            db.execute(delete(SideEffect).where(*where))
        else:
            db.execute(update(SideEffect).where(*where).values(status=status, result=result, updated_at=utcnow()))
