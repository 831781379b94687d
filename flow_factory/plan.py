"""Compiles a valid graph into what the interpreter walks: an order and the edges."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from flow_factory.graph import Edge, Graph, Node
from flow_factory.nodes import get_node_type

DEFAULT_HANDLES = (None, "default")


@dataclass(frozen=True)
class ExecutionPlan:
    trigger_id: str
    order: list[str]  # topological: every node comes after all nodes with edges into it
    nodes: dict[str, Node]
    incoming: dict[str, list[Edge]]
    outgoing: dict[str, list[Edge]]

    def next_edges(self, node_id: str, handle: str | None = None) -> list[Edge]:
        """Edges leaving `node_id` through `handle` (None and "default" are the same)."""
        wanted = DEFAULT_HANDLES if handle in DEFAULT_HANDLES else (handle,)
        return [edge for edge in self.outgoing[node_id] if edge.source_handle in wanted]


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
    return ExecutionPlan(
        trigger_id=triggers[0],
        order=_topological_order(list(nodes), incoming, outgoing),
        nodes=nodes,
        incoming=incoming,
        outgoing=outgoing,
    )


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
