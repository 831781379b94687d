"""Checks a graph before it is saved, published or run, and says how to fix each problem.

`validate_graph` takes untrusted JSON and never raises: every problem becomes a
GraphError with a path into the graph (`nodes[2].config.url`), a message and a hint.
"""

from __future__ import annotations

import difflib
import logging
import re
import typing
from collections import deque
from collections.abc import Iterable
from functools import cache
from graphlib import CycleError, TopologicalSorter
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaViolation
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails
from referencing import Registry

from flow_factory.conditions import referenced_steps as cel_referenced_steps
from flow_factory.conditions import syntax_error as cel_syntax_error
from flow_factory.expressions import (
    SYNTAX_HINT,
    has_template,
    iter_template_strings,
    referenced_steps,
    template_syntax_errors,
)
from flow_factory.graph import MAX_EDGES, MAX_NODES, Graph, Node
from flow_factory.nodes import NODE_TYPES, get_node_type
from flow_factory.nodes.base import ConfigIssue, NodeType
from flow_factory.plan import LOOP_TYPE, loop_body

logger = logging.getLogger(__name__)

SCHEMA_HINT = "see the graph format at GET /api/v1/schema/graph"
NODE_TYPES_HINT = "GET /api/v1/node-types lists every node type"
CEL_HINT = (
    "conditions are CEL, e.g. trigger.amount > 100 && steps.lookup.output.found == true; "
    "the mark shows where the parser stopped"
)
MAX_MESSAGE_CHARS = 300


class GraphError(BaseModel):
    """One problem in a graph, as POST /api/v1/graphs/validate reports it."""

    model_config = ConfigDict(frozen=True)

    path: str  # "" is the graph itself
    message: str
    hint: str


def validate_graph(data: Any) -> list[GraphError]:
    """Every problem found in `data` (empty when the graph is valid)."""
    try:
        return _validate(data)
    except Exception:  # a bug here must not turn a bad graph into a 500
        logger.exception("graph validation crashed")
        return [GraphError(path="", message="the graph could not be checked", hint=SCHEMA_HINT)]


def _validate(data: Any) -> list[GraphError]:
    errors = _size_errors(data)
    if errors:
        return errors
    try:
        graph = Graph.model_validate(data)
    except ValidationError as exc:
        return [_structure_error(error) for error in exc.errors(include_url=False)]
    errors = _node_errors(graph) + _edge_errors(graph) + _disabled_trigger_errors(graph)
    if len({node.id for node in graph.nodes}) == len(graph.nodes):
        errors += _flow_errors(graph)
    return errors


def _error(path: str, message: str, hint: str) -> GraphError:
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[:MAX_MESSAGE_CHARS] + "…"
    return GraphError(path=path, message=message, hint=hint)


def join_path(parts: Iterable[Any], prefix: str = "") -> str:
    """("nodes", 2, "config", "url") -> "nodes[2].config.url"."""
    path = prefix
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


# --- structure ---------------------------------------------------------------------------


def _size_errors(data: Any) -> list[GraphError]:
    # Checked before parsing so that a huge graph costs nothing to reject.
    if not isinstance(data, dict):
        return []
    errors = []
    for key, limit in (("nodes", MAX_NODES), ("edges", MAX_EDGES)):
        items = data.get(key)
        if isinstance(items, list) and len(items) > limit:
            errors.append(
                _error(
                    key,
                    f"the graph has {len(items):,} {key}; the limit is {limit:,}",
                    "split the workflow into smaller ones",
                )
            )
    return errors


