"""Compiles a valid graph into what the interpreter walks: an order and the edges."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from flow_factory.graph import Edge, Graph, Node
from flow_factory.nodes import get_node_type

DEFAULT_HANDLES = (None, "default")
LOOP_TYPE, LOOP_EACH, LOOP_DONE = "logic.loop", "each", "done"


@dataclass(frozen=True)
class ExecutionPlan:
    trigger_id: str
    order: list[str]  # topological: every node comes after all nodes with edges into it
    nodes: dict[str, Node]
    incoming: dict[str, list[Edge]]
    outgoing: dict[str, list[Edge]]
    loop_bodies: dict[str, list[str]] = field(default_factory=dict)  # loop id -> body nodes, in order
    body_of: dict[str, str] = field(default_factory=dict)  # body node id -> its loop id

    def predecessors(self, node_id: str) -> list[str]:
        return list(dict.fromkeys(edge.source for edge in self.incoming[node_id]))

    def top_level(self) -> list[str]:
        """The nodes outside every loop body, in order."""
        return [node_id for node_id in self.order if node_id not in self.body_of]

    def next_edges(self, node_id: str, handle: str | None = None) -> list[Edge]:
        """Edges leaving `node_id` through `handle` (None and "default" are the same)."""
        wanted = DEFAULT_HANDLES if handle in DEFAULT_HANDLES else (handle,)
        return [edge for edge in self.outgoing[node_id] if edge.source_handle in wanted]


def pass_through_handle(node: Node) -> str | None:
    """The output a disabled node leaves through: its first one, as in n8n (an if node's `true`, a switch's
    first case, an approval's `approved`), except that a loop leaves through `done`, its body not run."""
    if node.type == LOOP_TYPE:
        return LOOP_DONE
    node_type = get_node_type(node.type)
    if node_type is None:
        return None
    try:
        first = node_type.handles_for(node.config)[0]
    except Exception:  # a config too broken to name its cases: the default output
        first = node_type.outputs[0]
    return None if first in DEFAULT_HANDLES else first


def compile_plan(graph: Graph) -> ExecutionPlan:
    """For graphs that validate_graph accepted; raises ValueError on the worst problems."""
    nodes = {node.id: node for node in graph.nodes}
    incoming: dict[str, list[Edge]] = {node_id: [] for node_id in nodes}
    outgoing: dict[str, list[Edge]] = {node_id: [] for node_id in nodes}
    for edge in graph.edges:
        outgoing[edge.source].append(edge)
        incoming[edge.target].append(edge)
    triggers = [node.id for node in graph.nodes if _is_trigger(node)]
    if len(triggers) != 1:
        raise ValueError(f"a plan needs exactly one trigger, found {len(triggers)}: validate the graph first")
    order = _topological_order(list(nodes), incoming, outgoing)
    loop_bodies = {
        node_id: loop_body(node_id, outgoing, order) for node_id, node in nodes.items() if node.type == LOOP_TYPE
    }
    return ExecutionPlan(
        trigger_id=triggers[0],
        order=order,
        nodes=nodes,
        incoming=incoming,
        outgoing=outgoing,
        loop_bodies=loop_bodies,
        body_of={member: loop_id for loop_id, body in loop_bodies.items() for member in body},
    )


def loop_body(loop_id: str, outgoing: dict[str, list[Edge]], order: list[str]) -> list[str]:
    """Every node reachable from the loop's `each` output, in execution order."""
    seen: set[str] = set()
    queue = deque(edge.target for edge in outgoing[loop_id] if edge.source_handle == LOOP_EACH)
    while queue:
        node_id = queue.popleft()
        if node_id not in seen:
            seen.add(node_id)
            queue.extend(edge.target for edge in outgoing[node_id])
    return [node_id for node_id in order if node_id in seen]


def _topological_order(
    node_ids: list[str], incoming: dict[str, list[Edge]], outgoing: dict[str, list[Edge]]
) -> list[str]:
    """Kahn's algorithm; ties keep the graph's node order, so the order is stable."""
    waiting = {node_id: len({edge.source for edge in incoming[node_id]}) for node_id in node_ids}
    ready = deque(node_id for node_id in node_ids if waiting[node_id] == 0)
    order: list[str] = []
    while ready:
        node_id = ready.popleft()
        order.append(node_id)
        for target in dict.fromkeys(edge.target for edge in outgoing[node_id]):
            waiting[target] -= 1
            if waiting[target] == 0:
                ready.append(target)
    if len(order) != len(node_ids):
        raise ValueError("the graph has a cycle: validate the graph first")
    return order


def _is_trigger(node: Node) -> bool:
    node_type = get_node_type(node.type)
    return node_type is not None and node_type.is_trigger
