"""The workflow language: graph model, validation, expressions, node types and plans.

The interpreter (flow_factory.interpreter) is not imported here, so that the API can
validate graphs without loading Prefect.
"""

from core.errors import StepFailure
from flow_factory.expressions import ExpressionError, make_context, render_value
from flow_factory.graph import MAX_EDGES, MAX_NODES, Edge, Graph, Node, Position, graph_json_schema
from flow_factory.nodes import NODE_TYPES, describe_all, get_node_type
from flow_factory.nodes.base import NodeType, StepContext
from flow_factory.plan import ExecutionPlan, compile_plan
from flow_factory.validation import GraphError, validate_graph

__all__ = [
    "MAX_EDGES",
    "MAX_NODES",
    "NODE_TYPES",
    "Edge",
    "ExecutionPlan",
    "ExpressionError",
    "Graph",
    "GraphError",
    "Node",
    "NodeType",
    "Position",
    "StepContext",
    "StepFailure",
    "compile_plan",
    "describe_all",
    "get_node_type",
    "graph_json_schema",
    "make_context",
    "render_value",
    "validate_graph",
]
