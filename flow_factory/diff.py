"""What changed between two graphs, node by node: for comparing versions and reviewing a publish.

Nodes and edges are matched by id. A node whose position alone changed is moved; other node fields and each
config field are compared as values. Values under a secret-looking key are never shown, only that they changed.
The trigger is called out on its own, because changing it changes what starts the workflow.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from flow_factory.nodes import get_node_type
from flow_factory.redact import MASK, SECRET_KEY, redact


class FieldChange(BaseModel):
    path: str = Field(description="The node field, e.g. label or config.subject.")
    before: Any = Field(None, description="null when the field was added; masked when secret.")
    after: Any = Field(None, description="null when the field was removed; masked when secret.")
    secret: bool = Field(False, description="The values are secret: only the fact that they changed is shown.")


class NodeRef(BaseModel):
    id: str
    type: str
    label: str


class NodeMove(NodeRef):
    before: dict[str, float]
    after: dict[str, float]


class NodeChange(NodeRef):
    fields: list[FieldChange]


class EdgeRef(BaseModel):
    id: str
    source: str
    target: str
    source_handle: str | None = None


class EdgeChange(BaseModel):
    id: str
    before: EdgeRef
    after: EdgeRef


class TriggerChange(BaseModel):
    change: Literal["added", "removed", "replaced", "changed"]
    before: str | None = Field(description="The trigger type before, e.g. trigger.webhook.")
    after: str | None
    fields: list[FieldChange] = Field(default_factory=list, description="With `changed`: its settings that did.")


class GraphDiff(BaseModel):
    nodes_added: list[NodeRef] = Field(default_factory=list)
    nodes_removed: list[NodeRef] = Field(default_factory=list)
    nodes_moved: list[NodeMove] = Field(default_factory=list, description="Only their canvas position changed.")
    nodes_changed: list[NodeChange] = Field(default_factory=list)
    edges_added: list[EdgeRef] = Field(default_factory=list)
    edges_removed: list[EdgeRef] = Field(default_factory=list)
    edges_changed: list[EdgeChange] = Field(default_factory=list)
    trigger: TriggerChange | None = Field(None, description="Set when what starts the workflow changed.")
    unchanged: bool = Field(description="The two graphs are the same, positions included.")


def diff_graphs(before: dict[str, Any] | None, after: dict[str, Any]) -> GraphDiff:
    """`before` None: nothing yet (a new workflow, or none of its versions live), so everything is added."""
    before = before or {}
    old, new = _by_id(before, "nodes"), _by_id(after, "nodes")
    old_edges, new_edges = _by_id(before, "edges"), _by_id(after, "edges")
    moved, changed = [], []
    for node_id in old.keys() & new.keys():
        fields = _field_changes(old[node_id], new[node_id])
        if fields:
            changed.append(NodeChange(**_ref(new[node_id]).model_dump(), fields=fields))
        elif _position(old[node_id]) != _position(new[node_id]):
            moved.append(NodeMove(**_ref(new[node_id]).model_dump(), before=_position(old[node_id]),
                                  after=_position(new[node_id])))  # fmt: skip
    diff = GraphDiff(
        nodes_added=[_ref(new[i]) for i in _ordered(new, old)],
        nodes_removed=[_ref(old[i]) for i in _ordered(old, new)],
        nodes_moved=sorted(moved, key=lambda n: n.id),
        nodes_changed=sorted(changed, key=lambda n: n.id),
        edges_added=[_edge(new_edges[i]) for i in _ordered(new_edges, old_edges)],
        edges_removed=[_edge(old_edges[i]) for i in _ordered(old_edges, new_edges)],
        edges_changed=[
            EdgeChange(id=i, before=_edge(old_edges[i]), after=_edge(new_edges[i]))
            for i in sorted(old_edges.keys() & new_edges.keys())
            if _edge(old_edges[i]) != _edge(new_edges[i])
        ],
        trigger=_trigger_change(_trigger(old), _trigger(new)),
        unchanged=False,
    )
    diff.unchanged = not any(value for name, value in diff if name != "unchanged")
    return diff


def _by_id(graph: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in graph.get(kind) or [] if isinstance(item, dict) and "id" in item}


def _ordered(these: dict[str, Any], others: dict[str, Any]) -> list[str]:
    """The ids only in `these`, in their graph's order."""
    return [i for i in these if i not in others]


def _ref(node: dict[str, Any]) -> NodeRef:
    return NodeRef(id=node["id"], type=str(node.get("type", "")), label=str(node.get("label", "")))


def _edge(edge: dict[str, Any]) -> EdgeRef:
    return EdgeRef(
        id=edge["id"], source=edge.get("source", ""), target=edge.get("target", ""),
        source_handle=edge.get("source_handle"),
    )  # fmt: skip


def _position(node: dict[str, Any]) -> dict[str, float]:
    position = node.get("position") or {}
    return {"x": float(position.get("x", 0)), "y": float(position.get("y", 0))}


def _field_changes(old: dict[str, Any], new: dict[str, Any]) -> list[FieldChange]:
    """Changed node fields (id and position aside) and config fields, in name order."""
    fields = {k: v for k, v in old.items() if k not in ("id", "position", "config") and not _default(k, v)}
    fields_after = {k: v for k, v in new.items() if k not in ("id", "position", "config") and not _default(k, v)}
    changes = _changes(fields, fields_after, prefix="")
    return changes + _changes(old.get("config") or {}, new.get("config") or {}, prefix="config.")


def _default(name: str, value: Any) -> bool:
    """`disabled: false` is what a node without the field means: not a change."""
    return name == "disabled" and value is False


def _changes(old: dict[str, Any], new: dict[str, Any], *, prefix: str) -> list[FieldChange]:
    changes = []
    for name in sorted(old.keys() | new.keys()):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        if SECRET_KEY.search(str(name)):
            changes.append(FieldChange(path=prefix + name, before=_masked(before), after=_masked(after), secret=True))
        else:
            changes.append(FieldChange(path=prefix + name, before=redact(before), after=redact(after)))
    return changes


def _masked(value: Any) -> str | None:
    return None if value in (None, "") else MASK


def _trigger(nodes: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    for node in nodes.values():
        node_type = get_node_type(str(node.get("type", "")))
        if node_type is not None and node_type.is_trigger:
            return node
    return None


def _trigger_change(old: dict[str, Any] | None, new: dict[str, Any] | None) -> TriggerChange | None:
    before, after = (node.get("type") if node else None for node in (old, new))
    if old is None and new is None:
        return None
    if old is None or new is None:
        return TriggerChange(change="added" if old is None else "removed", before=before, after=after)
    if before != after:
        return TriggerChange(change="replaced", before=before, after=after)
    fields = _changes(old.get("config") or {}, new.get("config") or {}, prefix="config.")
    return TriggerChange(change="changed", before=before, after=after, fields=fields) if fields else None