def _structure_error(error: ErrorDetails) -> GraphError:
    loc, kind = error["loc"], error["type"]
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        allowed = ", ".join(model.model_fields) if model else "see the schema"
        hint = f"remove the field; allowed fields are: {allowed}"
    elif kind == "missing":
        hint = f"add the field '{loc[-1]}'"
    elif kind == "string_pattern_mismatch" and loc[-1] == "id":
        hint = (
            "use letters, digits and underscores, not starting with a digit: "
            "templates read a node's output as steps.<id>"
        )
    elif kind == "literal_error" and loc == ("version",):
        hint = "set version to 1, the current graph format"
    else:
        hint = SCHEMA_HINT
    return _error(join_path(loc), error["msg"], hint)


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that validates the object at `loc` (("nodes", 0) -> Node)."""
    model: Any = Graph
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if field is None:
            return None
        model = field.annotation
        while typing.get_origin(model) is list:
            model = typing.get_args(model)[0]
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


# --- nodes -----------------------------------------------------------------------------


def _duplicate_ids(items: list[Any], kind: str) -> list[GraphError]:
    """`kind` is "node" or "edge"; paths are nodes[i].id / edges[i].id."""
    errors: list[GraphError] = []
    first_index: dict[str, int] = {}
    for index, item in enumerate(items):
        if item.id in first_index:
            errors.append(
                _error(
                    f"{kind}s[{index}].id",
                    f"duplicate {kind} id '{item.id}' (also used by {kind}s[{first_index[item.id]}])",
                    f"give every {kind} a unique id",
                )
            )
        first_index.setdefault(item.id, index)
    return errors


def _node_errors(graph: Graph) -> list[GraphError]:
    errors = _duplicate_ids(graph.nodes, "node")
    for index, node in enumerate(graph.nodes):
        node_type = get_node_type(node.type)
        if node_type is None:
            errors.append(_unknown_type_error(index, node.type))
        else:
            errors += [
                _error(f"nodes[{index}].config.{path}", message, hint)
                for path, message, hint in _config_issues(node, node_type)
            ]
    return errors


def _disabled_trigger_errors(graph: Graph) -> list[GraphError]:
    return [
        _error(
            f"nodes[{index}].disabled",
            f"the trigger '{node.id}' cannot be disabled: it is what starts the workflow",
            "set disabled to false; to stop the workflow from starting, unpublish it instead",
        )
        for index, node in enumerate(graph.nodes)
        if node.disabled and _is_trigger(node)
    ]


def refused_at_save(data: Any) -> list[GraphError]:
    """The problems no saved version may have, not even a draft: a disabled trigger."""
    try:
        return _disabled_trigger_errors(Graph.model_validate(data))
    except ValidationError:
        return []  # validate_graph reports these


def _unknown_type_error(index: int, type_name: str) -> GraphError:
    close = difflib.get_close_matches(type_name, NODE_TYPES, n=3, cutoff=0.6)
    suggestion = f"did you mean {' or '.join(close)}? " if close else ""
    return _error(f"nodes[{index}].type", f"unknown node type '{type_name}'", suggestion + NODE_TYPES_HINT)


def _config_issues(node: Node, node_type: NodeType) -> list[ConfigIssue]:
    issues = _schema_issues(node.config, node_type)
    if not issues and node_type.check_config:
        issues += node_type.check_config(node.config)
    if not node_type.is_trigger:  # a trigger's config is settings, never rendered
        issues += [
            (path, f"template syntax error, {message}", SYNTAX_HINT)
            for path, message in template_syntax_errors(node.config)
        ]
    issues += [
        (path, f"condition {message}", CEL_HINT)
        for path, expression in _cel_expressions(node_type, node.config)
        if (message := cel_syntax_error(expression))
    ]
    return issues


def _cel_expressions(node_type: NodeType, config: dict[str, Any]) -> list[tuple[str, str]]:
    if node_type.cel_expressions is None:
        return []
    try:
        return node_type.cel_expressions(config)
    except Exception:  # an unfinished rule set is reported by the schema checks
        return []


@cache
def _config_validator(type_name: str) -> Draft202012Validator:
    """Node types' own schemas (ours, with linear patterns); tenants' schemas go through flow_factory.schemas.
    The empty registry keeps even these from fetching anything."""
    return Draft202012Validator(NODE_TYPES[type_name].config_schema(), registry=Registry())


def _schema_issues(config: dict[str, Any], node_type: NodeType) -> list[ConfigIssue]:
    """Config errors against the node type's JSON Schema, one per offending field."""
    validator = _config_validator(node_type.type)
    issues: dict[str, ConfigIssue] = {}
    for violation in validator.iter_errors(config):
        if isinstance(violation.instance, str) and has_template(violation.instance):
            continue  # checked again after rendering, when the real value is known
        for issue in _describe_violation(violation, validator.schema):
            issues.setdefault(issue[0] + issue[1], issue)
    return list(issues.values())


