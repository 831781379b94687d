"""Batching changes nothing an execution can see: one batch of 100 executions with mixed branches, one
retryable failure (503 once, then 200) and one permanent failure (400) ends every execution exactly as
100 batches of one do. Run by the worker `flowyard up` started, on SQLite and on PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.engine.support import GateServer, Workflow, flow_run_state, wait_until
from tests.support import Api

SIZE = 100
FLAKY, BAD = 4, 5  # both on the `true` branch (x > 3)


def branching_graph(url: str) -> dict:
    """trigger -> if x > 3 -> (true: HTTP call -> shape big | false: shape small) -> merge -> log."""

    def node(id, type, config):
        return {"id": id, "type": type, "label": id, "config": config, "position": {"x": 0, "y": 0}}

    return {
        "nodes": [
            node("start", "trigger.manual", {}),
            node("check", "logic.if", {"expression": "trigger.x > 3"}),
            node(
                "call",
                "http.request",
                {
                    "method": "POST",
                    "url": url + "/{{ trigger.kind }}/{{ trigger.key }}",
                    "json_body": {"x": "{{ trigger.x }}"},
                },
            ),
            node("big", "data.transform", {"fields": {"size": "big", "status": "{{ steps.call.output.status_code }}"}}),
            node("small", "data.transform", {"fields": {"size": "small", "x": "{{ trigger.x }}"}}),
            node("join", "logic.merge", {"mode": "first"}),
            node("done", "util.log", {"message": "done {{ trigger.key }}"}),
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "check"},
            {"id": "e2", "source": "check", "source_handle": "true", "target": "call"},
            {"id": "e3", "source": "check", "source_handle": "false", "target": "small"},
            {"id": "e4", "source": "call", "target": "big"},
            {"id": "e5", "source": "big", "target": "join"},
            {"id": "e6", "source": "small", "target": "join"},
            {"id": "e7", "source": "join", "target": "done"},
        ],
    }


def lead(i: int) -> dict:
    kind = "flaky" if i == FLAKY else "bad" if i == BAD else "ok"
    return {"key": f"lead-{i}", "x": i % 7, "kind": kind}


def outcome(api: Api, execution_id: str) -> dict:
    """What an execution shows through the API, without timestamps, ids and HTTP headers."""
    run = api.get(f"/api/v1/runs/{execution_id}").json()
    steps = {}
    for step in run["steps"]:
        output = step["output"]
        if step["node_id"] == "call" and isinstance(output, dict):
            output = {k: v for k, v in output.items() if k != "headers"}
        steps[step["node_id"]] = (step["status"], step["attempts"], output, step["error"])
    return {"status": run["status"], "error": run["error"], "steps": steps}


@pytest.fixture
def server():
    gate = GateServer()
    yield gate
    gate.stop()


def test_a_batch_of_100_ends_every_execution_as_100_single_runs_do(stack, server):
    api = Api(stack.api_url).signup()
    workflow = Workflow(stack, api, branching_graph(server.url), pool="flowyard")
    inputs = [lead(i) for i in range(SIZE)]

    _, batch_run, batched = workflow.run_batch(inputs)
    wait_until(lambda: flow_run_state(stack, batch_run) == "COMPLETED", timeout=300, what="the batch of 100")
    together = [outcome(api, e) for e in batched]

    server.reset()  # the flaky lead fails once again
    with ThreadPoolExecutor(4) as pool:  # created side by side, as a burst of separate triggers would be
        singles = list(pool.map(lambda payload: workflow.run_batch([payload]), inputs))
    for _, flow_run_id, _ in singles:
        wait_until(
            lambda run=flow_run_id: flow_run_state(stack, run) == "COMPLETED", timeout=900, what="100 single runs"
        )
    alone = [outcome(api, executions[0]) for _, _, executions in singles]

    assert together == alone
    # and the outcomes are the ones the graph promises
    assert together[FLAKY]["status"] == "completed" and together[FLAKY]["steps"]["call"][1] == 2
    assert together[BAD]["status"] == "failed" and together[BAD]["error"]["node_id"] == "call"
    assert together[BAD]["steps"]["call"][:2] == ("failed", 1)
    branches = {i: set(together[i]["steps"]) for i in range(SIZE)}
    assert branches[0] == {"start", "check", "small", "join", "done"}
    assert branches[6] == {"start", "check", "call", "big", "join", "done"}
    assert sum(o["status"] == "completed" for o in together) == SIZE - 1
