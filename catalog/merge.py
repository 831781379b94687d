"""Three-way merge of workflow graphs, for upgrading a workflow made from a template.

base: the template version the workflow came from (with the workflow's parameters);
ours: the tenant's graph as it is now; theirs: the new template version (same parameters).

Graphs are compared keyed by node id, edge id and config field (dictdiffer does the diff, the
conflict finding and the unification; a config field's value, a position and an edge are JSON atoms,
merged whole — dictdiffer's own path limits stop early when a limited value is unchanged): a change on one side only is taken; the same change on both
sides is taken once; different changes to the same node field, config field or edge — or a change to
a node the other side deleted — are conflicts. A conflict keeps the workflow's version unless the
caller resolves it for the template. Canvas positions never conflict (the workflow's win).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Literal

import dictdiffer
from dictdiffer.merge import Merger
from dictdiffer.resolve import UnresolvedConflictsException
from dictdiffer.utils import get_path

Side = Literal["workflow", "template"]
_PICK = {"workflow": "f", "template": "s"}
_MISSING = object()


@dataclass
class Conflict:
    path: str  # e.g. nodes.reminder.config.body, or nodes.reminder (deleted on one side)
    base: Any
    workflow: Any
    template: Any
    resolution: Side


@dataclass
class Change:
    path: str
    op: Literal["added", "removed", "changed"]
    before: Any = None
    after: Any = None


@dataclass
class MergeResult:
    graph: dict[str, Any]
    conflicts: list[Conflict] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)  # what the merge changes in the workflow's graph


class _KeyedMerger(Merger):
    """dictdiffer's Merger with list-valued paths (edge ids may contain dots)."""

    def extract_patches(self):
        self.first_patches = list(dictdiffer.diff(self.lca, self.first, expand=True, dot_notation=False))
        self.second_patches = list(dictdiffer.diff(self.lca, self.second, expand=True, dot_notation=False))


def _atom(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def keyed(graph: dict[str, Any]) -> dict[str, Any]:
    """{"nodes": {id: {type, label, position, config: {field: value}}}, "edges": {id: edge}}, where
    a config field's value, a position and an edge are atoms (JSON text): each is merged whole."""
    nodes = {}
    for node in graph.get("nodes", []):
        item = {k: v for k, v in node.items() if k not in ("id", "config", "position")}
        item["position"] = _atom(node.get("position"))
        item["config"] = {name: _atom(value) for name, value in (node.get("config") or {}).items()}
        nodes[node["id"]] = item
    edges = {e["id"]: _atom({k: v for k, v in e.items() if k != "id"}) for e in graph.get("edges", [])}
    return {"nodes": nodes, "edges": edges}


def _node(node_id: str, item: dict[str, Any]) -> dict[str, Any]:
    node = {"id": node_id, **{k: v for k, v in item.items() if k not in ("config", "position")}}
    node["config"] = {name: json.loads(value) for name, value in item.get("config", {}).items()}
    position = json.loads(item["position"]) if "position" in item else None
    return {**node, "position": position} if position is not None else node


def unkeyed(data: dict[str, Any], *orders: dict[str, Any]) -> dict[str, Any]:
    """Back to lists, in the order of the first graph that has each id (the workflow's first)."""

    def ordered(kind: str) -> list[str]:
        ids: list[str] = []
        for graph in orders:
            ids += [item["id"] for item in graph.get(kind, []) if item["id"] in data[kind] and item["id"] not in ids]
        return ids + [i for i in data[kind] if i not in ids]

    return {
        "nodes": [_node(i, data["nodes"][i]) for i in ordered("nodes")],
        "edges": [{"id": i, **json.loads(data["edges"][i])} for i in ordered("edges")],
    }


def _plain(value: Any) -> Any:
    """An atom or a keyed node, back as the graph shows it."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, dict) and "config" in value:
        return {k: v for k, v in _node("", value).items() if k != "id"}
    return value


def _lookup(data: dict[str, Any], path: tuple) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return _MISSING
        data = data[key]
    return copy.deepcopy(data)


def _shown(value: Any) -> Any:
    return None if value is _MISSING else _plain(value)


def _dotted(path: tuple) -> str:
    return ".".join(map(str, path))


def merge(
    base: dict[str, Any], ours: dict[str, Any], theirs: dict[str, Any], resolutions: dict[str, Side] | None = None
) -> MergeResult:
    resolutions = resolutions or {}
    lca, first, second = keyed(base), keyed(ours), keyed(theirs)
    merger = _KeyedMerger(lca, first, second, {})
    conflicts: dict[str, Conflict] = {}
    try:
        merger.run()
    except UnresolvedConflictsException:
        picks = []
        for conflict in merger.unresolved_conflicts:
            path = min(get_path(conflict.first_patch), get_path(conflict.second_patch), key=len)
            where = _dotted(path)
            if len(path) >= 3 and path[0] == "nodes" and path[2] == "position":
                picks.append("f")
                continue
            side = resolutions.get(where, "workflow")
            conflicts.setdefault(
                where,
                Conflict(
                    where, _shown(_lookup(lca, path)), _shown(_lookup(first, path)), _shown(_lookup(second, path)), side
                ),
            )
            picks.append(_PICK[side])
        merger.continue_run(picks)
    merged = dictdiffer.patch(merger.unified_patches, lca, in_place=False)
    _keep_edges_of_kept_nodes(merged, first, [c for c in conflicts.values() if c.resolution == "workflow"])
    _drop_dangling_edges(merged)
    graph = {**{k: v for k, v in ours.items() if k not in ("nodes", "edges")}, **unkeyed(merged, ours, theirs)}
    return MergeResult(graph, list(conflicts.values()), changes_between(ours, graph))


def _keep_edges_of_kept_nodes(merged: dict[str, Any], first: dict[str, Any], kept: list[Conflict]) -> None:
    """A node the template deleted but the workflow keeps (a conflict) keeps its edges too."""
    for conflict in kept:
        parts = conflict.path.split(".", 1)
        if parts[0] != "nodes" or len(parts) < 2 or "." in parts[1]:
            continue
        for eid, atom in first["edges"].items():
            edge = json.loads(atom)
            if parts[1] in (edge.get("source"), edge.get("target")):
                merged["edges"].setdefault(eid, atom)


def _drop_dangling_edges(merged: dict[str, Any]) -> None:
    """An edge whose node is gone (deleted on one side, still used on the other) goes too."""
    for eid in [
        eid
        for eid, atom in merged["edges"].items()
        if {json.loads(atom).get("source"), json.loads(atom).get("target")} - set(merged["nodes"])
    ]:
        del merged["edges"][eid]


def changes_between(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """The difference of two graphs, keyed by node id, edge id and config field."""
    changes = []
    old, new = keyed(before), keyed(after)
    for op, node, detail in dictdiffer.diff(old, new, expand=True, dot_notation=False):
        path = list(node)
        if op == "change":
            changes.append(Change(_dotted(tuple(path)), "changed", _plain(detail[0]), _plain(detail[1])))
        else:
            for key, value in detail:
                value = _plain(value)
                changes.append(
                    Change(
                        _dotted((*path, key)),
                        "added" if op == "add" else "removed",
                        value if op == "remove" else None,
                        value if op == "add" else None,
                    )
                )
    return changes
