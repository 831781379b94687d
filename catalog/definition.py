"""What a template is, how its graph is made from parameters, and the checks every template passes.

In the YAML files edges may be written short — `"start -> welcome"`, `"check:true -> sms"` — and nodes
may omit `position` (they are laid out left to right); `normalise` turns both into the graph format.
"""

from __future__ import annotations

import copy
import re
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from catalog import params
from flow_factory.nodes import NODE_TYPES, get_node_type
from flow_factory.validation import validate_graph

CATEGORIES = {
    "sales": "Sales",
    "marketing": "Marketing",
    "customer-service": "Customer service",
    "operations": "Operations",
}
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,79}$"
TAG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
BUILT_IN = {"crm": "CRM (built into Flowyard)"}
_SHORT_EDGE = re.compile(r"^\s*([A-Za-z_]\w*)(?::([\w-]+))?\s*->\s*([A-Za-z_]\w*)\s*$")
PLACEHOLDER_CONNECTION = "__connection__"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChangelogEntry(_Strict):
    version: int = Field(ge=1)
    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD")
    changes: str = Field(min_length=1)

    @field_validator("date", mode="before")
    @classmethod
    def _iso(cls, value: Any) -> Any:
        return value.isoformat() if isinstance(value, date) else value


class IntendedTrigger(_Strict):
    """The trigger the template is meant for (e.g. trigger.data_change); until that node type exists,
    the graph starts with trigger.manual and an input schema describing the same data."""

    type: str = Field(description="e.g. trigger.schedule, trigger.webhook, trigger.data_change")
    description: str = Field(description="When it fires, in words, e.g. 'Every Monday at 08:00'.")
    config: dict[str, Any] = Field(default_factory=dict, description="The intended trigger's settings.")


class TestPlan(_Strict):
    """How CI runs the template in test mode: with the trigger's sample input, ending with `expect`."""

    expect: Literal["completed", "waiting"] = "completed"


class TemplateDefinition(_Strict):
    slug: str = Field(pattern=SLUG_PATTERN)
    title: str = Field(min_length=3, max_length=200)
    description: str = Field(min_length=10, max_length=4000)
    category: str
    tags: list[str] = Field(default_factory=list, max_length=12)
    integrations: list[str] = Field(default_factory=list, description="Declared; must match the graph's node types.")
    version: int = Field(ge=1)
    changelog: list[ChangelogEntry] = Field(min_length=1)
    trigger: IntendedTrigger | None = None
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    graph: dict[str, Any]
    test: TestPlan = Field(default_factory=TestPlan)

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        if value not in CATEGORIES:
            raise ValueError(f"unknown category '{value}'; use one of {', '.join(CATEGORIES)}")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        for tag in value:
            if not re.match(TAG_PATTERN, tag):
                raise ValueError(f"tag '{tag}' must be lower-case letters, digits and dashes")
        return value

    @model_validator(mode="before")
    @classmethod
    def _normalise_graph(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("graph"), dict):
            data = {**data, "graph": normalise(data["graph"])}
        return data

    def changes_in(self, version: int) -> str:
        return next((entry.changes for entry in self.changelog if entry.version == version), "")


def normalise(graph: dict[str, Any]) -> dict[str, Any]:
    """Expand short edges, and lay out nodes that have no position."""
    graph = copy.deepcopy(graph)
    edges = []
    for edge in graph.get("edges", []):
        match = _SHORT_EDGE.match(edge) if isinstance(edge, str) else None
        if match:
            source, handle, target = match.groups()
            edge = {
                "id": f"{source}-{handle or 'out'}-{target}",
                "source": source,
                "source_handle": handle,
                "target": target,
            }
        edges.append(edge)
    graph["edges"] = edges
    nodes = graph.get("nodes", [])
    if all(isinstance(n, dict) for n in nodes) and any("position" not in n for n in nodes):
        _layout(nodes, edges)
    return graph


def _layout(nodes: list[dict[str, Any]], edges: list[Any]) -> None:
    """Columns by distance from the trigger (longest path), rows in file order."""
    depth = {n.get("id"): 0 for n in nodes}
    for _ in range(len(nodes)):
        changed = False
        for edge in edges:
            if isinstance(edge, dict) and edge.get("source") in depth and edge.get("target") in depth:
                wanted = depth[edge["source"]] + 1
                if wanted > depth[edge["target"]] and wanted < len(nodes):
                    depth[edge["target"]], changed = wanted, True
        if not changed:
            break
    rows: dict[int, int] = {}
    for node in nodes:
        column = depth.get(node.get("id"), 0)
        row = rows.get(column, 0)
        rows[column] = row + 1
        node.setdefault("position", {"x": column * 280, "y": row * 160})


# --- what a graph needs ---------------------------------------------------------------------------


