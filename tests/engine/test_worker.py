"""The Flowyard worker against a real Prefect server (the one `flowyard up` started, on SQLite and on
PostgreSQL): its concurrency limit, cancellation from the API, draining on SIGTERM, and what happens to
runs of a worker that is killed. Each test runs its own worker process on a pool of its own."""

from __future__ import annotations

import signal
import uuid

import pytest
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.states import Cancelling
from prefect.workers.process import ProcessWorker
from sqlalchemy import select

from tests.engine.support import (
    GateServer,
    PrefectProcessWorker,
    WorkerProcess,
    Workflow,
    flow_run_state,
    prefect_client,
    wait_until,
)
from tests.support import Api


def held_graph(gate_url: str) -> dict:
    """trigger -> an HTTP call that the gate holds until released."""
    return {
        "nodes": [
            {"id": "start", "type": "trigger.manual", "label": "Start", "config": {}, "position": {"x": 0, "y": 0}},
            {
                "id": "call",
                "type": "http.request",
                "label": "Call",
                "config": {"method": "GET", "url": gate_url + "/hold/{{ trigger.n }}", "timeout_seconds": 300},
                "position": {"x": 200, "y": 0},
            },
        ],
        "edges": [{"id": "e1", "source": "start", "target": "call"}],
    }


@pytest.fixture
def gate():
    server = GateServer()
    yield server
    server.stop()


@pytest.fixture
def setup(stack, gate):
    """A pool of its own, a workflow deployed on it, and a worker with limit 2 (stopped afterwards)."""
    pool = f"test-{uuid.uuid4().hex[:8]}"
    workflow = Workflow(stack, Api(stack.api_url).signup(), held_graph(gate.url), pool)
    worker = WorkerProcess(stack, pool, limit=2, drain_seconds="120")
    yield workflow, worker
    worker.stop()


def test_worker_runs_at_most_its_limit_at_once(stack, gate, setup):
    workflow, worker = setup
    batches = [workflow.run_batch([{"n": n}]) for n in range(4)]
    wait_until(lambda: len(gate.held) == 2, what="two runs to reach the gate")
    with prefect_client(stack) as client:  # several polls later, still only two
        wait_until(
            lambda: worker.process.poll() is None
            and sum(client.read_flow_run(uuid.UUID(f)).state_type.value == "SCHEDULED" for _, f, _ in batches) == 2,
            what="two runs left scheduled",
        )
    assert len(gate.held) == 2
    states = sorted(flow_run_state(stack, f) for _, f, _ in batches)
    assert states == ["RUNNING", "RUNNING", "SCHEDULED", "SCHEDULED"]

    gate.released.set()
    for _, flow_run_id, executions in batches:
        wait_until(lambda run=flow_run_id: flow_run_state(stack, run) == "COMPLETED", what="all four runs to complete")
        assert workflow.status(executions[0]) == "completed"
    assert len(gate.held) == 4


def test_cancelling_a_running_flow_run_cancels_it_and_its_executions(stack, gate, setup):
    workflow, worker = setup
    _, flow_run_id, executions = workflow.run_batch([{"n": "cancel-me"}])
    wait_until(lambda: gate.held, what="the run to reach the gate")
    with prefect_client(stack) as client:  # what the Prefect UI's "Cancel" does
        client.set_flow_run_state(uuid.UUID(flow_run_id), Cancelling(message="cancelled by a test"))
    wait_until(lambda: flow_run_state(stack, flow_run_id) == "CANCELLED", what="the flow run to be cancelled")
    wait_until(lambda: workflow.status(executions[0]) == "cancelled", what="the execution to be cancelled")

    gate.released.set()  # the worker is still healthy and takes new work
    _, next_run, next_executions = workflow.run_batch([{"n": "after"}])
    wait_until(lambda: flow_run_state(stack, next_run) == "COMPLETED", what="the next run to complete")
    assert workflow.status(next_executions[0]) == "completed"


def test_sigterm_drains_running_flow_runs_and_takes_no_new_ones(stack, gate, setup):
    workflow, worker = setup
    running = [workflow.run_batch([{"n": n}]) for n in range(2)]
    wait_until(lambda: len(gate.held) == 2, what="two runs to reach the gate")
    worker.signal(signal.SIGTERM)
    wait_until(lambda: "draining" in worker.log_tail(), what="the worker to start draining")
    _, late_run, _ = workflow.run_batch([{"n": "late"}])
    assert worker.process.poll() is None  # still running: it waits for its flow runs

    gate.released.set()
    assert worker.process.wait(timeout=120) == 0, worker.log_tail()
    for _, flow_run_id, executions in running:
        assert flow_run_state(stack, flow_run_id) == "COMPLETED"
        assert workflow.status(executions[0]) == "completed"
    assert flow_run_state(stack, late_run) == "SCHEDULED"  # left for another worker


def test_runs_of_a_killed_worker_are_crashed_and_their_executions_resume_on_another(stack, gate, setup):
    workflow, worker = setup
    _, flow_run_id, executions = workflow.run_batch([{"n": "doomed"}])
    wait_until(lambda: gate.held, what="the run to reach the gate")
    worker.signal(signal.SIGKILL)
    worker.process.wait()
    # The dispatcher (in the platform API) notices the missed heartbeats, then queues the execution again.
    wait_until(lambda: flow_run_state(stack, flow_run_id) == "CRASHED", timeout=180, what="the flow run to crash")
    wait_until(
        lambda: workflow.status(executions[0]) in ("queued", "batched"), timeout=120, what="it to be queued again"
    )

    gate.released.set()
    another = WorkerProcess(stack, worker.pool, limit=2, drain_seconds="5")
    try:
        wait_until(lambda: workflow.status(executions[0]) == "completed", timeout=180, what="the execution to complete")
    finally:
        another.stop()
    with workflow.sessions() as db:
        from store import Execution, StepResult

        assert db.get(Execution, executions[0]).resumptions == 1
        steps = db.scalars(select(StepResult).where(StepResult.execution_id == executions[0])).all()
    assert sorted((s.node_id, s.status) for s in steps) == [("call", "completed"), ("start", "completed")]


def test_prefects_process_worker_runs_the_same_deployments(stack, gate):
    """A Flowyard deployment needs nothing of the Flowyard worker: Prefect's own process worker (and with it
    any worker that runs `prefect flow-run execute`, as the Kubernetes worker's jobs do) runs its batches."""
    pool = f"process-{uuid.uuid4().hex[:8]}"
    with prefect_client(stack) as client:
        client.create_work_pool(
            WorkPoolCreate(name=pool, type="process", base_job_template=ProcessWorker.get_default_base_job_template())
        )
    workflow = Workflow(stack, Api(stack.api_url).signup(), held_graph(gate.url), pool)
    gate.released.set()
    worker = PrefectProcessWorker(stack, pool)
    try:
        _, flow_run_id, executions = workflow.run_batch([{"n": "by-process"}, {"n": "also"}])
        wait_until(
            lambda: flow_run_state(stack, flow_run_id) == "COMPLETED",
            timeout=180,
            what=f"the process worker to run the batch\n{worker.log_tail()}",
        )
        assert [workflow.status(e) for e in executions] == ["completed", "completed"]
        assert sorted(gate.seen) == ["/hold/also", "/hold/by-process"]
    finally:
        worker.stop()
