"""The interpreter's core without a stack: real node types run in-process (`inline_runner`), step records
go to a list, alerts to another. Each test runs a batch the way the `graph-interpreter` flow does and
checks what a user would see: which steps ran, with which outputs, and how each execution ended."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from core.settings import ExecutionSettings
from flow_factory.graph import Graph
from flow_factory.plan import compile_plan
from flow_factory.progress import restore
from flow_factory.routing import BatchRouter, inline_runner
from flow_factory.steps import NodeCall, StepOutcome
from flow_factory.validation import validate_graph
from store import ExecutionStatus, StepStatus
from store.batches import QueuedExecution, StepRecord
from tests.support import edge, graph, node

LOG = logging.getLogger("flowyard.test.routing")
FAST = ExecutionSettings(max_attempts=3, retry_base_seconds=0.01, retry_max_seconds=5, step_concurrency=50)
TENANT = "tenant-1"


class ListSink:
    """Where the core's step records go: each write copied, as the StepWriter queues rows."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, dict[str, Any]]] = []

    def insert(self, records: list[StepRecord]) -> None:
        self.writes += [("insert", record.row()) for record in records]

    def update(self, records: list[StepRecord]) -> None:
        self.writes += [("update", record.row()) for record in records]

    def stored(self, execution_id: str) -> list[StepRecord]:
        """The execution's step rows as the database holds them after these writes."""
        rows: dict[str, dict[str, Any]] = {}
        for _, row in self.writes:
            if row["execution_id"] == execution_id:
                rows[row["id"]] = row
        return [StepRecord(**row) for row in rows.values()]

    def steps(self, execution_id: str) -> dict[str, StepRecord]:
        """Top-level steps (not loop items) by node id."""
        return {r.node_id: r for r in self.stored(execution_id) if r.item_index is None}


@dataclass
class Batch:
    outcomes: dict[str, dict[str, Any]]
    sink: ListSink
    calls: list[tuple[str, int, list[str]]]  # (node id, attempt, executions) per runner call
    alerts: list[dict[str, Any]]
    ids: list[str] = field(default_factory=list)

    def status(self, i: int) -> str:
        return self.outcomes[self.ids[i]]["status"]

    def steps(self, i: int) -> dict[str, StepRecord]:
        return self.sink.steps(self.ids[i])

    def calls_of(self, node_id: str) -> list[tuple[int, list[str]]]:
        return [(attempt, ids) for called, attempt, ids in self.calls if called == node_id]


def queued(
    payload: dict[str, Any],
    *,
    mode: str = "live",
    earlier: list[StepRecord] | None = None,
    execution_id: str | None = None,
) -> QueuedExecution:
    return QueuedExecution(execution_id or str(uuid.uuid4()), TENANT, mode, payload, "UTC", earlier or [])


async def run_batch(
    workflow: dict[str, Any], executions: list[QueuedExecution], settings: ExecutionSettings = FAST
) -> Batch:
    assert validate_graph(workflow) == []
    sink, calls, alerts = ListSink(), [], []
    inline = inline_runner(LOG)

    async def runner(call: NodeCall) -> list[StepOutcome]:
        calls.append((call.node_id, call.attempt, [w.run.id for w in call.work]))
        return await inline(call)

    async def alert(**details: Any) -> None:
        alerts.append(details)

    router = BatchRouter(
        plan=compile_plan(Graph.model_validate(workflow)),
        runner=runner,
        sink=sink,
        settings=settings,
        alert=alert,
        logger=LOG,
    )
    outcomes = await router.run(executions)
    return Batch(outcomes, sink, calls, alerts, [e.id for e in executions])


def start() -> dict[str, Any]:
    return node("start", "trigger.manual")


# --- routing by handle ------------------------------------------------------------------------


