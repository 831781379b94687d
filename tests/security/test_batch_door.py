"""The batch door (issue 18 item 2): a tenant's Job runs its batch through /internal/batches/{id}/… with the batch's
token and no database credentials. The token opens its batch only, while the batch runs; whatever the Job sends,
it cannot read or write another batch's or another tenant's rows. On both databases, through the real API."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from pydantic_core import to_jsonable_python
from sqlalchemy import select

from core.settings import BatchDoorSettings, get_settings
from flow_factory.batch_door import CHUNK_BYTES, BatchDoor, BatchDoorError
from flow_factory.graph import Graph
from flow_factory.plan import compile_plan
from flow_factory.progress import ExecutionRun
from flow_factory.steps import StepWork, run_step
from store import Batch, Execution, ExecutionStatus, StepResult, StepStatus, Tenant, utcnow
from store.batch_door import mint_door_token
from store.batches import QueuedExecution, StepRecord
from store.db import get_session_factory
from tests.conftest import InProcessApi
from tests.platform_rows import Clock, add_execution, add_workflow


class JobBatch:
    """A tenant's batch of `size` executions, with its door token, as the dispatcher leaves it for a Job."""

    def __init__(self, db_url: str, tenant: InProcessApi, size: int = 2, expires_in: timedelta = timedelta(hours=1)):
        self.sessions = get_session_factory(db_url)
        self.api = tenant
        self.tenant_id = tenant.signup_body["tenant"]["id"]
        with self.sessions.begin() as db:
            workflow = add_workflow(db, db.get_one(Tenant, self.tenant_id))
            batch = Batch(
                tenant_id=self.tenant_id,
                workflow_id=workflow.id,
                version=workflow.published_version,
                deployment_id=workflow.deployment_id,
            )
            db.add(batch)
            db.flush()
            clock = Clock()
            self.execution_ids = [
                add_execution(db, workflow, clock=clock, status=ExecutionStatus.BATCHED, batch_id=batch.id).id
                for _ in range(size)
            ]
            self.token = mint_door_token(batch, utcnow() + expires_in)
            self.batch_id = batch.id

    def door(self, token: str | None = None) -> BatchDoor:
        settings = BatchDoorSettings(url="http://testserver", token=token or self.token)
        return BatchDoor(settings, http=self.api.http)

    def statuses(self) -> dict[str, str]:
        with self.sessions() as db:
            rows = db.execute(select(Execution.id, Execution.status).where(Execution.id.in_(self.execution_ids)))
            return dict(rows.all())

    def step_rows(self) -> int:
        with self.sessions() as db:
            return len(db.scalars(select(StepResult.id).where(StepResult.execution_id.in_(self.execution_ids))).all())

    def step(self, execution_id: str, output: object = None) -> StepRecord:
        now = utcnow()
        return StepRecord(
            id=str(uuid.uuid4()),
            tenant_id=self.tenant_id,
            execution_id=execution_id,
            node_id="say",
            status=StepStatus.COMPLETED,
            output=output,
            started_at=now,
            ended_at=now,
        )


@pytest.fixture
def job_batch(platform_db_url, anonymous) -> Callable[..., JobBatch]:
    return lambda **kwargs: JobBatch(platform_db_url, anonymous.signup(), **kwargs)


def test_a_job_runs_its_batch_through_the_door_and_the_user_sees_the_run_completed(job_batch):
    batch = job_batch()
    door = batch.door()
    work = door.start_in_flow_run(batch.batch_id, None)
    assert sorted(e.id for e in work.executions) == sorted(batch.execution_ids)
    assert work.graph["nodes"][1]["type"] == "util.log"  # the version's graph, opened
    assert set(batch.statuses().values()) == {ExecutionStatus.RUNNING}
    first, second = work.executions
    door.write_steps([("insert", [batch.step(first.id, {"said": "hi"}).row()])])
    door.finish(
        {e.id: {"status": ExecutionStatus.COMPLETED, "error": None} for e in work.executions},
        [("insert", [batch.step(second.id, {"said": "hi"}).row()])],
    )
    run = batch.api.get(f"/api/v1/runs/{first.id}")
    assert run.status_code == 200, run.text
    assert run.json()["status"] == "completed"
    assert [(s["node_id"], s["output"]) for s in run.json()["steps"]] == [("say", {"said": "hi"})]
    with pytest.raises(BatchDoorError, match="401"):  # the batch ended: its token opens nothing any more
        door.cancelled_among([first.id])


