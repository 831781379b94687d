"""Disabled steps (`"disabled": true` on a node): the step does not run, the data it was reached with passes
through it out of its first output, and its step record says `skipped`. Real node types run in-process,
an HTTP step calls a local server that records what it receives."""

from __future__ import annotations

from typing import Any

import pytest

from flow_factory.graph import Graph
from flow_factory.plan import compile_plan
from flow_factory.progress import restore
from flow_factory.validation import validate_graph
from store import ExecutionStatus, StepStatus
from tests.flow_factory.test_routing import FlakyServer, queued, run_batch, start
from tests.support import edge, graph, node


def disabled(step: dict[str, Any]) -> dict[str, Any]:
    return {**step, "disabled": True}


@pytest.fixture
def receiver():
    server = FlakyServer()
    yield server
    server.stop()


async def test_a_disabled_http_step_sends_nothing_and_later_steps_get_the_data_passed_through(receiver):
    workflow = graph(
        [
            start(),
            node("shape", "data.transform", {"fields": {"email": "{{ trigger.email }}", "tier": "gold"}}),
            disabled(node("notify", "http.request", {"url": receiver.url + "/hook/{{ trigger.email }}"})),
            node("after", "data.transform", {"fields": {"seen": "{{ steps.notify.output.email }}"}}),
        ],
        [edge("start", "shape"), edge("shape", "notify"), edge("notify", "after")],
    )
    batch = await run_batch(workflow, [queued({"email": "ada@example.com"})])

    assert receiver.calls == {}  # the local server received nothing
    assert "notify" not in {node_id for node_id, _, _ in batch.calls}  # no runner call, so no Prefect task run
    notify = batch.steps(0)["notify"]
    assert notify.status == StepStatus.SKIPPED
    assert notify.input == notify.output == {"email": "ada@example.com", "tier": "gold"}
    assert batch.steps(0)["after"].output == {"seen": "ada@example.com"}
    assert batch.status(0) == ExecutionStatus.COMPLETED

    enabled = graph(
        [*workflow["nodes"][:2], node("notify", "http.request", {"url": receiver.url + "/hook/x"})],
        workflow["edges"][:2],
    )
    await run_batch(enabled, [queued({"email": "ada@example.com"})])
    assert list(receiver.calls) == ["/hook/x"]  # the same step enabled does call it: the check above can fail


async def test_a_disabled_if_passes_everything_to_true_and_a_disabled_loop_to_done():
    workflow = graph(
        [
            start(),
            disabled(node("check", "logic.if", {"expression": "trigger.x > 3"})),
            node("yes", "data.transform", {"fields": {"x": "{{ steps.check.output.x }}"}}),
            node("no", "util.log", {"message": "no"}),
            disabled(node("each", "logic.loop", {"items": "{{ trigger.list }}"})),
            node("body", "util.log", {"message": "{{ loop.item }}"}),
            node("done", "util.log", {"message": "done"}),
        ],
        [
            edge("start", "check"),
            edge("check", "yes", "true"),
            edge("check", "no", "false"),
            edge("yes", "each"),
            edge("each", "body", "each"),
            edge("each", "done", "done"),
        ],
    )
    batch = await run_batch(workflow, [queued({"x": 1, "list": [1, 2]})])

    steps = batch.steps(0)
    assert set(steps) == {"start", "check", "yes", "each", "done"}  # x > 3 is false, yet the true branch ran
    assert steps["check"].status == StepStatus.SKIPPED and steps["check"].handle == "true"
    assert steps["yes"].output == {"x": 1}
    assert steps["each"].status == StepStatus.SKIPPED and steps["each"].output == {"x": 1}
    assert not [r for r in batch.sink.stored(batch.ids[0]) if r.node_id == "body"]  # no item ran
    assert batch.status(0) == ExecutionStatus.COMPLETED


async def test_a_disabled_step_inside_a_loop_passes_the_item_and_a_disabled_delay_does_not_wait():
    workflow = graph(
        [
            start(),
            node("each", "logic.loop", {"items": "{{ trigger.list }}"}),
            disabled(node("shape", "data.transform", {"fields": {"never": True}})),
            disabled(node("wait", "logic.delay", {"mode": "duration", "minutes": 5})),
            node("after", "util.log", {"message": "{{ steps.wait.output.count }} items"}),
        ],
        [edge("start", "each"), edge("each", "shape", "each"), edge("each", "wait", "done"), edge("wait", "after")],
    )
    batch = await run_batch(workflow, [queued({"list": [{"n": 1}, {"n": 2}]})])

    assert batch.steps(0)["each"].output["items"][1]["output"] == {"n": 2}
    assert batch.steps(0)["wait"].status == StepStatus.SKIPPED
    assert batch.status(0) == ExecutionStatus.COMPLETED  # not waiting
    assert batch.steps(0)["after"].output == {"message": "2 items"}  # the loop's output passed through the delay
    stored = batch.sink.stored(batch.ids[0])
    progress = restore(queued({}, earlier=stored), compile_plan(Graph.model_validate(workflow)))
    assert "after" in progress.settled  # a skipped step is finished when a later batch reads it back


def test_a_disabled_trigger_is_an_error_at_its_field_and_old_graphs_are_unchanged():
    workflow = graph([disabled(start()), node("log", "util.log", {"message": "hi"})], [edge("start", "log")])
    errors = validate_graph(workflow)
    assert [(e.path, e.message) for e in errors] == [
        ("nodes[0].disabled", "the trigger 'start' cannot be disabled: it is what starts the workflow")
    ]
    plain = graph([start(), node("log", "util.log", {"message": "hi"})], [edge("start", "log")])
    assert validate_graph(plain) == []
    assert "disabled" not in plain["nodes"][0]
    assert Graph.model_validate(plain).nodes[1].disabled is False
