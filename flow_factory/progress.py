"""One execution's progress through its graph within a batch: which steps finished, which edges were taken,
and whether it failed or left the batch to wait.

Kept apart from running steps (`flow_factory.steps`) and from the order nodes run in
(`flow_factory.routing`) so that a finished step is routed the same way whether it ran just now or was
read back from the database after a delay or an approval (`restore`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flow_factory.expressions import make_context
from flow_factory.nodes.base import Wait
from flow_factory.plan import LOOP_EACH, ExecutionPlan
from store import FINISHED_STEP_STATUSES, ExecutionStatus, StepStatus, utcnow
from store.batches import QueuedExecution, StepRecord

ERROR_HANDLE = "error"

RunKey = tuple[str, int | None]  # (execution id, loop item index or None)


@dataclass
class ExecutionRun:
    """One execution's progress through the graph in this batch; inside a loop body, one item's."""

    queued: QueuedExecution
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    taken_edges: set[str] = field(default_factory=set)
    settled: set[str] = field(default_factory=set)
    finish_order: list[str] = field(default_factory=list)
    records: dict[str, StepRecord] = field(default_factory=dict)  # steps that waited, by node id
    error: dict[str, Any] | None = None
    attention: tuple[str, dict[str, Any]] | None = None  # (node id, error) of a send that may have gone through
    wait: tuple[str, Wait] | None = None
    item: tuple[int, Any] | None = None
    cancelled: bool = False  # through the API, while its batch ran: it runs no further step

    @property
    def id(self) -> str:
        return self.queued.id

    @property
    def item_index(self) -> int | None:
        return self.item[0] if self.item else None

    @property
    def key(self) -> RunKey:
        return (self.id, self.item_index)

    def context(self) -> dict[str, Any]:
        """What the step's templates and conditions read."""
        return make_context(
            trigger=self.queued.input, steps=self.steps, execution_id=self.id, mode=self.queued.mode, loop=self.item
        )

    def reached(self, plan: ExecutionPlan, node_id: str) -> bool:
        stopped = self.error is not None or self.attention is not None or self.wait is not None or self.cancelled
        if stopped or node_id in self.settled:
            return False
        return node_id == plan.trigger_id or any(edge.id in self.taken_edges for edge in plan.incoming[node_id])

    def settle(self, plan: ExecutionPlan, record: StepRecord) -> None:
        """Route a finished step: its handle's edges, the error path, a failed run, or (a send that may have gone
        through, with no error path, outside a loop) a run that needs a person's attention."""
        node_id = record.node_id
        self.settled.add(node_id)
        self.finish_order.append(node_id)
        self.steps[node_id] = {"output": record.output}
        if record.status in (StepStatus.COMPLETED, StepStatus.SKIPPED):
            self.taken_edges.update(edge.id for edge in plan.next_edges(node_id, record.handle))
            return
        self.steps[node_id]["error"] = record.error
        error_edges = plan.next_edges(node_id, ERROR_HANDLE)
        if error_edges:  # the workflow's own answer to a failure, a send that may have gone through included
            self.taken_edges.update(edge.id for edge in error_edges)
        elif (record.error or {}).get("maybe_sent") and self.item is None:
            self.attention = (node_id, record.error or {})  # a person says whether it went out
        else:
            self.error = {"node_id": node_id, **(record.error or {})}

    def passed_through(self, plan: ExecutionPlan, node_id: str) -> Any:
        """What a disabled step passes on: the output of the step it was reached from (the first to finish when
        several lead into it, as n8n takes a disabled node's first input), or inside a loop body the item."""
        sources = {edge.source for edge in plan.incoming[node_id] if edge.id in self.taken_edges}
        first = next((n for n in self.finish_order if n in sources), None)
        if first is not None:
            return self.steps[first]["output"]
        return self.item[1] if self.item is not None else None

    def item_run(self, plan: ExecutionPlan, loop_id: str, index: int, value: Any) -> ExecutionRun:
        """One item of a loop: starts on the loop's `each` edges and sees the steps before the loop."""
        each = {edge.id for edge in plan.next_edges(loop_id, LOOP_EACH)}
        return ExecutionRun(self.queued, steps=dict(self.steps), taken_edges=set(each), item=(index, value))

    def item_result(self, plan: ExecutionPlan, loop_id: str) -> dict[str, Any]:
        """This item's entry in the loop's output: the output of the last body step it finished."""
        body = plan.loop_bodies[loop_id]
        last = next((n for n in reversed(self.finish_order) if n in body), None)
        output = self.steps[last]["output"] if last else None
        status = StepStatus.FAILED if self.error else StepStatus.COMPLETED
        return {"index": self.item_index, "status": status, "output": output, "error": self.error}

    def end_of_batch(self) -> dict[str, Any]:
        """The execution's columns when the batch ends: cancelled, failed, waiting until its wait is over, or
        completed."""
        if self.cancelled:
            return {"status": ExecutionStatus.CANCELLED}
        if self.error:
            return {"status": ExecutionStatus.FAILED, "error": self.error}
        if self.attention:
            node_id, error = self.attention
            return {
                "status": ExecutionStatus.NEEDS_ATTENTION,
                "error": {"node_id": node_id, **error},
                "waiting_node_id": node_id,
            }
        if self.wait:
            node_id, wait = self.wait
            return {"status": ExecutionStatus.WAITING, "resume_at": wait.until, "waiting_node_id": node_id}
        return {"status": ExecutionStatus.COMPLETED, "error": None}


def restore(queued: QueuedExecution, plan: ExecutionPlan) -> ExecutionRun:
    """Rebuild an execution's progress from its stored steps (after a delay or an approval)."""
    run = ExecutionRun(queued)
    ordered = sorted((r for r in queued.earlier_steps if r.item_index is None), key=lambda r: r.started_at or utcnow())
    for record in ordered:
        if record.status in FINISHED_STEP_STATUSES:
            run.settle(plan, record)
        elif record.status == StepStatus.WAITING:
            run.records[record.node_id] = record
    return run