def test_no_token_a_wrong_one_another_batchs_or_an_expired_one_gets_401_and_changes_nothing(job_batch):
    batch, other = job_batch(), job_batch()
    expired = job_batch(expires_in=timedelta(seconds=-1))
    for door, batch_id in (
        (batch.door(token="x" * 43), batch.batch_id),
        (other.door(), batch.batch_id),
        (expired.door(), expired.batch_id),
    ):
        with pytest.raises(BatchDoorError, match="401"):
            door.start_in_flow_run(batch_id, None)
    bare = batch.api.http.post(f"/internal/batches/{batch.batch_id}/start")
    assert bare.status_code == 401
    assert bare.headers["content-type"] == "application/problem+json"
    assert bare.json()["type"].endswith("/batch-door-closed")
    assert set(batch.statuses().values()) == set(expired.statuses().values()) == {ExecutionStatus.BATCHED}


def test_a_token_cannot_write_steps_or_outcomes_of_another_tenants_executions(job_batch):
    mine, theirs = job_batch(), job_batch()
    door = mine.door()
    door.start_in_flow_run(mine.batch_id, None)
    their_door = theirs.door()
    their_door.start_in_flow_run(theirs.batch_id, None)
    their_step = theirs.step(theirs.execution_ids[0], "theirs")
    their_door.write_steps([("insert", [their_step.row()])])

    forged_row = mine.step(theirs.execution_ids[0]).row()
    forged_row["tenant_id"] = theirs.tenant_id
    moved = {**their_step.row(), "execution_id": mine.execution_ids[0], "tenant_id": mine.tenant_id}
    attempts = [
        lambda: door.write_steps([("insert", [forged_row])]),  # a step into their execution
        lambda: door.write_steps([("update", [moved])]),  # their step row moved into mine
        lambda: door.finish({theirs.execution_ids[0]: {"status": ExecutionStatus.FAILED, "error": {}}}),
        lambda: door.cancelled_among(theirs.execution_ids),
    ]
    for attempt in attempts:
        with pytest.raises(BatchDoorError, match="403"):
            attempt()
    assert theirs.statuses() == dict.fromkeys(theirs.execution_ids, ExecutionStatus.RUNNING)
    assert mine.step_rows() == 0 and theirs.step_rows() == 1
    with mine.sessions() as db:
        assert db.get_one(StepResult, their_step.id).execution_id == theirs.execution_ids[0]


def test_an_outcome_sets_the_end_of_the_run_and_nothing_else(job_batch):
    batch = job_batch()
    door = batch.door()
    door.start_in_flow_run(batch.batch_id, None)
    other_tenant = str(uuid.uuid4())
    forged = {batch.execution_ids[0]: {"status": "completed", "tenant_id": other_tenant}}
    answer = batch.api.http.post(
        f"/internal/batches/{batch.batch_id}/finish",
        json={"outcomes": forged},
        headers={"Authorization": f"Bearer {batch.token}"},
    )
    assert answer.status_code == 422
    assert any("tenant_id" in error["path"] for error in answer.json()["errors"]), answer.json()
    queued_again = {batch.execution_ids[0]: {"status": "queued"}}  # only ends of a batch
    with pytest.raises(BatchDoorError, match="422"):
        door.finish(queued_again)
    assert set(batch.statuses().values()) == {ExecutionStatus.RUNNING}


