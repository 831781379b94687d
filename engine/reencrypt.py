"""Sealing a workspace's stored workflow data again with its current data key: the `flowyard-reencrypt` system
flow that a key rotation starts (`POST /api/v1/tenant/keys/rotate`), its deployment, and the work itself, which
`flowyard keys reencrypt` also runs in the foreground (for rows written before payload encryption, too).

A pass reads every sealed column (a `store.sealed.Sealed` column of a table with a `tenant_id`) of one tenant
in bounded batches, paged by primary key, and picks the values not sealed with the tenant's current key:
plain values written before payload encryption, `fy1.` and `fy2.<another key id>.`. Each is opened through its
column type and written back sealed with the current key by an UPDATE that compares the old raw value, so
that a write of the application in the meantime wins (it sealed with the current key already). A batch is one
transaction: an interrupted pass loses nothing, and the next one skips what is done. `remaining` counts what is
left per column; that and the flow run's progress artifact and logs (counts only, never a value) are the
progress an owner and an operator see.

Other processes keep sealing with the key they opened until their key cache expires
(`FLOWYARD_KEYS__CACHE_SECONDS`). So once a pass leaves nothing, the job waits until that long after the
rotation, makes a final pass, and deletes the retired keys (`blocks.crypto.drop_retired_keys`) only if nothing
is left then, in a transaction that holds the tenant's key row (a rotation at that moment waits, or is seen).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC
from typing import Any, cast
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_progress_artifact, aupdate_progress_artifact
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterTags
from prefect.client.schemas.objects import FlowRun
from prefect.client.schemas.sorting import FlowRunSort
from sqlalchemy import Column, ColumnElement, Engine, Table, Text, and_, bindparam, case, func, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from blocks.crypto import cipher_for, drop_retired_keys, forget_tenant_keys
from core import prefect_client as prefect_retries
from core.naming import tenant_prefix, tenant_tags
from core.settings import Settings, get_settings
from crm.records import backfill_contact_indexes
from engine.publish import ensure_system_deployment
from engine.retention import SYSTEM_TAG
from store import Base, RetiredTenantKey, Tenant, TenantKey, utcnow
from store.db import get_session_factory
from store.sealed import PREFIX, PREFIX_WITH_KEY_ID, DecryptionError, Sealed, installed_keyring, seal_as, sealed_key_id

REENCRYPT_FLOW = "flowyard-reencrypt"
DEPLOYMENT_NAME = "on-key-rotation"
ENTRYPOINT = "engine.reencrypt.flowyard_reencrypt"
ROTATION_TAG = "key-rotation"
TAGS = ["flowyard", SYSTEM_TAG, ROTATION_TAG]
BATCH_SIZE = 500
MAX_ROUNDS = 5  # final passes that still found values on an earlier key, before the job gives up (keys kept)
LOG_EVERY_SECONDS = 5.0
log = logging.getLogger("flowyard.reencrypt")


# --- the sealed columns -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SealedColumn:
    table: Table
    column: Column[Any]

    @property
    def name(self) -> str:
        return f"{self.table.name}.{self.column.name}"

    @property
    def type(self) -> Sealed:
        return cast(Sealed, self.column.type)

    @property
    def raw(self) -> ColumnElement[str]:
        """The stored text, not opened (SQLite may hand back a bare number of a legacy JSON column as one)."""
        return sql_cast(self.column, Text)

    @property
    def primary_key(self) -> Column[Any]:
        [key] = self.table.primary_key.columns
        return key


def sealed_columns() -> list[SealedColumn]:
    """Every sealed column of a tenant-owned table, from the models (`store.Base.metadata`)."""
    found = [
        SealedColumn(table, column)
        for table in Base.metadata.sorted_tables
        if "tenant_id" in table.c
        for column in table.columns
        if isinstance(column.type, Sealed)
    ]
    return sorted(found, key=lambda sealed: sealed.name)


def current_key_id(db: Session, tenant_id: str) -> str | None:
    return db.scalar(select(TenantKey.key_id).where(TenantKey.tenant_id == tenant_id))


def _not_on(raw: ColumnElement[str], key_id: str | None, *, sealed_only: bool = False) -> ColumnElement[bool]:
    """A stored value (not NULL) that is not sealed with `key_id` (`sealed_only`: and sealed with another key)."""
    conditions: list[ColumnElement[bool]] = [raw.is_not(None)]
    if key_id is not None:
        prefix = f"{PREFIX_WITH_KEY_ID}{key_id}."
        conditions.append(func.substr(raw, 1, len(prefix)) != prefix)  # exact and case-sensitive, unlike LIKE
    if sealed_only:
        conditions.append(func.substr(raw, 1, len(PREFIX)).in_([PREFIX, PREFIX_WITH_KEY_ID]))
    return and_(*conditions)


def remaining(db: Session, tenant_id: str, *, sealed_only: bool = False) -> dict[str, int]:
    """How many stored values of each sealed column (`table.column`) are not sealed with the tenant's current
    key; `sealed_only`: only those sealed with an earlier key (what its retired keys are still needed for)."""
    key_id = current_key_id(db, tenant_id)
    by_table: dict[str, list[SealedColumn]] = {}
    for sealed in sealed_columns():
        by_table.setdefault(sealed.table.name, []).append(sealed)
    counts: dict[str, int] = {}
    for columns in by_table.values():
        table = columns[0].table
        sums = [
            func.coalesce(func.sum(case((_not_on(c.raw, key_id, sealed_only=sealed_only), 1), else_=0)), 0)
            for c in columns
        ]
        row = db.execute(select(*sums).select_from(table).where(table.c.tenant_id == tenant_id)).one()
        counts.update({c.name: int(count) for c, count in zip(columns, row, strict=True)})
    return dict(sorted(counts.items()))


# --- one pass ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """Where a pass is: values sealed again (`done`) of those not on the current key (`total`)."""

    done: int = 0
    total: int = 0
    skipped: int = 0  # changed by a write of the application first (which sealed them with the current key)
    unreadable: int = 0  # did not open (a damaged value, or another workspace's): left as they are
    column: str | None = None


@dataclass(frozen=True)
class _Batch:
    selected: int
    written: int
    unreadable: int
    last_id: Any


def _sealing_key_id(db: Session, tenant_id: str) -> str:
    """The tenant's current key id, making sure this process seals with it: its key cache may still hold the
    key a rotation replaced (the rotation cleared only its own process's cache). Makes the first key if none."""
    keyring = installed_keyring()
    row = db.get(TenantKey, tenant_id, populate_existing=True)
    if row is not None and keyring.sealing_key(db, tenant_id)[0] == row.key_id:
        return row.key_id
    forget_tenant_keys(tenant_id)
    return keyring.sealing_key(db, tenant_id)[0]


def _open(db: Session, tenant_id: str, sealed: SealedColumn, raw: str) -> Any:
    """The value of a stored text, through its column type; `DecryptionError` or `ValueError` if it does not open."""
    if raw.startswith(PREFIX):  # sealed before key ids: with the tenant's first key ("k0"), current or retired
        plaintext = cipher_for(db, tenant_id, get_settings()).unseal(raw, context=sealed.type.context)
        return sealed.type.load(plaintext)
    if raw.startswith(PREFIX_WITH_KEY_ID):
        bind = db.get_bind()
        engine = bind if isinstance(bind, Engine) else bind.engine
        owner, _ = installed_keyring().opening_key(sealed_key_id(raw) or "", engine)
        if owner != tenant_id:  # never launder a value copied from another workspace into this one's key
            raise DecryptionError("the value was sealed with another workspace's key")
    return sealed.type.process_result_value(raw, db.get_bind().dialect)


def _seal_batch(db: Session, tenant_id: str, key_id: str, sealed: SealedColumn, after: Any, limit: int) -> _Batch:
    key = sealed.primary_key
    query = select(key, sealed.raw).where(sealed.table.c.tenant_id == tenant_id, _not_on(sealed.raw, key_id))
    if after is not None:
        query = query.where(key > after)
    rows = db.execute(query.order_by(key).limit(limit)).all()
    if not rows:
        return _Batch(0, 0, 0, after)
    todo, unreadable = [], 0
    for row_id, old in rows:
        try:
            todo.append({"b_id": row_id, "b_old": old, "b_new": _open(db, tenant_id, sealed, old)})
        except (DecryptionError, ValueError, TypeError):
            unreadable += 1
    written = 0
    if todo:  # compare-and-set: a row the application wrote since it was read keeps that write
        statement = (
            update(sealed.table)
            .where(key == bindparam("b_id"), sealed.raw == bindparam("b_old"))
            .values({sealed.column.name: bindparam("b_new", type_=sealed.column.type)})
        )
        result = db.execute(statement, todo)
        exact = db.get_bind().dialect.supports_sane_multi_rowcount
        written = int(getattr(result, "rowcount", -1)) if exact else len(todo)
        written = len(todo) if written < 0 else written
    return _Batch(len(rows), written, unreadable, rows[-1][0])


def reencrypt_batches(db: Session, tenant_id: str, *, batch_size: int = BATCH_SIZE) -> Iterator[Progress]:
    """One pass over every sealed column of the tenant; yields after each committed batch. Also fills in the
    blind indexes of contacts written before them (`crm.records.backfill_contact_indexes`)."""
    if not installed_keyring().encrypt:  # the benchmark's comparison: nothing is sealed
        return
    seal_as(db, tenant_id)
    _sealing_key_id(db, tenant_id)
    total = sum(remaining(db, tenant_id).values())
    db.commit()
    while backfill_contact_indexes(db, tenant_id, batch_size):
        db.commit()
    db.commit()
    progress = Progress(total=total)
    for sealed in sealed_columns():
        after: Any = None
        while True:
            key_id = _sealing_key_id(db, tenant_id)
            batch = _seal_batch(db, tenant_id, key_id, sealed, after, batch_size)
            db.commit()
            if not batch.selected:
                break
            after = batch.last_id
            done = progress.done + batch.written
            progress = replace(
                progress,
                done=done,
                total=max(progress.total, done),  # values an earlier key sealed meanwhile are found too
                skipped=progress.skipped + batch.selected - batch.unreadable - batch.written,
                unreadable=progress.unreadable + batch.unreadable,
                column=sealed.name,
            )
            yield progress
            if batch.selected < batch_size:
                break


def reencrypt(
    db: Session,
    tenant_id: str,
    *,
    batch_size: int = BATCH_SIZE,
    on_progress: Callable[[Progress], None] | None = None,
) -> Progress:
    """One pass (`reencrypt_batches`), reporting each batch to `on_progress`; returns the last progress."""
    last = Progress()
    for last in reencrypt_batches(db, tenant_id, batch_size=batch_size):
        if on_progress is not None:
            on_progress(last)
    return last


# --- the whole job: passes, the wait for other processes' caches, the retired keys ------------------


@dataclass(frozen=True)
class Waiting:
    """Other processes may still seal with a retired key for `seconds` more (their key caches)."""

    seconds: float


@dataclass(frozen=True)
class Outcome:
    sealed: int = 0
    skipped: int = 0
    unreadable: int = 0
    remaining: dict[str, int] = field(default_factory=dict)
    retired_keys_deleted: int = 0
    passes: int = 0

    @property
    def remaining_total(self) -> int:
        return sum(self.remaining.values())

    def counts(self) -> dict[str, int]:
        return {
            "sealed": self.sealed,
            "skipped": self.skipped,
            "unreadable": self.unreadable,
            "remaining": self.remaining_total,
            "retired_keys_deleted": self.retired_keys_deleted,
            "passes": self.passes,
        }


def _settle_seconds(db: Session, tenant_id: str, settings: Settings) -> float:
    """How long other processes may still seal with a key the last rotation retired (0: no longer; or none)."""
    rotated = db.scalar(select(func.max(RetiredTenantKey.created_at)).where(RetiredTenantKey.tenant_id == tenant_id))
    if rotated is None:
        return 0.0
    if rotated.tzinfo is None:
        rotated = rotated.replace(tzinfo=UTC)
    return max(0.0, settings.keys.cache_seconds - (utcnow() - rotated).total_seconds())


def _has_retired_keys(db: Session, tenant_id: str) -> bool:
    return db.scalar(select(func.count()).where(RetiredTenantKey.tenant_id == tenant_id)) != 0


def reencryption_steps(
    db: Session, tenant_id: str, settings: Settings, *, batch_size: int = BATCH_SIZE
) -> Generator[Progress | Waiting, None, Outcome]:
    """Everything a rotation needs, as steps (a `Progress` after each batch, `Waiting` before the final pass,
    which the caller sleeps): passes until one leaves nothing; then, when the tenant has retired keys, the wait
    until no process seals with them, a final pass, and their deletion if nothing is left. Returns the outcome
    (retired keys kept when values are left that do not open, or still turn up after `MAX_ROUNDS`)."""
    totals = Outcome()
    if db.get(Tenant, tenant_id) is None:  # deleted since the rotation: nothing of it is left to seal
        return totals
    if not installed_keyring().encrypt:
        return replace(totals, remaining=remaining(db, tenant_id))

    def one_pass() -> Generator[Progress, None, Progress]:
        nonlocal totals
        last = Progress()
        for last in reencrypt_batches(db, tenant_id, batch_size=batch_size):
            yield last
        totals = replace(
            totals,
            sealed=totals.sealed + last.done,
            skipped=totals.skipped + last.skipped,
            unreadable=totals.unreadable + last.unreadable,
            passes=totals.passes + 1,
        )
        return last

    for _ in range(MAX_ROUNDS):
        while True:
            last = yield from one_pass()
            left = remaining(db, tenant_id)
            db.commit()
            if not any(left.values()) or not last.done:  # done, or what is left does not open
                break
        if any(left.values()) or not _has_retired_keys(db, tenant_id):
            db.commit()
            return replace(totals, remaining=left)
        while (wait := _settle_seconds(db, tenant_id, settings)) > 0:
            db.commit()
            yield Waiting(wait)
        db.commit()
        yield from one_pass()  # what other processes sealed with a retired key before their caches expired
        db.get(TenantKey, tenant_id, with_for_update=True, populate_existing=True)  # a rotation now waits for us
        left = remaining(db, tenant_id)
        if not any(left.values()) and _settle_seconds(db, tenant_id, settings) == 0:
            deleted = drop_retired_keys(db, tenant_id)
            db.commit()
            forget_tenant_keys(tenant_id)  # this process opens the deleted keys no more either
            return replace(totals, remaining=left, retired_keys_deleted=deleted)
        db.commit()  # found more (a late writer, or a rotation since): again
    return replace(totals, remaining=remaining(db, tenant_id))


def run_reencryption(
    db: Session,
    tenant_id: str,
    settings: Settings,
    *,
    batch_size: int = BATCH_SIZE,
    on_progress: Callable[[Progress], None] | None = None,
    on_wait: Callable[[float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """`reencryption_steps` in the foreground (`flowyard keys reencrypt`, tests)."""
    steps = reencryption_steps(db, tenant_id, settings, batch_size=batch_size)
    while True:
        step, outcome = advance(steps)
        if outcome is not None:
            return outcome
        if isinstance(step, Waiting):
            if on_wait is not None:
                on_wait(step.seconds)
            sleep(step.seconds)
        elif on_progress is not None and step is not None:
            on_progress(step)


def advance(steps: Generator[Progress | Waiting, None, Outcome]) -> tuple[Progress | Waiting | None, Outcome | None]:
    """The next step, or the outcome once there is none (a StopIteration cannot cross `asyncio.to_thread`)."""
    try:
        return next(steps), None
    except StopIteration as stop:
        return None, cast(Outcome, stop.value)


# --- the Prefect system flow ---------------------------------------------------------------------


class ReencryptionIncomplete(Exception):
    """Values are left that are not sealed with the current key: the retired keys were kept."""


async def _report(artifact: UUID | None, progress: Progress) -> None:
    """The progress artifact shows the share of values sealed again (best effort: the work goes on without)."""
    if artifact is None:
        return
    percent = 100.0 * min(progress.done, progress.total) / progress.total if progress.total else 0.0
    try:
        await aupdate_progress_artifact(artifact, percent)
    except Exception:
        get_run_logger().warning("could not update the progress artifact", exc_info=True)


@flow(name=REENCRYPT_FLOW, persist_result=False, log_prints=False)
async def flowyard_reencrypt(tenant_id: str) -> dict[str, int]:
    """Seal one workspace's stored workflow data again with its current data key, then delete its retired keys.
    The work (blocking database calls) runs in threads, a batch at a time: the Flowyard worker runs other flow
    runs on this event loop. Logs and the progress artifact carry counts only."""
    logger = get_run_logger()
    settings = get_settings()
    artifact: UUID | None = None
    try:
        artifact = await acreate_progress_artifact(
            0.0, key=f"reencrypt-{tenant_id}", description="Values sealed again with the workspace's new data key"
        )
    except Exception:
        logger.warning("could not create the progress artifact", exc_info=True)
    logged_at, outcome = 0.0, None
    with get_session_factory(settings.platform_database_url)() as db:
        steps = reencryption_steps(db, tenant_id, settings)
        while outcome is None:
            step, outcome = await asyncio.to_thread(advance, steps)
            if isinstance(step, Waiting):
                logger.info(
                    "nothing left; waiting %.1f s for other processes' key caches, then a final pass", step.seconds
                )
                await asyncio.sleep(step.seconds)
            elif step is not None:
                await _report(artifact, step)
                if time.monotonic() - logged_at >= LOG_EVERY_SECONDS:
                    logged_at = time.monotonic()
                    logger.info("sealed %d of %d values again (%s)", step.done, step.total, step.column)
    if not outcome.remaining_total:
        await _report(artifact, Progress(done=1, total=1))
    counts = outcome.counts()
    logger.info("done: %s", ", ".join(f"{count} {name}" for name, count in counts.items()))
    if outcome.remaining_total:
        left = ", ".join(f"{count} {name}" for name, count in outcome.remaining.items() if count)
        raise ReencryptionIncomplete(
            f"{outcome.remaining_total} values are not sealed with the current key ({left}); "
            f"{outcome.unreadable} did not open: the retired keys are kept"
        )
    return counts


def ensure_reencrypt_deployment(client: SyncPrefectClient, *, work_pool: str) -> UUID:
    """Create or update the deployment a rotation starts flow runs of (no schedule; one run at a time, on the
    maintenance flow's queue in the Flowyard work pool)."""
    return ensure_system_deployment(
        client,
        work_pool=work_pool,
        flow_name=REENCRYPT_FLOW,
        name=DEPLOYMENT_NAME,
        entrypoint=ENTRYPOINT,
        tags=TAGS,
        description="Flowyard's key rotation: seals a workspace's stored workflow data again with its current "
        "data key, in bounded batches, then deletes its retired keys. Started by POST /api/v1/tenant/keys/rotate.",
        parameters={"tenant_id": {"title": "tenant_id", "type": "string", "position": 0}},
    )


def start_reencryption(
    client: SyncPrefectClient, *, work_pool: str, tenant_id: str, tenant_slug: str, key_id: str
) -> FlowRun:
    """A flow run of the deployment for the tenant; at most one per rotation (idempotency key: the new key)."""
    prefect_retries.install(client)
    deployment_id = ensure_reencrypt_deployment(client, work_pool=work_pool)
    return cast(
        FlowRun,
        prefect_retries.call(
            client.create_flow_run_from_deployment,
            deployment_id,
            parameters={"tenant_id": tenant_id},
            idempotency_key=f"reencrypt-{tenant_id}-{key_id}",
            name=f"{tenant_prefix(tenant_slug)}-key-{key_id}",
            tags=[*tenant_tags(tenant_slug, tenant_id), SYSTEM_TAG, ROTATION_TAG],
        ),
    )


def latest_reencryption(client: SyncPrefectClient, tenant_id: str) -> FlowRun | None:
    """The tenant's most recent `flowyard-reencrypt` flow run."""
    runs = client.read_flow_runs(
        flow_filter=FlowFilter(name=FlowFilterName(any_=[REENCRYPT_FLOW])),
        flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[f"tenant:{tenant_id}", ROTATION_TAG])),
        sort=FlowRunSort.EXPECTED_START_TIME_DESC,
        limit=1,
    )
    return runs[0] if runs else None