def integration_of(node_type: str) -> str | None:
    spec = get_node_type(node_type)
    return spec.extra.get("integration") if spec else None


def connection_type_of(node_type: str) -> str | None:
    spec = get_node_type(node_type)
    return spec.extra.get("connection_type") if spec else None


def required_integrations(graph: dict[str, Any]) -> list[str]:
    found = {integration_of(node.get("type", "")) for node in graph.get("nodes", [])}
    return sorted(name for name in found if name)


def connection_slots(graph: dict[str, Any]) -> list[tuple[int, str]]:
    """(node index, connection type) of every step that needs a connection."""
    return [
        (index, kind)
        for index, node in enumerate(graph.get("nodes", []))
        if (kind := connection_type_of(node.get("type", "")))
    ]


def unknown_node_types(graph: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {
            "path": f"graph.nodes[{index}].type",
            "message": f"node type '{node.get('type')}' no longer exists",
            "hint": "this template needs an update; GET /api/v1/node-types lists the node types that exist",
        }
        for index, node in enumerate(graph.get("nodes", []))
        if node.get("type") not in NODE_TYPES
    ]


def render(
    definition: dict[str, Any], parameters: dict[str, Any], trigger_overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The graph with the parameters filled in (resolve them first) and the trigger overridden."""
    graph = params.substitute(definition["graph"], parameters)
    if trigger_overrides:
        trigger = next((node for node in graph["nodes"] if is_trigger(node)), None)
        if trigger is not None:
            config = trigger.get("config", {})
            kind = trigger_overrides.get("type") or trigger["type"]
            if kind != trigger["type"]:  # another kind of trigger: its own settings; the test sample carries over
                config = {key: value for key, value in config.items() if key == "sample"}
            trigger["type"] = kind
            trigger["config"] = {**config, **(trigger_overrides.get("config") or {})}
    return graph


def is_trigger(node: dict[str, Any]) -> bool:
    spec = get_node_type(node.get("type", ""))
    return bool(spec and spec.is_trigger)


# --- the checks every catalog template passes (CI, and `python -m catalog check`) ---------------


def _intended_trigger_problems(trigger: IntendedTrigger | None) -> list[str]:
    """The intended trigger's settings must fit its node type, when that type exists (they can be
    passed as trigger_overrides on instantiate)."""
    spec = get_node_type(trigger.type) if trigger else None
    if trigger is None or spec is None:
        return []
    if not spec.is_trigger:
        return [f"trigger.type: {trigger.type} is not a trigger"]
    node = {"id": "start", "type": trigger.type, "config": trigger.config}
    graph = {
        "nodes": [node, {"id": "next", "type": "util.log", "config": {"message": "x"}}],
        "edges": [{"id": "e", "source": "start", "target": "next"}],
    }
    return [f"trigger.config: {e.path}: {e.message}" for e in validate_graph(graph)]


def check(definition: TemplateDefinition) -> list[str]:
    """Problems with a template, in words; empty when it is fit to publish."""
    problems = []
    schema = definition.parameters
    declared = set(schema.get("properties", {}))
    used = params.placeholders(definition.graph)
    problems += [f"placeholder ${{{name}}} is not a declared parameter" for name in sorted(used - declared)]
    problems += [f"malformed placeholder in {text!r}: write ${{name}}" for text in params.malformed(definition.graph)]
    problems += [f"parameter '{name}' is never used in the graph" for name in sorted(declared - used)]
    for name, spec in schema.get("properties", {}).items():
        if "default" not in spec:
            problems.append(f"parameter '{name}' has no default")
        if not spec.get("description"):
            problems.append(f"parameter '{name}' has no description (the help shown in the form)")
    if schema.get("additionalProperties") is not False:
        problems.append("parameters must say additionalProperties: false")
    if not any(entry.version == definition.version for entry in definition.changelog):
        problems.append(f"the changelog has no entry for version {definition.version}")
    problems += [f"{e['path']}: {e['message']}" for e in unknown_node_types(definition.graph)]
    problems += _intended_trigger_problems(definition.trigger)
    if problems:
        return problems
    try:
        values = params.resolve(schema, {})
    except params.ParameterError as exc:
        return [f"default parameters: {e['path']}: {e['message']}" for e in exc.errors]
    graph = render(definition.model_dump(), values)
    if sorted(definition.integrations) != required_integrations(graph):
        problems.append(f"integrations should be {required_integrations(graph)}, not {sorted(definition.integrations)}")
    for index, _kind in connection_slots(graph):
        graph["nodes"][index]["config"]["connection"] = PLACEHOLDER_CONNECTION
    problems += [f"graph.{e.path}: {e.message} ({e.hint})" for e in validate_graph(graph)]
    return problems