def test_a_crashed_job_resumes_its_executions_at_most_as_often_as_the_platform_allows(job_batch):
    batch = job_batch()
    with batch.sessions.begin() as db:  # already resumed as often as the platform allows (3 by default)
        db.get_one(Execution, batch.execution_ids[0]).resumptions = 3
    door = batch.door()
    door.start_in_flow_run(batch.batch_id, None)
    outcome = door.resume_unfinished(batch.batch_id, most=1_000, reason="the pod was evicted")
    assert outcome == {"resumed": 1, "failed": 1}
    assert batch.statuses() == {
        batch.execution_ids[0]: ExecutionStatus.FAILED,
        batch.execution_ids[1]: ExecutionStatus.QUEUED,
    }
    with pytest.raises(BatchDoorError, match="401"):  # they left the batch: its door closed
        door.write_steps([("insert", [batch.step(batch.execution_ids[1]).row()])])


def test_a_failing_job_fails_its_batch_but_cannot_mark_it_completed_that_way(job_batch):
    batch = job_batch()
    door = batch.door()
    door.start_in_flow_run(batch.batch_id, None)
    with pytest.raises(BatchDoorError, match="422"):
        door.fail_unfinished(batch.batch_id, ExecutionStatus.COMPLETED, {"message": "done?"})
    door.fail_unfinished(batch.batch_id, ExecutionStatus.FAILED, {"message": "Internal error", "hint": None})
    assert set(batch.statuses().values()) == {ExecutionStatus.FAILED}


def test_step_rows_beyond_the_api_body_limit_are_sent_in_several_requests(job_batch):
    batch = job_batch(size=3)
    door = batch.door()
    work = door.start_in_flow_run(batch.batch_id, None)
    big = "x" * (CHUNK_BYTES * 3 // 4)  # three rows of 384 KiB: over the API's 1 MiB body limit in one request
    rows = [batch.step(e.id, {"text": big}).row() for e in work.executions]
    at_once = batch.api.http.post(
        f"/internal/batches/{batch.batch_id}/steps",
        content=json.dumps({"writes": [{"kind": "insert", "rows": to_jsonable_python(rows)}]}),
        headers={"Authorization": f"Bearer {batch.token}", "Content-Type": "application/json"},
    )
    assert at_once.status_code == 413  # what one request would get
    door.finish(
        {e.id: {"status": ExecutionStatus.COMPLETED, "error": None} for e in work.executions}, [("insert", rows)]
    )
    assert batch.step_rows() == 3
    assert set(batch.statuses().values()) == {ExecutionStatus.COMPLETED}


async def test_inside_a_job_a_step_that_needs_the_platform_database_fails_with_a_clear_error(monkeypatch):
    """An approval step, in a Job of a dedicated workspace: its step fails, saying why and what to do; it does not
    open the empty local SQLite file the Job's default settings would name."""
    graph = {
        "nodes": [
            {"id": "start", "type": "trigger.manual", "config": {}},
            {"id": "ask", "type": "logic.approval", "config": {"message": "Send the offer?"}},
        ],
        "edges": [{"id": "e1", "source": "start", "target": "ask"}],
    }
    plan = compile_plan(Graph.model_validate(graph))
    queued = QueuedExecution(str(uuid.uuid4()), str(uuid.uuid4()), "live", {})
    record = StepRecord(str(uuid.uuid4()), queued.tenant_id, queued.id, "ask", StepStatus.RUNNING)
    monkeypatch.setenv("FLOWYARD_BATCH_DOOR__URL", "http://platform-api.flowyard.svc:8000")
    get_settings.cache_clear()
    try:
        await run_step(plan, "ask", StepWork(ExecutionRun(queued), record), logger=logging.getLogger("test"))
    finally:
        monkeypatch.delenv("FLOWYARD_BATCH_DOOR__URL")
        get_settings.cache_clear()
    assert record.status == StepStatus.FAILED
    assert record.error is not None and record.error["kind"] == "configuration"
    assert "do not reach yet" in record.error["message"]
    assert "shared tier" in record.error["hint"]