async def test_if_sends_each_execution_down_its_own_branch_in_one_call_per_node():
    workflow = graph(
        [
            start(),
            node("check", "logic.if", {"expression": "trigger.x > 3"}),
            node("big", "data.transform", {"fields": {"size": "big", "x": "{{ trigger.x }}"}}),
            node("small", "data.transform", {"fields": {"size": "small"}}),
        ],
        [edge("start", "check"), edge("check", "big", "true"), edge("check", "small", "false")],
    )
    batch = await run_batch(workflow, [queued({"x": 1}), queued({"x": 5}), queued({"x": 2})])

    assert [batch.status(i) for i in range(3)] == [ExecutionStatus.COMPLETED] * 3
    assert set(batch.steps(0)) == {"start", "check", "small"}
    assert set(batch.steps(1)) == {"start", "check", "big"}
    assert batch.steps(1)["big"].output == {"size": "big", "x": 5}
    assert batch.steps(1)["check"].decision["branch"] == "true"
    assert batch.calls_of("check") == [(1, batch.ids)]  # the whole batch in one call
    assert batch.calls_of("small") == [(1, [batch.ids[0], batch.ids[2]])]
    assert "start" not in {node_id for node_id, _, _ in batch.calls}  # settled without a runner call
    assert batch.steps(0)["start"].output == {"x": 1}


async def test_switch_takes_the_first_matching_case_default_or_its_error_edge():
    cases = [
        {"name": "vip", "expression": "trigger.amount > 100"},
        {"name": "paying", "expression": "trigger.amount > 0"},
    ]
    workflow = graph(
        [
            start(),
            node("route", "logic.switch", {"cases": cases, "on_error": "error"}),
            *(node(name, "util.log", {"message": name}) for name in ("vip", "paying", "other", "broken")),
        ],
        [
            edge("start", "route"),
            edge("route", "vip", "vip"),
            edge("route", "paying", "paying"),
            edge("route", "other", "default"),
            edge("route", "broken", "error"),
        ],
    )
    batch = await run_batch(workflow, [queued({"amount": a}) for a in (500, 150, 5, 0, "lots")])

    reached = [set(batch.steps(i)) - {"start", "route"} for i in range(5)]
    assert reached == [{"vip"}, {"vip"}, {"paying"}, {"other"}, {"broken"}]
    assert batch.steps(4)["route"].status == StepStatus.FAILED
    assert batch.status(4) == ExecutionStatus.COMPLETED  # the error edge handled it
    assert batch.alerts == []  # handled at the first attempt: not news


# --- merge ---------------------------------------------------------------------------------------


async def test_merge_waits_for_every_branch_taken_and_not_for_the_others():
    workflow = graph(
        [
            start(),
            node("check", "logic.if", {"expression": "trigger.both"}),
            node("email", "data.transform", {"fields": {"sent": True}}),
            node("sms", "data.transform", {"fields": {"sid": "SM{{ trigger.n }}"}}),
            node("join", "logic.merge", {"mode": "all"}),
            node("after", "util.log", {"message": "{{ steps.join.output.merged }}"}),
        ],
        [
            edge("start", "email"),
            edge("start", "check"),
            edge("check", "sms", "true"),
            edge("email", "join"),
            edge("sms", "join"),
            edge("join", "after"),
        ],
    )
    batch = await run_batch(workflow, [queued({"both": True, "n": 1}), queued({"both": False, "n": 2})])

    both, one = batch.steps(0)["join"].output, batch.steps(1)["join"].output
    assert sorted(both["arrived"]) == ["email", "sms"] and both["merged"] == {"sent": True, "sid": "SM1"}
    assert one["arrived"] == ["email"] and one["merged"] == {"sent": True}
    assert batch.calls_of("join") == [(1, batch.ids)]  # once per batch, after both branches
    assert batch.status(0) == batch.status(1) == ExecutionStatus.COMPLETED


# --- loops ---------------------------------------------------------------------------------------


