"""The dispatcher's SQL against a real database (SQLite, and PostgreSQL when configured), without Prefect:
which queued executions become batches (`claim_batches`) and which may start at all (`admit`).

The module has a database of its own, emptied of executions before each test: `claim_batches` looks at
every queued execution, so executions other tests leave queued would join these batches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.admission import DELETED, SKIPPED, admit
from engine.dispatcher import claim_batches, congested_deployments, fair_candidates, release_due_waits
from store import Batch, Execution, ExecutionStatus, utcnow
from store.db import get_session_factory
from tests.conftest import BACKENDS
from tests.platform_rows import Clock, add_execution, add_tenant, add_workflow


@pytest.fixture(scope="module", params=BACKENDS)
def engine_db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    from store.migrate import upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('claims') / 'platform.db'}"
    else:
        url = request.getfixturevalue("postgres").create("claims")
    upgrade(url)
    return url


@pytest.fixture
def db(engine_db_url: str) -> Iterator[Session]:
    with get_session_factory(engine_db_url)() as session:
        session.execute(delete(Execution))
        session.execute(delete(Batch))
        session.commit()
        yield session


@pytest.fixture
def clock() -> Clock:
    return Clock()


def claim(
    db: Session,
    *,
    batch_size: int = 100,
    limit: int = 1000,
    per_tenant: int | None = None,
    skip: list[str] | None = None,
    default_max_running: int | None = None,
) -> int:
    return claim_batches(
        db,
        batch_size=batch_size,
        limit=limit,
        per_tenant=per_tenant,
        skip_deployments=skip,
        default_max_running=default_max_running,
    )


def batches_of(db: Session, executions: list[Execution]) -> list[list[Execution]]:
    """The executions grouped by the batch they were claimed into (batches in creation order); not claimed
    ones are left out."""
    for execution in executions:
        db.refresh(execution)
    ids = list(dict.fromkeys(e.batch_id for e in executions if e.batch_id))
    return [[e for e in executions if e.batch_id == batch_id] for batch_id in ids]


def statuses(db: Session, executions: list[Execution]) -> list[str]:
    for execution in executions:
        db.refresh(execution)
    return [e.status for e in executions]


# --- claim_batches: grouping, size, order ----------------------------------------------------------


def test_a_batch_holds_one_workflow_version_and_every_queued_execution_is_claimed_once(db, clock):
    tenant = add_tenant(db)
    first, second = add_workflow(db, tenant, versions=2), add_workflow(db, add_tenant(db))
    mixed = [
        add_execution(db, workflow, clock=clock, version=version)
        for _ in range(3)
        for workflow, version in ((first, 1), (first, 2), (second, 1))
    ]
    db.commit()

    assert claim(db) == 9
    groups = batches_of(db, mixed)
    assert len(groups) == 3
    for group in groups:
        assert len({(e.workflow_id, e.version) for e in group}) == 1 and len(group) == 3
        batch = db.get(Batch, group[0].batch_id)
        assert (batch.workflow_id, batch.version, batch.deployment_id) == (
            group[0].workflow_id,
            group[0].version,
            group[0].deployment_id,
        )
    assert set(statuses(db, mixed)) == {ExecutionStatus.BATCHED}
    assert claim(db) == 0  # nothing claimed twice


def test_batches_are_at_most_batch_size_oldest_first(db, clock):
    workflow = add_workflow(db, add_tenant(db))
    burst = [add_execution(db, workflow, clock=clock) for _ in range(7)]
    db.commit()

    assert claim(db, batch_size=3) == 7
    assert [[e.id for e in group] for group in batches_of(db, burst)] == [
        [e.id for e in burst[:3]],
        [e.id for e in burst[3:6]],
        [burst[6].id],
    ]


def test_a_burst_of_one_workflow_does_not_overtake_an_older_execution_of_another(db, clock):
    early = add_execution(db, add_workflow(db, add_tenant(db)), clock=clock)
    busy = add_workflow(db, add_tenant(db))
    burst = [add_execution(db, busy, clock=clock) for _ in range(10)]
    db.commit()

    assert claim(db, limit=4) == 4  # `limit` looks at the oldest queued executions only
    assert statuses(db, [early]) == [ExecutionStatus.BATCHED]
    assert statuses(db, burst) == [ExecutionStatus.BATCHED] * 3 + [ExecutionStatus.QUEUED] * 7


def test_executions_of_a_congested_deployment_stay_queued_until_it_drains(db, clock):
    congested, other = add_workflow(db, add_tenant(db)), add_workflow(db, add_tenant(db))
    for _ in range(2):  # two batches no worker has started yet
        add_execution(db, congested, clock=clock)
        db.commit()
        claim(db)
    waiting, free = add_execution(db, congested, clock=clock), add_execution(db, other, clock=clock)
    db.commit()

    skip = congested_deployments(db, max_pending_batches=2)
    assert skip == [congested.deployment_id]
    assert claim(db, skip=skip) == 1
    assert statuses(db, [waiting, free]) == [ExecutionStatus.QUEUED, ExecutionStatus.BATCHED]
    assert congested_deployments(db, max_pending_batches=3) == []


def test_a_wait_that_is_over_is_queued_again_and_claimed(db, clock):
    workflow = add_workflow(db, add_tenant(db))
    due, later = (
        add_execution(db, workflow, clock=clock, status=ExecutionStatus.WAITING, started=True) for _ in range(2)
    )
    due.resume_at, later.resume_at = utcnow(), utcnow().replace(year=utcnow().year + 1)
    db.commit()

    assert release_due_waits(db) == 1
    assert claim(db) == 1
    assert statuses(db, [due, later]) == [ExecutionStatus.BATCHED, ExecutionStatus.WAITING]


# --- admission: conflict policies and the tenant's limit ------------------------------------------


def in_flight(db: Session, workflow: Any, clock: Clock, count: int = 1) -> list[Execution]:
    return [
        add_execution(db, workflow, clock=clock, status=ExecutionStatus.RUNNING, started=True) for _ in range(count)
    ]


def queued(db: Session, workflow: Any, clock: Clock, count: int) -> list[Execution]:
    return [add_execution(db, workflow, clock=clock) for _ in range(count)]


def test_queue_policy_runs_one_at_a_time_and_keeps_the_rest_queued(db, clock):
    workflow = add_workflow(db, add_tenant(db), conflict_policy="queue")
    waiting = queued(db, workflow, clock, 3)
    db.commit()

    assert claim(db) == 1
    assert statuses(db, waiting) == [ExecutionStatus.BATCHED, ExecutionStatus.QUEUED, ExecutionStatus.QUEUED]
    assert claim(db) == 0  # the first is in flight
    waiting[0].status = ExecutionStatus.COMPLETED
    db.commit()
    assert claim(db) == 1 and statuses(db, waiting)[1] == ExecutionStatus.BATCHED


def test_skip_policy_cancels_what_arrives_while_one_is_in_flight_and_says_why(db, clock):
    workflow = add_workflow(db, add_tenant(db), conflict_policy="skip")
    running = in_flight(db, workflow, clock)
    arriving = queued(db, workflow, clock, 2)
    db.commit()

    assert claim(db) == 0
    assert statuses(db, running + arriving) == [ExecutionStatus.RUNNING] + [ExecutionStatus.CANCELLED] * 2
    assert arriving[0].error == SKIPPED and arriving[0].ended_at is not None


def test_runs_accepted_just_before_their_workflow_was_deleted_never_start(db, clock):
    deleted, kept = add_workflow(db, add_tenant(db)), add_workflow(db, add_tenant(db))
    late, fine = queued(db, deleted, clock, 2), queued(db, kept, clock, 1)
    deleted.deleted_at = utcnow()
    db.commit()

    assert claim(db) == 1
    assert statuses(db, late + fine) == [ExecutionStatus.CANCELLED] * 2 + [ExecutionStatus.BATCHED]
    assert late[0].error == DELETED


def test_parallel_policy_admits_up_to_max_parallel_oldest_first(db, clock):
    limited = add_workflow(db, add_tenant(db), conflict_policy="parallel", max_parallel=3)
    unlimited = add_workflow(db, add_tenant(db), conflict_policy="parallel")
    in_flight(db, limited, clock)
    capped, free = queued(db, limited, clock, 4), queued(db, unlimited, clock, 5)
    db.commit()

    assert claim(db) == 2 + 5
    assert statuses(db, capped) == [ExecutionStatus.BATCHED] * 2 + [ExecutionStatus.QUEUED] * 2
    assert set(statuses(db, free)) == {ExecutionStatus.BATCHED}


def test_a_tenants_max_running_caps_its_executions_across_workflows_and_not_other_tenants(db, clock):
    small = add_tenant(db, max_running=3)
    one, two = add_workflow(db, small), add_workflow(db, small)
    other = add_workflow(db, add_tenant(db))
    in_flight(db, one, clock)
    first, second, others = queued(db, one, clock, 2), queued(db, two, clock, 2), queued(db, other, clock, 4)
    db.commit()

    assert claim(db) == 2 + 4
    assert statuses(db, first + second) == [ExecutionStatus.BATCHED] * 2 + [ExecutionStatus.QUEUED] * 2
    assert set(statuses(db, others)) == {ExecutionStatus.BATCHED}


def test_executions_resuming_after_a_wait_are_never_held_back(db, clock):
    workflow = add_workflow(db, add_tenant(db, max_running=1), conflict_policy="queue")
    in_flight(db, workflow, clock)
    resuming = add_execution(db, workflow, clock=clock, started=True)
    new = add_execution(db, workflow, clock=clock)
    db.commit()

    candidates = list(
        db.scalars(select(Execution).where(Execution.status == ExecutionStatus.QUEUED).order_by(Execution.created_at))
    )
    assert [e.id for e in admit(db, candidates)] == [resuming.id]
    db.commit()
    assert statuses(db, [new]) == [ExecutionStatus.QUEUED]  # held back, not dropped


def test_a_tenants_default_max_running_applies_only_to_tenants_without_their_own(db, clock):
    plain, own = add_workflow(db, add_tenant(db)), add_workflow(db, add_tenant(db, max_running=5))
    in_flight(db, plain, clock)
    capped, free = queued(db, plain, clock, 3), queued(db, own, clock, 3)
    db.commit()

    assert claim(db, default_max_running=2) == 1 + 3
    assert statuses(db, capped) == [ExecutionStatus.BATCHED] + [ExecutionStatus.QUEUED] * 2
    assert set(statuses(db, free)) == {ExecutionStatus.BATCHED}


# --- fairness: tenants take turns, a held-back backlog blocks no one else ---------------------------


def test_a_tenants_backlog_held_by_its_conflict_policy_does_not_hold_back_another_tenant(db, clock):
    flooding = add_workflow(db, add_tenant(db), conflict_policy="queue")
    in_flight(db, flooding, clock)
    backlog = queued(db, flooding, clock, 50)  # all older than the other tenant's execution
    other = add_execution(db, add_workflow(db, add_tenant(db)), clock=clock)
    db.commit()

    for _ in range(3):  # pass after pass, the held backlog is looked at again and stays queued
        assert claim(db, limit=10, per_tenant=10) <= 1
    assert statuses(db, [other]) == [ExecutionStatus.BATCHED]
    assert set(statuses(db, backlog)) == {ExecutionStatus.QUEUED}


def test_a_tenant_at_its_running_quota_does_not_hold_back_another_tenant(db, clock):
    full = add_workflow(db, add_tenant(db, max_running=1))
    in_flight(db, full, clock)
    backlog = queued(db, full, clock, 30)
    other = add_execution(db, add_workflow(db, add_tenant(db)), clock=clock)
    db.commit()

    assert claim(db, limit=10, per_tenant=5) == 1
    assert statuses(db, [other]) == [ExecutionStatus.BATCHED]
    assert set(statuses(db, backlog)) == {ExecutionStatus.QUEUED}


def test_tenants_take_turns_oldest_first_at_most_per_tenant_each_pass(db, clock):
    workflows = {name: add_workflow(db, add_tenant(db)) for name in "ABC"}
    rows = {name: queued(db, workflows[name], clock, count) for name, count in (("A", 5), ("B", 3), ("C", 1))}
    db.commit()

    def picked(**kwargs: int) -> list[str]:
        """The executions looked at, named by tenant and age."""
        ids = {e.id for e in fair_candidates(db, **kwargs)}
        return [f"{name}{i}" for name in "ABC" for i, e in enumerate(rows[name]) if e.id in ids]

    assert picked(limit=100, per_tenant=2) == ["A0", "A1", "B0", "B1", "C0"]
    assert picked(limit=3, per_tenant=2) == ["A0", "B0", "C0"]  # the pass's limit: one turn of each
    assert picked(limit=4, per_tenant=2) == ["A0", "A1", "B0", "C0"]  # then the oldest of the next turn
    db.commit()
    assert claim(db, limit=100, per_tenant=2) == 5
    assert claim(db, limit=100, per_tenant=2) == 3  # A2 A3 B2
    assert statuses(db, rows["A"])[4] == ExecutionStatus.QUEUED
    assert claim(db, limit=100, per_tenant=2) == 1


def test_a_second_dispatcher_skips_what_the_first_has_locked_on_postgresql(db, clock, engine_db_url):
    if not engine_db_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: nothing to skip")
    a, b = add_workflow(db, add_tenant(db)), add_workflow(db, add_tenant(db))
    first_a, first_b = queued(db, a, clock, 5), queued(db, b, clock, 3)
    db.commit()

    with get_session_factory(engine_db_url)() as other:
        mine = {e.id for e in fair_candidates(db, limit=100, per_tenant=2)}  # locked until db commits
        theirs = {e.id for e in fair_candidates(other, limit=100, per_tenant=2)}
        other.rollback()
    db.rollback()
    assert mine == {e.id for e in first_a[:2] + first_b[:2]}
    assert theirs == {e.id for e in first_a[2:4] + first_b[2:3]}
