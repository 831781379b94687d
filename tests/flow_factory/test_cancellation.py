"""The interpreter's step boundary without a stack: an execution cancelled while its batch runs (the
cancellation check answers so) runs no further step and ends `cancelled`; the rest of the batch goes on."""

from __future__ import annotations

from typing import Any

from flow_factory.graph import Graph
from flow_factory.plan import compile_plan
from flow_factory.routing import BatchRouter, inline_runner
from flow_factory.steps import NodeCall, StepOutcome
from store import ExecutionStatus
from tests.flow_factory.test_routing import FAST, LOG, ListSink, queued, start
from tests.support import edge, graph, node

THREE_STEPS = graph(
    [
        start(),
        node("first", "data.transform", {"fields": {"n": 1}}),
        node("second", "data.transform", {"fields": {"n": 2}}),
        node("third", "data.transform", {"fields": {"n": 3}}),
    ],
    [edge("start", "first"), edge("first", "second"), edge("second", "third")],
)


async def test_an_execution_cancelled_during_a_step_runs_no_further_step_and_the_others_go_on():
    keep, stop = queued({}), queued({})
    calls: list[tuple[str, list[str]]] = []
    cancelled: set[str] = set()
    inline = inline_runner(LOG)

    async def runner(call: NodeCall) -> list[StepOutcome]:
        calls.append((call.node_id, [work.run.id for work in call.work]))
        if call.node_id == "first":
            cancelled.add(stop.id)  # cancelled through the API while this step runs
        return await inline(call)

    async def check(execution_ids: list[str]) -> set[str]:
        return cancelled & set(execution_ids)

    async def alert(**details: Any) -> None:
        raise AssertionError("no alert for a cancelled run")

    sink = ListSink()
    router = BatchRouter(
        plan=compile_plan(Graph.model_validate(THREE_STEPS)),
        runner=runner,
        sink=sink,
        settings=FAST,
        alert=alert,
        logger=LOG,
        cancelled=check,
    )
    outcomes = await router.run([keep, stop])

    assert outcomes[stop.id] == {"status": ExecutionStatus.CANCELLED}
    assert outcomes[keep.id]["status"] == ExecutionStatus.COMPLETED
    assert calls == [("first", [keep.id, stop.id]), ("second", [keep.id]), ("third", [keep.id])]
    assert set(sink.steps(stop.id)) == {"start", "first"}  # the step under way finished; nothing after it