def loop_workflow(max_items: int = 10) -> dict[str, Any]:
    return graph(
        [
            start(),
            node("each", "logic.loop", {"items": "{{ trigger.contacts }}", "concurrency": 2, "max_items": max_items}),
            node(
                "shape",
                "data.transform",
                {"fields": {"email": "{{ loop.item.email }}", "at": "{{ loop.index }}"}, "required": ["email"]},
            ),
            node(
                "after", "util.log", {"message": "{{ steps.each.output.succeeded }} of {{ steps.each.output.count }}"}
            ),
        ],
        [edge("start", "each"), edge("each", "shape", "each"), edge("each", "after", "done")],
    )


async def test_loop_runs_the_body_per_item_and_reports_each_items_result():
    contacts = [{"email": "a@example.com"}, {"email": ""}, {"email": "c@example.com"}]
    batch = await run_batch(loop_workflow(), [queued({"contacts": contacts})])

    loop = batch.steps(0)["each"].output
    assert (loop["count"], loop["succeeded"], loop["failed"]) == (3, 2, 1)
    assert [item["status"] for item in loop["items"]] == ["completed", "failed", "completed"]
    assert loop["items"][2]["output"] == {"email": "c@example.com", "at": 2}
    assert "email" in loop["items"][1]["error"]["message"]
    items = sorted((r for r in batch.sink.stored(batch.ids[0]) if r.node_id == "shape"), key=lambda r: r.item_index)
    assert [(r.item_index, r.status) for r in items] == [(0, "completed"), (1, "failed"), (2, "completed")]
    assert batch.steps(0)["after"].output == {"message": "2 of 3"}
    assert batch.status(0) == ExecutionStatus.COMPLETED


async def test_a_loop_over_more_than_max_items_fails_without_running_any_item():
    many = [{"email": f"{i}@example.com"} for i in range(3)]
    batch = await run_batch(loop_workflow(max_items=2), [queued({"contacts": many}), queued({"contacts": many[:2]})])

    assert batch.status(0) == ExecutionStatus.FAILED
    assert batch.outcomes[batch.ids[0]]["error"]["message"] == "the list has 3 items; this loop allows 2"
    assert [r for r in batch.sink.stored(batch.ids[0]) if r.node_id == "shape"] == []
    assert batch.status(1) == ExecutionStatus.COMPLETED and batch.steps(1)["each"].output["count"] == 2


# --- failures, error edges, alerts -----------------------------------------------------------------


def failing_workflow(with_error_edge: bool) -> dict[str, Any]:
    nodes = [
        start(),
        node("check", "data.transform", {"fields": {"email": "{{ trigger.email }}"}, "required": ["email"]}),
        node("ok", "util.log", {"message": "fine"}),
    ]
    edges = [edge("start", "check"), edge("check", "ok")]
    if with_error_edge:
        nodes.append(node("handle", "util.log", {"message": "{{ steps.check.error.message }}"}))
        edges.append(edge("check", "handle", "error"))
    return graph(nodes, edges)


async def test_an_error_edge_carries_the_error_and_without_one_the_run_fails_and_admins_hear_of_it():
    handled = await run_batch(failing_workflow(True), [queued({"email": "a@example.com"}), queued({"email": ""})])
    assert set(handled.steps(0)) == {"start", "check", "ok"}
    assert set(handled.steps(1)) == {"start", "check", "handle"}
    assert handled.steps(1)["handle"].output == {"message": "required field 'email' is empty"}
    assert handled.status(1) == ExecutionStatus.COMPLETED and handled.alerts == []

    live, test = queued({"email": ""}), queued({"email": ""}, mode="test")
    failed = await run_batch(failing_workflow(False), [live, test])
    for i in (0, 1):
        assert failed.status(i) == ExecutionStatus.FAILED
        assert failed.outcomes[failed.ids[i]]["error"]["node_id"] == "check"
        assert "ok" not in failed.steps(i)
    assert [(a["execution_id"], a["node_id"]) for a in failed.alerts] == [(live.id, "check")]  # live runs only


# --- retries -------------------------------------------------------------------------------------


