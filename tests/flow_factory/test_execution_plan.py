import pytest

from flow_factory.graph import Graph
from flow_factory.plan import compile_plan


def make_graph(nodes, edges):
    return Graph.model_validate(
        {
            "nodes": [{"id": node_id, "type": node_type} for node_id, node_type in nodes],
            "edges": [
                {"id": f"e{index}", "source": source, "target": target, "source_handle": handle}
                for index, (source, target, handle) in enumerate(edges)
            ],
        }
    )


DIAMOND = make_graph(
    [
        ("log", "util.log"),
        ("fetch", "http.request"),
        ("start", "trigger.manual"),
        ("shape", "data.transform"),
        ("on_error", "util.log"),
    ],
    [
        ("start", "fetch", None),
        ("fetch", "shape", None),
        ("fetch", "on_error", "error"),
        ("shape", "log", "default"),
        ("on_error", "log", None),
    ],
)


def test_order_is_topological_and_stable():
    plan = compile_plan(DIAMOND)
    assert plan.trigger_id == "start"
    assert plan.order == ["start", "fetch", "shape", "on_error", "log"]
    assert plan.order == compile_plan(DIAMOND).order


def test_incoming_and_outgoing_edges():
    plan = compile_plan(DIAMOND)
    assert [edge.source for edge in plan.incoming["log"]] == ["shape", "on_error"]
    assert [edge.target for edge in plan.outgoing["fetch"]] == ["shape", "on_error"]
    assert plan.incoming["start"] == []
    assert plan.outgoing["log"] == []
    assert plan.nodes["fetch"].type == "http.request"


def test_next_edges_treats_none_and_default_alike():
    plan = compile_plan(DIAMOND)
    assert [edge.target for edge in plan.next_edges("fetch")] == ["shape"]
    assert [edge.target for edge in plan.next_edges("fetch", "default")] == ["shape"]
    assert [edge.target for edge in plan.next_edges("fetch", "error")] == ["on_error"]
    assert [edge.target for edge in plan.next_edges("shape", None)] == ["log"]
    assert plan.next_edges("log") == []


def test_two_edges_between_the_same_nodes_count_once():
    graph = make_graph([("start", "trigger.manual"), ("a", "util.log")], [("start", "a", None), ("start", "a", None)])
    assert compile_plan(graph).order == ["start", "a"]


def test_plan_is_frozen():
    plan = compile_plan(DIAMOND)
    with pytest.raises(AttributeError):
        plan.trigger_id = "other"


def test_invalid_graphs_are_refused():
    cyclic = make_graph(
        [("start", "trigger.manual"), ("a", "util.log"), ("b", "util.log")],
        [("start", "a", None), ("a", "b", None), ("b", "a", None)],
    )
    with pytest.raises(ValueError, match="cycle"):
        compile_plan(cyclic)
    with pytest.raises(ValueError, match="exactly one trigger"):
        compile_plan(make_graph([("a", "util.log")], []))