def _describe_violation(violation: SchemaViolation, schema: dict[str, Any]) -> list[ConfigIssue]:
    properties = schema.get("properties", {})
    at_root = not violation.absolute_path
    if at_root and violation.validator == "required":
        return [
            (name, f"'{name}' is required", _described(properties, name))
            for name in violation.validator_value
            if name not in violation.instance
        ]
    if at_root and violation.validator == "additionalProperties":
        allowed = ", ".join(properties)
        return [
            (name, f"unknown field '{name}'", f"remove the field; allowed fields are: {allowed}")
            for name in violation.instance
            if name not in properties
        ]
    path = join_path(violation.absolute_path)
    message = violation.message
    if violation.validator == "pattern":  # the regex itself means nothing to a builder
        message = f"{violation.instance!r} is not in the expected format"
    top_field = violation.absolute_path[0] if violation.absolute_path else ""
    return [(path, message, _described(properties, top_field))]


def _described(properties: dict[str, Any], name: Any) -> str:
    description = properties.get(name, {}).get("description")
    return f"{name}: {description}" if description else "see the node type's config_schema at GET /api/v1/node-types"


# --- edges -----------------------------------------------------------------------------


def _edge_errors(graph: Graph) -> list[GraphError]:
    nodes = _nodes_by_id(graph)
    errors = _duplicate_ids(graph.edges, "edge")
    for index, edge in enumerate(graph.edges):
        for end in ("source", "target"):
            node_id = getattr(edge, end)
            if node_id not in nodes:
                errors.append(
                    _error(
                        f"edges[{index}].{end}",
                        f"edge '{edge.id}' {'starts at' if end == 'source' else 'ends at'} node "
                        f"'{node_id}', which does not exist",
                        f"connect it to an existing node ({_listed(nodes)}) or delete the edge",
                    )
                )
        if edge.source in nodes:
            errors += _handle_errors(index, edge.source_handle, nodes[edge.source])
        target = nodes.get(edge.target)
        if target is not None and _is_trigger(target):
            errors.append(
                _error(
                    f"edges[{index}].target",
                    f"edge '{edge.id}' leads into the trigger '{target.id}'",
                    "a trigger starts the workflow; it cannot have inputs",
                )
            )
    return errors


def _handles(node_type: NodeType, config: dict[str, Any]) -> tuple[str, ...]:
    try:
        return node_type.handles_for(config)
    except Exception:  # a config too broken to name its handles is reported by the config checks
        return node_type.handles


def _handle_errors(index: int, handle: str | None, source: Node) -> list[GraphError]:
    node_type = get_node_type(source.type)
    if node_type is None:
        return []
    handles = _handles(node_type, source.config)
    if (handle or "default") in handles:
        return []
    allowed = ", ".join("null (default)" if name == "default" else f'"{name}"' for name in handles)
    return [
        _error(
            f"edges[{index}].source_handle",
            f"node '{source.id}' ({source.type}) has no output '{handle or 'default'}'",
            f"use one of: {allowed}",
        )
    ]


# --- the graph as a whole ------------------------------------------------------------------