class FlakyServer:
    """`/flaky/...` answers 503 with Retry-After: 1 the first time, then 200; `/down/...` always 503;
    `/bad/...` 400; anything else 200. Records when each path was called."""

    def __init__(self) -> None:
        self.calls: dict[str, list[float]] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                times = server.calls.setdefault(self.path, [])
                times.append(time.monotonic())
                status, headers = 200, {}
                if self.path.startswith("/flaky/") and len(times) == 1:
                    status, headers = 503, {"Retry-After": "1"}
                elif self.path.startswith("/down/"):
                    status = 503
                elif self.path.startswith("/bad/"):
                    status = 400
                self.send_response(status)
                for name, value in {**headers, "content-type": "application/json", "content-length": "2"}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()


@pytest.fixture
def flaky():
    server = FlakyServer()
    yield server
    server.stop()


async def test_only_the_failed_subset_is_retried_after_the_delay_the_service_asked_for(flaky):
    workflow = graph(
        [start(), node("call", "http.request", {"url": flaky.url + "{{ trigger.path }}"})], [edge("start", "call")]
    )
    paths = ["/flaky/a", "/ok/b", "/bad/c", "/down/d"]
    batch = await run_batch(workflow, [queued({"path": path}) for path in paths])
    flaky_id, ok_id, bad_id, down_id = batch.ids

    assert batch.calls_of("call") == [(1, batch.ids), (2, [flaky_id, down_id]), (3, [down_id])]
    first, second = flaky.calls["/flaky/a"]
    assert second - first >= 1.0  # Retry-After: 1, far above the back-off of FAST
    attempts = {i: (batch.steps(i)["call"].status, batch.steps(i)["call"].attempts) for i in range(4)}
    assert attempts == {0: ("completed", 2), 1: ("completed", 1), 2: ("failed", 1), 3: ("failed", 3)}
    assert [batch.status(i) for i in range(4)] == ["completed", "completed", "failed", "failed"]
    flaky_writes = [
        (kind, row["status"])
        for kind, row in batch.sink.writes
        if row["execution_id"] == flaky_id and row["node_id"] == "call"
    ]
    assert flaky_writes == [("insert", "running"), ("update", "failed"), ("update", "completed")]
    assert sorted(a["execution_id"] for a in batch.alerts) == sorted([bad_id, down_id])  # once each, at the end


# --- waits ---------------------------------------------------------------------------------------


async def test_a_delay_leaves_the_batch_and_a_later_batch_resumes_from_the_stored_steps():
    workflow = graph(
        [
            start(),
            node("greet", "data.transform", {"fields": {"text": "Hi {{ trigger.name }}"}}),
            node("wait", "logic.delay", {"mode": "duration", "minutes": 5}),
            node(
                "after", "util.log", {"message": "{{ steps.greet.output.text }}, {{ steps.wait.output.waiting_until }}"}
            ),
        ],
        [edge("start", "greet"), edge("greet", "wait"), edge("wait", "after")],
    )
    execution = queued({"name": "Ada"})
    first = await run_batch(workflow, [execution])

    outcome = first.outcomes[execution.id]
    assert outcome["status"] == ExecutionStatus.WAITING and outcome["waiting_node_id"] == "wait"
    assert first.steps(0)["wait"].status == StepStatus.WAITING and "after" not in first.steps(0)
    stored = first.sink.stored(execution.id)
    progress = restore(queued({"name": "Ada"}, earlier=stored), compile_plan(Graph.model_validate(workflow)))
    assert progress.settled == {"start", "greet"} and set(progress.records) == {"wait"}

    later = await run_batch(workflow, [queued({"name": "Ada"}, earlier=stored, execution_id=execution.id)])
    assert later.status(0) == ExecutionStatus.COMPLETED
    assert [(kind, row["node_id"]) for kind, row in later.sink.writes if kind == "insert"] == [("insert", "after")]
    resumed = later.steps(0)["wait"]
    assert resumed.status == StepStatus.COMPLETED and "resumed_at" in resumed.output
    assert resumed.id == first.steps(0)["wait"].id  # the same step, finished
    waited_until = first.steps(0)["wait"].output["waiting_until"]
    assert later.steps(0)["after"].output == {"message": f"Hi Ada, {waited_until}"}