def _flow_errors(graph: Graph) -> list[GraphError]:
    index_of = {node.id: index for index, node in enumerate(graph.nodes)}
    edges = [(e.source, e.target) for e in graph.edges if e.source in index_of and e.target in index_of]
    triggers = [node.id for node in graph.nodes if _is_trigger(node)]
    errors = _trigger_count_errors(triggers, index_of) + _cycle_errors(graph, edges, index_of)
    if triggers:
        reached = _reachable(triggers, _adjacency(edges))
        errors += [
            _error(
                f"nodes[{index}]",
                f"node '{node_id}' is not connected to the trigger",
                "connect it with an edge from a step that runs before it, or delete it",
            )
            for node_id, index in index_of.items()
            if node_id not in reached
        ]
    return errors + _loop_errors(graph, index_of) + _reference_errors(graph, edges, index_of)


WAITING_TYPES = {"logic.delay", "logic.approval", "logic.loop"}


def _loop_errors(graph: Graph, index_of: dict[str, int]) -> list[GraphError]:
    """A loop body is a closed sub-path: entered only through `each`, with no waits or nested loops."""
    outgoing: dict[str, list[Any]] = {node.id: [] for node in graph.nodes}
    for edge in graph.edges:
        if edge.source in outgoing and edge.target in index_of:
            outgoing[edge.source].append(edge)
    nodes, errors = _nodes_by_id(graph), []
    for loop in (node for node in graph.nodes if node.type == LOOP_TYPE):
        body = set(loop_body(loop.id, outgoing, list(index_of)))
        for member in sorted(body, key=index_of.__getitem__):
            path = f"nodes[{index_of[member]}]"
            if nodes[member].type in WAITING_TYPES or _is_trigger(nodes[member]):
                errors.append(
                    _error(
                        path,
                        f"'{member}' ({nodes[member].type}) cannot run inside the loop '{loop.id}'",
                        "move it after the loop's `done` output",
                    )
                )
            strangers = [
                e.source
                for e in graph.edges
                if e.target == member
                and e.source not in body
                and not (e.source == loop.id and e.source_handle == "each")
            ]
            if strangers:
                errors.append(
                    _error(
                        path,
                        f"'{member}' is inside the loop '{loop.id}' but is also reached from {', '.join(strangers)}",
                        "steps inside a loop may only be reached from the loop's `each` output",
                    )
                )
    return errors


def _trigger_count_errors(triggers: list[str], index_of: dict[str, int]) -> list[GraphError]:
    if not triggers:
        return [
            _error(
                "nodes",
                "the workflow has no trigger",
                "add a trigger node, e.g. trigger.manual: it starts the workflow",
            )
        ]
    return [
        _error(
            f"nodes[{index_of[extra]}]",
            f"'{extra}' is a second trigger; a workflow starts from exactly one (the first is '{triggers[0]}')",
            "delete one of the triggers, or make a separate workflow for each",
        )
        for extra in triggers[1:]
    ]


def _cycle_errors(graph: Graph, edges: list[tuple[str, str]], index_of: dict[str, int]) -> list[GraphError]:
    sorter: TopologicalSorter[str] = TopologicalSorter({node.id: () for node in graph.nodes})
    for source, target in edges:
        sorter.add(target, source)
    try:
        sorter.prepare()
    except CycleError as exc:
        cycle = exc.args[1]  # [a, b, c, a]: each node leads to the next
        return [
            _error(
                f"nodes[{index_of[cycle[0]]}]",
                f"the workflow loops: {' → '.join(cycle)}",
                "remove one of the edges in the loop; to repeat steps for each item of a list, use logic.loop",
            )
        ]
    return []


def _reference_errors(graph: Graph, edges: list[tuple[str, str]], index_of: dict[str, int]) -> list[GraphError]:
    errors, backwards = [], _adjacency((target, source) for source, target in edges)
    for index, node in enumerate(graph.nodes):
        node_type = get_node_type(node.type)
        if node_type is None or node_type.is_trigger:
            continue
        sources = [(path, source, referenced_steps(source)) for path, source in iter_template_strings(node.config)]
        sources += [
            (path, expression, cel_referenced_steps(expression))
            for path, expression in _cel_expressions(node_type, node.config)
        ]
        if not any(refs for _, _, refs in sources):
            continue
        upstream = _reachable([node.id], backwards) - {node.id}
        for path, _source, refs in sources:
            for ref in sorted(refs):
                problem = _reference_problem(node.id, ref, upstream, index_of)
                if problem:
                    hint = (
                        f"steps that run before '{node.id}': "
                        f"{', '.join(sorted(upstream, key=index_of.__getitem__)) or 'none'}; "
                        "the trigger's data is trigger.<field>"
                    )
                    errors.append(_error(f"nodes[{index}].config.{path}", problem, hint))
    return errors


def _reference_problem(node_id: str, ref: str, upstream: set[str], index_of: dict[str, int]) -> str | None:
    if ref == node_id:
        return f"steps.{ref} is this step itself; a step cannot read its own output"
    if ref not in index_of:
        return f"steps.{ref} refers to a node that does not exist"
    if ref not in upstream:
        return f"steps.{ref} does not run before '{node_id}', so its output is not available here"
    return None


# --- helpers -----------------------------------------------------------------------------


def _nodes_by_id(graph: Graph) -> dict[str, Node]:
    nodes: dict[str, Node] = {}
    for node in graph.nodes:
        nodes.setdefault(node.id, node)
    return nodes


def _is_trigger(node: Node) -> bool:
    node_type = get_node_type(node.type)
    return node_type is not None and node_type.is_trigger


def _adjacency(edges: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    following: dict[str, list[str]] = {}
    for source, target in edges:
        following.setdefault(source, []).append(target)
    return following


def _reachable(starts: list[str], following: dict[str, list[str]]) -> set[str]:
    seen, queue = set(starts), deque(starts)
    while queue:
        for target in following.get(queue.popleft(), ()):
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


def _listed(nodes: dict[str, Node], limit: int = 10) -> str:
    names = list(nodes)
    return ", ".join(names[:limit]) + (", …" if len(names) > limit else "") if names else "none yet"


# --- warnings: legal, but probably not what the builder meant --------------------------------

_OUTPUT_REFERENCE = re.compile(r"\bsteps\.([A-Za-z_]\w*)\.output\.([A-Za-z_]\w*)")


def graph_warnings(data: Any) -> list[GraphError]:
    """References to output fields that the upstream node is known not to produce."""
    try:
        graph = Graph.model_validate(data)
    except ValidationError:
        return []
    nodes, warnings = _nodes_by_id(graph), []
    for index, node in enumerate(graph.nodes):
        node_type = get_node_type(node.type)
        if node_type is None:
            continue
        sources = list(iter_template_strings(node.config)) + _cel_expressions(node_type, node.config)
        for path, source in sources:
            for ref, field_name in _OUTPUT_REFERENCE.findall(source):
                message = _unknown_field(nodes.get(ref), field_name)
                if message:
                    warnings.append(
                        _error(
                            f"nodes[{index}].config.{path}",
                            f"steps.{ref}.output.{field_name}: {message[0]}",
                            message[1],
                        )
                    )
    return warnings


def _unknown_field(source: Node | None, field_name: str) -> tuple[str, str] | None:
    source_type = get_node_type(source.type) if source else None
    if source is None or source_type is None:
        return None
    try:
        known = source_type.known_output_fields(source.config)
    except Exception:
        return None
    if not known or field_name in known:
        return None
    close = difflib.get_close_matches(field_name, known, n=1)
    suggestion = f"did you mean '{close[0]}'? " if close else ""
    return (
        f"'{source.id}' has no output field '{field_name}'",
        f"{suggestion}its output fields are: {', '.join(sorted(known))}",
    )
