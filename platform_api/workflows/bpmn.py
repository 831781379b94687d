"""BPMN 2.0 export and import of a workflow graph (pure functions: no database, no HTTP).

`to_bpmn` writes a process that the OMG schema accepts, with diagram shapes at the canvas positions, and
keeps every node's id, type and config (secrets masked) in `fy:` extension elements, which `from_bpmn`
reads back, so that an export imports as the same graph. Documents from other tools import as far as
their elements have a Flowyard meaning; the rest is listed in `BpmnImport.unmapped`. docs/bpmn.md has
the mapping table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from flow_factory.graph import Edge, Graph, Node
from flow_factory.nodes import get_node_type
from flow_factory.plan import loop_body
from flow_factory.redact import MASK, redact

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
FY = "https://flowyard.dev/schema/bpmn/1.0"
NSMAP = {"bpmn": BPMN, "bpmndi": BPMNDI, "dc": DC, "di": DI, "xsi": XSI, "fy": FY}
CEL_LANGUAGE = "https://cel.dev"
# A Flowyard output that BPMN cannot express on that element (an `error` path of a gateway or a delay).
HANDLE_LANGUAGE = f"{FY}/handle"
NODE_TYPE_URI = "https://docs.flowyard.dev/nodes/"  # + node type: a serviceTask's `implementation`
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
MAX_ELEMENTS = 20_000

_SAFE_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")  # NCName and what bpmn-js accepts
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
_CASE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_EVENT_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")

SIZES = {"task": (100.0, 80.0), "event": (36.0, 36.0), "gateway": (50.0, 50.0)}
# A node's canvas position is the top-left of a task-sized cell; smaller shapes sit in its middle.
OFFSETS = {kind: ((100 - w) / 2, (80 - h) / 2) for kind, (w, h) in SIZES.items()}
_TRIGGER_DEFINITION = {
    "trigger.schedule": "timerEventDefinition",
    "trigger.webhook": "messageEventDefinition",
    "trigger.event": "messageEventDefinition",
    "trigger.data_change": "conditionalEventDefinition",
}
_ELEMENT_OF = {
    "logic.if": "exclusiveGateway",
    "logic.switch": "exclusiveGateway",
    "logic.merge": "parallelGateway",
    "logic.delay": "intermediateCatchEvent",
    "logic.approval": "userTask",
    "logic.loop": "subProcess",
}
_KIND_OF = {
    "startEvent": "event",
    "endEvent": "event",
    "intermediateCatchEvent": "event",
    "boundaryEvent": "event",
    "exclusiveGateway": "gateway",
    "parallelGateway": "gateway",
}
_ACTIVITIES = {"serviceTask", "userTask", "subProcess"}


class BpmnError(ValueError):
    """The document cannot be imported (not XML, hostile XML, not BPMN); the route answers 422."""


@dataclass
class BpmnImport:
    """A graph made from a BPMN document, and what of the document it leaves out (human-readable)."""

    graph: dict[str, Any]
    unmapped: list[str] = field(default_factory=list)


def _q(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


def _text(value: str) -> str:
    """Characters XML 1.0 cannot hold are dropped (they cannot be written at all)."""
    return _NOT_XML.sub("", value)


def _json(value: Any) -> str:
    """JSON text that XML can hold: characters XML forbids are written as JSON escapes."""
    return _NOT_XML.sub(lambda match: f"\\u{ord(match.group(0)):04x}", json.dumps(value, ensure_ascii=False))


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


# --- export ------------------------------------------------------------------------------------------------


@dataclass
class _Element:
    id: str
    tag: str  # BPMN element name
    container: str  # "" for the process, else the element id of a loop's subProcess
    node: Node | None = None
    name: str = ""
    attached_to: str | None = None
    definition: str | None = None  # for events: errorEventDefinition, timerEventDefinition, ...
    incoming: list[str] = field(default_factory=list)
    outgoing: list[str] = field(default_factory=list)
    default: str | None = None
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)


@dataclass
class _Flow:
    id: str
    source: str
    target: str
    container: str
    edge: Edge | None = None  # the graph edge this flow ends (the flow that enters the edge's target)
    name: str = ""
    condition: str | None = None
    language: str = CEL_LANGUAGE


class _Ids:
    def __init__(self) -> None:
        self.used: set[str] = set()

    def take(self, wanted: str) -> str:
        candidate = re.sub(r"[^A-Za-z0-9_.-]", "_", wanted) or "id"
        if not _SAFE_ID.match(candidate):
            candidate = f"_{candidate}"
        unique, counter = candidate, 1
        while unique in self.used:
            counter += 1
            unique = f"{candidate}.{counter}"
        self.used.add(unique)
        return unique


def to_bpmn(graph: dict[str, Any], *, process_id: str, name: str) -> str:
    """The graph as a BPMN 2.0 document (UTF-8 XML text). Raises ValueError if it is not a graph."""
    return _Exporter(Graph.model_validate(graph), process_id, name).document()


class _Exporter:
    def __init__(self, graph: Graph, process_id: str, name: str) -> None:
        self.graph, self.name = graph, name
        self.ids = _Ids()
        self.elements: dict[str, _Element] = {}  # by element id, in creation order
        self.flows: list[_Flow] = []
        self.element_of: dict[int, str] = {}  # node index -> element id
        self.messages: dict[str, tuple[str, str]] = {}  # start event id -> (message id, name)
        self.error_id: str | None = None
        for index, node in enumerate(graph.nodes):
            self.element_of[index] = self.ids.take(node.id)
        self.process_id = self.ids.take(process_id)
        self.definitions_id = self.ids.take(f"{self.process_id}-definitions")
        self._build()

    # -- structure

    def _build(self) -> None:
        nodes = self.graph.nodes
        outgoing: dict[str, list[Edge]] = {node.id: [] for node in nodes}
        for edge in self.graph.edges:
            if edge.source in outgoing and edge.target in outgoing:
                outgoing[edge.source].append(edge)
        container_of: dict[str, str] = {}
        self.index_of = {node.id: index for index, node in reversed(list(enumerate(nodes)))}
        for index, node in enumerate(nodes):
            if node.type == "logic.loop" and node.id not in container_of:
                for member in loop_body(node.id, outgoing, list(outgoing)):
                    if member != node.id:
                        container_of.setdefault(member, self.element_of[index])
        for index, node in enumerate(nodes):
            element_id = self.element_of[index]
            tag = _ELEMENT_OF.get(node.type, "serviceTask")
            node_type = get_node_type(node.type)
            if node.type in _TRIGGER_DEFINITION or (node_type is not None and node_type.is_trigger):
                tag = "startEvent"
            name = node.label or (node_type.label if node_type is not None else node.type)  # an unnamed step: its kind
            element = _Element(element_id, tag, container_of.get(node.id, ""), node=node, name=name)
            element.definition = _TRIGGER_DEFINITION.get(node.type) if tag == "startEvent" else None
            if node.type == "logic.delay":
                element.definition = "timerEventDefinition"
            if element.definition == "messageEventDefinition":
                self.messages[element_id] = (self.ids.take(f"{element_id}-message"), _message_name(node))
            element.box = self._node_box(node, tag)
            self.elements[element_id] = element
        for index, node in enumerate(nodes):
            source = self.elements[self.element_of[index]]
            groups: dict[str, list[Edge]] = {}
            for edge in outgoing[node.id] if self.index_of[node.id] == index else []:  # a duplicate id: no edges
                groups.setdefault(edge.source_handle or "default", []).append(edge)
            if not groups:
                self._end(source)
            for handle, edges in groups.items():
                self._handle_flows(source, handle, edges)
        self._place_subprocesses()

    def _node_box(self, node: Node, tag: str) -> tuple[float, float, float, float]:
        kind = _KIND_OF.get(tag, "task")
        (width, height), (dx, dy) = SIZES[kind], OFFSETS[kind]
        return node.position.x + dx, node.position.y + dy, width, height

    def _add(self, element: _Element) -> _Element:
        self.elements[element.id] = element
        return element

    def _flow(self, source: _Element, target: _Element, container: str, wanted: str, **extra: Any) -> _Flow:
        flow = _Flow(self.ids.take(wanted), source.id, target.id, container, **extra)
        source.outgoing.append(flow.id)
        target.incoming.append(flow.id)
        self.flows.append(flow)
        return flow

    def _end(self, source: _Element) -> None:
        x, y, w, h = source.box
        end = self._add(
            _Element(
                self.ids.take(f"{source.id}-end"),
                "endEvent",
                source.container,
                box=(x + w + 60, y + h / 2 - 18, 36, 36),
            )
        )
        self._flow(source, end, source.container, f"{source.id}-end-flow")

    def _handle_flows(self, node_element: _Element, handle: str, edges: list[Edge]) -> None:
        node = node_element.node
        assert node is not None
        source, container = node_element, node_element.container
        attributes: dict[str, Any] = {}
        if handle == "each" and node_element.tag == "subProcess":
            x, y, _, _ = node_element.box
            dx, dy = OFFSETS["event"]
            source = self._add(
                _Element(
                    self.ids.take(f"{node_element.id}-each"),
                    "startEvent",
                    node_element.id,
                    box=(x + dx, y + dy, 36, 36),
                )
            )
            container = node_element.id
        elif (handle == "error" and node_element.tag in _ACTIVITIES) or (
            handle == "timeout" and node.type == "logic.approval"
        ):
            source = self._boundary(node_element, handle)
        else:
            attributes = self._flow_attributes(node_element, node, handle)
        if len(edges) > 1:
            x, y, w, h = source.box
            split = self._add(
                _Element(
                    self.ids.take(f"{source.id}-{handle}-split"),
                    "parallelGateway",
                    container,
                    box=(x + w + 40, y + h / 2 - 25, 50, 50),
                )
            )
            flow = self._flow(source, split, container, f"{split.id}-flow", **attributes)
            if node_element.default == "pending":
                node_element.default = flow.id
            source, attributes = split, {}
        for edge in edges:
            target = self.elements[self.element_of[self.index_of[edge.target]]]
            flow = self._flow(source, target, container, f"flow-{edge.id}", edge=edge, **attributes)
            if node_element.default == "pending":
                node_element.default = flow.id

    def _flow_attributes(self, element: _Element, node: Node, handle: str) -> dict[str, Any]:
        """Name and condition of the flow leaving `element` by `handle`; marks the gateway's default."""
        if handle == "default" and node.type != "logic.switch":
            return {}
        if node.type == "logic.if" and handle in ("true", "false"):
            if handle == "false":
                element.default = "pending"
                return {"name": "false"}
            return {"name": "true", "condition": _cel(node)}
        if node.type == "logic.switch":
            if handle == "default":
                element.default = "pending"
                return {"name": "default"}
            condition = _case_cel(node, handle)
            if condition is not None:
                return {"name": handle, "condition": condition}
        if node.type == "logic.approval" and handle in ("approved", "rejected"):
            return {"name": handle, "condition": f"steps.{node.id}.output.decision == {json.dumps(handle)}"}
        if node.type == "logic.loop" and handle == "done":
            return {"name": "done"}
        return {"name": handle, "condition": handle, "language": HANDLE_LANGUAGE}

    def _boundary(self, host: _Element, handle: str) -> _Element:
        x, y, w, h = host.box
        at = 0.75 if handle == "error" else 0.25
        boundary = _Element(
            self.ids.take(f"{host.id}-{handle}"),
            "boundaryEvent",
            host.container,
            attached_to=host.id,
            definition="errorEventDefinition" if handle == "error" else "timerEventDefinition",
            box=(x + w * at - 18, y + h - 18, 36, 36),
        )
        if handle == "error" and self.error_id is None:
            self.error_id = self.ids.take("flowyard-step-error")
        return self._add(boundary)

    def _place_subprocesses(self) -> None:
        """A loop's subProcess encloses the loop node's place and its body (children first: no nesting)."""
        for element in list(self.elements.values()):
            if element.tag != "subProcess":
                continue
            boxes = [element.box] + [e.box for e in self.elements.values() if e.container == element.id]
            left = min(b[0] for b in boxes) - 30
            top = min(b[1] for b in boxes) - 30
            right = max(b[0] + b[2] for b in boxes) + 30
            bottom = max(b[1] + b[3] for b in boxes) + 30
            element.box = (left, top, right - left, bottom - top)
            for boundary in self.elements.values():
                if boundary.attached_to == element.id:
                    at = 0.75 if boundary.definition == "errorEventDefinition" else 0.25
                    boundary.box = (left + (right - left) * at - 18, bottom - 18, 36, 36)
            for flow in self.flows:  # its end event or split, placed before the box grew
                target = self.elements[flow.target]
                if flow.source == element.id and target.node is None:
                    _, _, w, h = target.box
                    target.box = (right + 60, top + (bottom - top) / 2 - h / 2, w, h)

    # -- XML

    def document(self) -> str:
        root = etree.Element(_q(BPMN, "definitions"), nsmap=NSMAP)
        root.set("id", self.definitions_id)
        root.set("targetNamespace", f"https://flowyard.dev/workflows/{self.process_id}")
        root.set("exporter", "Flowyard")
        root.set("exporterVersion", "1")
        for message_id, message_name in self.messages.values():
            etree.SubElement(root, _q(BPMN, "message"), id=message_id, name=_text(message_name))
        if self.error_id:
            etree.SubElement(
                root, _q(BPMN, "error"), id=self.error_id, name="Step failed", errorCode="FLOWYARD_STEP_FAILED"
            )
        process = etree.SubElement(root, _q(BPMN, "process"), id=self.process_id, isExecutable="false")
        if self.name:
            process.set("name", _text(self.name))
        self._fill(process, "")
        self._diagram(root)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True).decode()

    def _fill(self, parent: etree._Element, container: str) -> None:
        for element in self.elements.values():
            if element.container == container:
                self._write_element(parent, element)
        for flow in self.flows:
            if flow.container == container:
                self._write_flow(parent, flow)

    def _write_element(self, parent: etree._Element, element: _Element) -> None:
        xml = etree.SubElement(parent, _q(BPMN, element.tag), id=element.id)
        if element.name:
            xml.set("name", _text(element.name))
        if element.tag == "serviceTask" and element.node is not None:
            xml.set("implementation", NODE_TYPE_URI + element.node.type)
        if element.default and element.default != "pending":
            xml.set("default", element.default)
        if element.attached_to:
            xml.set("attachedToRef", element.attached_to)
            xml.set("cancelActivity", "true")
        if element.node is not None:
            self._extension(xml, element.node, with_position=element.tag == "subProcess")
        for flow_id in element.incoming:
            etree.SubElement(xml, _q(BPMN, "incoming")).text = flow_id
        for flow_id in element.outgoing:
            etree.SubElement(xml, _q(BPMN, "outgoing")).text = flow_id
        if element.definition:
            self._definition(xml, element)
        if element.tag == "subProcess":
            assert element.node is not None
            concurrency = element.node.config.get("concurrency", 10)
            etree.SubElement(
                xml, _q(BPMN, "multiInstanceLoopCharacteristics"), isSequential="true" if concurrency == 1 else "false"
            )
            self._fill(xml, element.id)

    def _extension(self, xml: etree._Element, node: Node, *, with_position: bool) -> None:
        extensions = etree.SubElement(xml, _q(BPMN, "extensionElements"))
        fy_node = etree.SubElement(extensions, _q(FY, "node"), node=_text(node.id), type=_text(node.type))
        if not node.label:  # the element's name is the node type's label
            fy_node.set("label", "")
        if with_position:
            fy_node.set("x", _num(node.position.x))
            fy_node.set("y", _num(node.position.y))
        for key, value in redact(node.config).items():
            etree.SubElement(fy_node, _q(FY, "config"), key=_text(str(key))).text = _json(value)

    def _definition(self, xml: etree._Element, element: _Element) -> None:
        node, definition = element.node, element.definition
        assert definition is not None
        if definition == "timerEventDefinition" and node is not None and node.type == "trigger.schedule":
            for spec in node.config.get("schedules") or [{}]:
                timer = etree.SubElement(xml, _q(BPMN, definition))
                if isinstance(spec, dict):
                    extensions = etree.SubElement(timer, _q(BPMN, "extensionElements"))
                    schedule = etree.SubElement(extensions, _q(FY, "schedule"))
                    for key in ("cron", "interval_minutes", "timezone"):
                        if spec.get(key) is not None:
                            schedule.set(key, _text(str(spec[key])))
                _expression(timer, "timeCycle", _time_cycle(spec))
            return
        event_definition = etree.SubElement(xml, _q(BPMN, definition))
        if definition == "messageEventDefinition":
            event_definition.set("messageRef", self.messages[element.id][0])
        elif definition == "conditionalEventDefinition" and node is not None:
            _expression(event_definition, "condition", _data_change_cel(node.config), CEL_LANGUAGE)
        elif definition == "errorEventDefinition" and self.error_id:
            event_definition.set("errorRef", self.error_id)
        elif definition == "timerEventDefinition" and node is not None:  # a delay
            kind, value = _delay_timer(node.config)
            _expression(event_definition, kind, value)
        elif definition == "timerEventDefinition" and element.attached_to:  # an approval's timeout
            host = self.elements[element.attached_to].node
            hours = host.config.get("timeout_hours", 72) if host is not None else 72
            _expression(
                event_definition, "timeDuration", f"PT{_num(float(hours))}H" if _is_number(hours) else str(hours)
            )

    def _write_flow(self, parent: etree._Element, flow: _Flow) -> None:
        xml = etree.SubElement(
            parent, _q(BPMN, "sequenceFlow"), id=flow.id, sourceRef=flow.source, targetRef=flow.target
        )
        if flow.name:
            xml.set("name", _text(flow.name))
        if flow.edge is not None:
            extensions = etree.SubElement(xml, _q(BPMN, "extensionElements"))
            fy_edge = etree.SubElement(extensions, _q(FY, "edge"), edge=_text(flow.edge.id))
            if flow.edge.source_handle is not None:
                fy_edge.set("handle", _text(flow.edge.source_handle))
        if flow.condition is not None:
            _expression(xml, "conditionExpression", flow.condition, flow.language)

    def _diagram(self, root: etree._Element) -> None:
        diagram = etree.SubElement(root, _q(BPMNDI, "BPMNDiagram"), id=self.ids.take(f"{self.process_id}-diagram"))
        plane = etree.SubElement(
            diagram, _q(BPMNDI, "BPMNPlane"), id=self.ids.take(f"{self.process_id}-plane"), bpmnElement=self.process_id
        )
        for element in self._walk(""):
            shape = etree.SubElement(
                plane, _q(BPMNDI, "BPMNShape"), id=self.ids.take(f"{element.id}-di"), bpmnElement=element.id
            )
            if element.tag == "exclusiveGateway":
                shape.set("isMarkerVisible", "true")
            if element.tag == "subProcess":
                shape.set("isExpanded", "true")
            x, y, w, h = element.box
            etree.SubElement(shape, _q(DC, "Bounds"), x=_num(x), y=_num(y), width=_num(w), height=_num(h))
        for flow in self._walk_flows(""):
            edge = etree.SubElement(
                plane, _q(BPMNDI, "BPMNEdge"), id=self.ids.take(f"{flow.id}-di"), bpmnElement=flow.id
            )
            for x, y in _waypoints(self.elements[flow.source].box, self.elements[flow.target].box):
                etree.SubElement(edge, _q(DI, "waypoint"), x=_num(x), y=_num(y))

    def _walk(self, container: str) -> Iterable[_Element]:
        for element in [e for e in self.elements.values() if e.container == container]:
            yield element
            if element.tag == "subProcess":
                yield from self._walk(element.id)

    def _walk_flows(self, container: str) -> Iterable[_Flow]:
        for element in [e for e in self.elements.values() if e.container == container]:
            if element.tag == "subProcess":
                yield from self._walk_flows(element.id)
        yield from (flow for flow in self.flows if flow.container == container)


def _expression(parent: etree._Element, tag: str, text: str, language: str | None = None) -> None:
    xml = etree.SubElement(parent, _q(BPMN, tag))
    xml.set(_q(XSI, "type"), "bpmn:tFormalExpression")
    if language:
        xml.set("language", language)
    xml.text = _text(text)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _message_name(node: Node) -> str:
    if node.type == "trigger.event" and isinstance(node.config.get("event"), str):
        return str(node.config["event"])
    return f"webhook {node.id}"


def _time_cycle(spec: Any) -> str:
    """A cron string as it is (engines such as Camunda read it; the standard has no cron), else R/PT<n>M."""
    if not isinstance(spec, dict):
        return ""
    if isinstance(spec.get("cron"), str):
        return str(spec["cron"])
    minutes = spec.get("interval_minutes")
    return f"R/PT{_num(minutes)}M" if isinstance(minutes, (int, float)) and not isinstance(minutes, bool) else ""


def _delay_timer(config: dict[str, Any]) -> tuple[str, str]:
    mode = config.get("mode", "duration")
    if mode == "until":
        return "timeDate", str(config.get("until") or "")
    if mode == "time_of_day":
        return "timeDate", f"T{config.get('time_of_day') or ''}"
    parts = {unit: config.get(unit, 0) for unit in ("days", "hours", "minutes", "seconds")}
    parts = {unit: float(value) for unit, value in parts.items() if _is_number(value) and value}
    text = "P" + (f"{_num(parts['days'])}D" if "days" in parts else "")
    clock = "".join(
        f"{_num(parts[unit])}{unit[0].upper()}" for unit in ("hours", "minutes", "seconds") if unit in parts
    )
    return "timeDuration", text + (f"T{clock}" if clock else "") if parts else "PT0S"


def _cel(node: Node) -> str:
    node_type = get_node_type(node.type)
    try:
        expressions = node_type.cel_expressions(node.config) if node_type and node_type.cel_expressions else []
    except Exception:  # an unfinished config: the raw expression if there is one
        return str(node.config.get("expression") or "")
    return expressions[0][1] if expressions else ""


def _case_cel(node: Node, case_name: str) -> str | None:
    cases = node.config.get("cases")
    if not isinstance(cases, list):
        return None
    node_type = get_node_type(node.type)
    try:
        expressions = node_type.cel_expressions(node.config) if node_type and node_type.cel_expressions else []
    except Exception:
        expressions = []
    for index, case in enumerate(cases):
        if isinstance(case, dict) and case.get("name") == case_name:
            if index < len(expressions):
                return expressions[index][1]
            return str(case.get("expression") or "")
    return None


def _data_change_cel(config: dict[str, Any]) -> str:
    """A readable CEL summary of a data-change trigger (the fy:config is what imports)."""
    terms = [f"{key} == {json.dumps(config[key])}" for key in ("record_type", "event") if config.get(key)]
    if config.get("field"):
        terms.append(f"{json.dumps(config['field'])} in changed_fields")
        if config.get("to") is not None and re.match(r"^[A-Za-z_]\w*$", str(config["field"])):
            terms.append(f"record.{config['field']} == {json.dumps(config['to'])}")
    if config.get("filter"):
        terms.append(f"({config['filter']})")
    return " && ".join(terms) or "true"


def _waypoints(
    source: tuple[float, float, float, float], target: tuple[float, float, float, float]
) -> list[tuple[float, float]]:
    """A straight line between the centres, cut at both borders."""
    sx, sy = source[0] + source[2] / 2, source[1] + source[3] / 2
    tx, ty = target[0] + target[2] / 2, target[1] + target[3] / 2
    return [_border(source, tx - sx, ty - sy), _border(target, sx - tx, sy - ty)]


def _border(box: tuple[float, float, float, float], dx: float, dy: float) -> tuple[float, float]:
    cx, cy, half_w, half_h = box[0] + box[2] / 2, box[1] + box[3] / 2, box[2] / 2, box[3] / 2
    if dx == 0 and dy == 0:
        return round(cx, 1), round(cy, 1)
    scale = min(half_w / abs(dx) if dx else float("inf"), half_h / abs(dy) if dy else float("inf"))
    return round(cx + dx * scale, 1), round(cy + dy * scale, 1)


# --- import ------------------------------------------------------------------------------------------------

_SKIPPED = {"extensionElements", "documentation", "incoming", "outgoing", "multiInstanceLoopCharacteristics"}
_SKIPPED |= {"ioSpecification", "property", "dataInputAssociation", "dataOutputAssociation", "auditing", "monitoring"}
_ROOTS_USED = {"process", "message", "error"}


def from_bpmn(xml: bytes | str) -> BpmnImport:
    """A graph from a BPMN 2.0 document; raises BpmnError (a ValueError) for hostile or non-BPMN input."""
    return _Importer(_parse(xml)).result()


def _parse(xml: bytes | str) -> etree._Element:
    """Parses without a DTD, entities, the network or libxml2's huge-document mode; refuses any DOCTYPE."""
    data = re.sub(r"^\s*<\?xml[^>]*\?>", "", xml).encode() if isinstance(xml, str) else bytes(xml)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise BpmnError(f"the document is larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB")
    if _declares_doctype(data):
        raise BpmnError(
            "the document declares a DOCTYPE (a DTD or entities, the way of entity bombs and external entities); "
            "BPMN needs neither, so it is refused"
        )
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise BpmnError(f"not well-formed XML: {exc}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise BpmnError("the document declares a DOCTYPE (entities or a DTD); BPMN needs neither, so it is refused")
    if any(isinstance(item, etree._Entity) for item in root.iter()):
        raise BpmnError("the document uses entity references; BPMN needs none, so it is refused")
    if sum(1 for _ in root.iter()) > MAX_ELEMENTS:
        raise BpmnError(f"the document has more than {MAX_ELEMENTS:,} elements")
    if root.tag != _q(BPMN, "definitions"):
        raise BpmnError(f"not a BPMN 2.0 document: the root element is {root.tag}, expected {{{BPMN}}}definitions")
    return root


def _declares_doctype(data: bytes) -> bool:
    """Checked before parsing, in the encodings XML allows without a declaration (the parser checks again)."""
    marker = "<!DOCTYPE"
    upper = data.upper()
    return any(
        marker.encode(encoding) in upper for encoding in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
    )


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _describe(element: etree._Element) -> str:
    name = element.get("name")
    return f"{_local(element)} '{element.get('id', '?')}'" + (f" ({name})" if name else "")


def _definitions(element: etree._Element) -> list[etree._Element]:
    return [
        child for child in element if _local(child).endswith("EventDefinition") and child.tag.startswith(f"{{{BPMN}}}")
    ]


def _expression_text(element: etree._Element | None) -> str | None:
    return None if element is None else (element.text or "").strip()


class _Importer:
    def __init__(self, root: etree._Element) -> None:
        self.root, self.unmapped = root, []
        self.kind: dict[str, tuple[Any, ...]] = {}  # element id -> ("node", node) | ("collapse",) | ...
        self.elements: dict[str, etree._Element] = {}
        self.flows: list[etree._Element] = []
        self.nodes: list[dict[str, Any]] = []
        self.foreign: set[str] = set()  # element ids of nodes mapped without fy:node
        self.container_of: dict[str, str] = {}  # element id -> "" (the process) or its subProcess's id
        self.case_of: dict[str, str] = {}  # flow id -> the case a foreign gateway's flow became
        self.shapes = {
            shape.get("bpmnElement"): bounds
            for shape in root.iter(_q(BPMNDI, "BPMNShape"))
            if (bounds := shape.find(_q(DC, "Bounds"))) is not None
        }
        self.messages = {m.get("id"): m.get("name") or "" for m in root.iter(_q(BPMN, "message"))}
        processes = root.findall(_q(BPMN, "process"))
        if not processes:
            raise BpmnError("the document has no process")
        self.unmapped += [
            f"process '{p.get('id')}': only the first process ('{processes[0].get('id')}') is imported"
            for p in processes[1:]
        ]
        self.unmapped += [
            f"{_describe(child)}: not imported"
            for child in root
            if child.tag.startswith(f"{{{BPMN}}}") and _local(child) not in _ROOTS_USED | {"extensionElements"}
        ]
        self.process = processes[0]

    def result(self) -> BpmnImport:
        self._collect(self.process, "")
        for element_id, element in self.elements.items():
            self._classify(element_id, element)
        edges = self._edges()
        self._adjust_foreign()
        return BpmnImport(graph={"version": 1, "nodes": self.nodes, "edges": edges}, unmapped=self.unmapped)

    # -- elements

    def _collect(self, container: etree._Element, container_id: str) -> None:
        for child in container:
            if not isinstance(child.tag, str) or not child.tag.startswith(f"{{{BPMN}}}"):
                continue
            tag = _local(child)
            if tag in _SKIPPED:
                continue
            if tag == "sequenceFlow":
                self.flows.append(child)
            elif child.get("id") and (tag.endswith(("Event", "Task", "Gateway")) or tag in _ACTIVITY_TAGS):
                self.elements[child.get("id")] = child
                self.container_of[child.get("id")] = container_id
                if tag == "subProcess" and self._is_loop(child):
                    self._collect(child, child.get("id"))
            else:
                self.unmapped.append(f"{_describe(child)}: not imported")

    @staticmethod
    def _is_loop(element: etree._Element) -> bool:
        return element.find(_q(BPMN, "multiInstanceLoopCharacteristics")) is not None

    def _classify(self, element_id: str, element: etree._Element) -> None:
        tag, fy_node = _local(element), element.find(f"{_q(BPMN, 'extensionElements')}/{_q(FY, 'node')}")
        if fy_node is not None:
            self._node(element, str(fy_node.get("type") or ""), self._fy_config(fy_node), fy_node)
            return
        definitions = [_local(d) for d in _definitions(element)]
        container = self.container_of.get(element_id)
        if tag == "startEvent" and container and not definitions:
            self.kind[element_id] = ("entry", container)
        elif tag == "startEvent":
            self._start_event(element, definitions)
        elif tag == "endEvent":
            self.kind[element_id] = ("drop",)
            if definitions:
                self.unmapped.append(f"{_describe(element)} ({', '.join(definitions)}): a path simply ends in Flowyard")
        elif tag == "boundaryEvent":
            self._boundary(element, definitions)
        elif tag in ("exclusiveGateway", "parallelGateway"):
            self._gateway(element, tag)
        elif tag == "intermediateCatchEvent" and definitions == ["timerEventDefinition"]:
            config = self._delay_config(element)
            if config is None:
                self._unmapped(element, "only a timeDuration or timeDate becomes a delay")
            else:
                self._foreign(element, "logic.delay", config)
        elif tag == "userTask":
            self._foreign(element, "logic.approval", {"message": element.get("name") or "Approve?"})
        elif tag == "serviceTask" and (element.get("implementation") or "").startswith(NODE_TYPE_URI):
            node_type = (element.get("implementation") or "")[len(NODE_TYPE_URI) :]
            if get_node_type(node_type) is None:
                self._unmapped(element, f"no Flowyard step '{node_type}'")
            else:
                self._foreign(element, node_type, {})
                self.unmapped.append(f"{_describe(element)}: imported as {node_type} without settings; fill them in")
        elif tag == "subProcess" and self._is_loop(element):
            sequential = element.find(_q(BPMN, "multiInstanceLoopCharacteristics")).get("isSequential") == "true"
            self._foreign(element, "logic.loop", {"items": [], **({"concurrency": 1} if sequential else {})})
            self.unmapped.append(f"{_describe(element)}: imported as a loop; choose the list it goes through")
        else:
            self._unmapped(element, "no Flowyard step for it")

    def _unmapped(self, element: etree._Element, why: str) -> None:
        self.kind[element.get("id")] = ("unmapped",)
        self.unmapped.append(f"{_describe(element)}: {why}")

    def _fy_config(self, fy_node: etree._Element) -> dict[str, Any]:
        config: dict[str, Any] = {}
        for item in fy_node.findall(_q(FY, "config")):
            key = str(item.get("key") or "")
            try:
                config[key] = json.loads(item.text or "null")
            except ValueError:
                self.unmapped.append(f"node '{fy_node.get('node')}': config.{key} is not JSON; left out")
                continue
            for path in _masked(config[key], key):
                self.unmapped.append(
                    f"node '{fy_node.get('node')}': config.{path} was masked on export; enter it again"
                )
        return config

    def _node(
        self, element: etree._Element, node_type: str, config: dict[str, Any], fy_node: etree._Element | None = None
    ) -> dict[str, Any]:
        element_id = element.get("id")
        kind = _KIND_OF.get(_local(element), "task")
        if fy_node is not None and fy_node.get("x") is not None:
            x, y = float(fy_node.get("x") or 0), float(fy_node.get("y") or 0)
        elif element_id in self.shapes:
            bounds = self.shapes[element_id]
            dx, dy = (0.0, 0.0) if _local(element) == "subProcess" else OFFSETS[kind]
            x, y = float(bounds.get("x") or 0) - dx, float(bounds.get("y") or 0) - dy
        else:
            x, y = 0.0, 0.0
        node = {
            "id": str(fy_node.get("node")) if fy_node is not None and fy_node.get("node") else element_id,
            "type": node_type,
            "label": fy_node.get("label")
            if fy_node is not None and fy_node.get("label") is not None
            else element.get("name") or "",
            "config": config,
            "position": {"x": x, "y": y},
        }
        self.kind[element_id] = ("node", node)
        self.nodes.append(node)
        return node

    def _foreign(self, element: etree._Element, node_type: str, config: dict[str, Any]) -> None:
        self._node(element, node_type, config)
        self.foreign.add(element.get("id"))

    def _start_event(self, element: etree._Element, definitions: list[str]) -> None:
        if not definitions:
            self._foreign(element, "trigger.manual", {})
        elif definitions == ["messageEventDefinition"]:
            message = self.messages.get(_definitions(element)[0].get("messageRef"), "")
            if _EVENT_NAME.match(message):
                self._foreign(element, "trigger.event", {"event": message})
            else:
                self._foreign(element, "trigger.webhook", {})
        elif set(definitions) == {"timerEventDefinition"}:
            schedules = [_schedule(timer) for timer in _definitions(element)]
            if all(schedules):
                self._foreign(element, "trigger.schedule", {"schedules": schedules})
            else:
                self._unmapped(element, "only a cron or an R/PT<n>M timeCycle becomes a schedule")
        elif definitions == ["conditionalEventDefinition"]:
            self._unmapped(element, "add a trigger.data_change and choose its record type and event in the builder")
        else:
            self._unmapped(element, f"no Flowyard trigger for {', '.join(definitions)}")

    def _boundary(self, element: etree._Element, definitions: list[str]) -> None:
        host_id = element.get("attachedToRef") or ""
        host = self.elements.get(host_id)
        if definitions == ["errorEventDefinition"]:
            self.kind[element.get("id")] = ("boundary", host_id, "error")
        elif definitions == ["timerEventDefinition"] and host is not None and _local(host) == "userTask":
            self.kind[element.get("id")] = ("boundary", host_id, "timeout")
        else:
            self._unmapped(element, "only error boundary events (and a timer on an approval) are imported")

    def _gateway(self, element: etree._Element, tag: str) -> None:
        element_id = element.get("id")
        outgoing = [flow for flow in self.flows if flow.get("sourceRef") == element_id]
        incoming = [flow for flow in self.flows if flow.get("targetRef") == element_id]
        if tag == "parallelGateway":
            if len(incoming) <= 1:
                self.kind[element_id] = ("collapse",)
            else:
                self._foreign(element, "logic.merge", {})
            return
        if len(outgoing) <= 1:
            self.kind[element_id] = ("collapse",)
            return
        default = element.get("default")
        conditioned = [
            f for f in outgoing if f.get("id") != default and f.find(_q(BPMN, "conditionExpression")) is not None
        ]
        for flow in conditioned:
            language = flow.find(_q(BPMN, "conditionExpression")).get("language")
            if language not in (None, CEL_LANGUAGE):
                self.unmapped.append(
                    f"sequenceFlow '{flow.get('id')}': its condition ({language}) was copied as CEL; check it"
                )
        if not conditioned:
            self._unmapped(element, "its outgoing flows have no conditions")
        elif len(conditioned) == 1 and len(outgoing) == 2:
            self._foreign(element, "logic.if", {"expression": _condition(conditioned[0])})
        else:
            names: list[str] = []
            for index, flow in enumerate(conditioned, start=1):
                name = re.sub(r"[^a-z0-9_]+", "_", (flow.get("name") or "").lower()).strip("_")[:40]
                names.append(
                    name if _CASE_NAME.match(name) and name not in {"default", "error", *names} else f"case_{index}"
                )
            cases = [
                {"name": name, "expression": _condition(flow)} for name, flow in zip(names, conditioned, strict=True)
            ]
            self._foreign(element, "logic.switch", {"cases": cases})
            self.case_of.update({flow.get("id"): name for flow, name in zip(conditioned, names, strict=True)})

    def _delay_config(self, element: etree._Element) -> dict[str, Any] | None:
        timer = _definitions(element)[0]
        duration = _expression_text(timer.find(_q(BPMN, "timeDuration")))
        date = _expression_text(timer.find(_q(BPMN, "timeDate")))
        if duration is not None:
            return _duration_config(duration)
        if date and re.match(r"^T([01]\d|2[0-3]):[0-5]\d$", date):
            return {"mode": "time_of_day", "time_of_day": date[1:]}
        return {"mode": "until", "until": date} if date else None

    # -- edges

    def _edges(self) -> list[dict[str, Any]]:
        incoming: dict[str, list[etree._Element]] = {}
        for flow in self.flows:
            incoming.setdefault(flow.get("targetRef") or "", []).append(flow)
        edges: list[dict[str, Any]] = []
        for flow in self.flows:
            target = self.kind.get(flow.get("targetRef") or "", ("unmapped",))
            if target[0] != "node":
                continue
            origins = self._origins(flow, incoming, set())
            fy_edge = flow.find(f"{_q(BPMN, 'extensionElements')}/{_q(FY, 'edge')}")
            edge_id = str(fy_edge.get("edge")) if fy_edge is not None and fy_edge.get("edge") else flow.get("id")
            for number, (source, handle) in enumerate(origins, start=1):
                if fy_edge is not None and len(origins) == 1:
                    handle = fy_edge.get("handle")
                edges.append(
                    {
                        "id": edge_id if number == 1 else f"{edge_id}-{number}",
                        "source": source,
                        "source_handle": handle,
                        "target": target[1]["id"],
                    }
                )
        return edges

    def _origins(
        self, flow: etree._Element, incoming: dict[str, list[etree._Element]], seen: set[str]
    ) -> list[tuple[str, str | None]]:
        source_id = flow.get("sourceRef") or ""
        source = self.kind.get(source_id, ("unmapped",))
        if source[0] == "node":
            return [(source[1]["id"], self._handle(source[1], self.elements[source_id], flow))]
        if source[0] in ("boundary", "entry"):
            host = self.kind.get(source[1], ("unmapped",))
            return [(host[1]["id"], source[2] if source[0] == "boundary" else "each")] if host[0] == "node" else []
        if source[0] == "collapse" and source_id not in seen:
            seen.add(source_id)
            return [
                origin for before in incoming.get(source_id, []) for origin in self._origins(before, incoming, seen)
            ]
        return []

    def _handle(self, node: dict[str, Any], element: etree._Element, flow: etree._Element) -> str | None:
        condition = flow.find(_q(BPMN, "conditionExpression"))
        if condition is not None and condition.get("language") == HANDLE_LANGUAGE:
            return _expression_text(condition)
        is_default = element.get("default") == flow.get("id")
        if node["type"] == "logic.if":
            return "true" if condition is not None and not is_default else "false"
        if node["type"] == "logic.switch":
            return "default" if is_default or condition is None else self.case_of.get(flow.get("id"), flow.get("name"))
        if node["type"] == "logic.approval":
            text = f"{flow.get('name') or ''} {_expression_text(condition) or ''}".lower()
            return "rejected" if "reject" in text else "timeout" if "timeout" in text else "approved"
        if node["type"] == "logic.loop":
            return "done"
        return None

    def _adjust_foreign(self) -> None:
        """An approval imported from another tool takes its timeout from a timer boundary event."""
        for element_id, kind in self.kind.items():
            if kind[0] == "boundary" and kind[2] == "timeout" and kind[1] in self.foreign:
                timer = _definitions(self.elements[element_id])[0]
                hours = _duration_hours(_expression_text(timer.find(_q(BPMN, "timeDuration"))) or "")
                if hours:
                    self.kind[kind[1]][1]["config"]["timeout_hours"] = hours


_ACTIVITY_TAGS = {"subProcess", "callActivity", "transaction", "adHocSubProcess"}


def _condition(flow: etree._Element) -> str:
    text = _expression_text(flow.find(_q(BPMN, "conditionExpression"))) or ""
    juel = re.match(r"^\$\{(.*)\}$", text, re.S)
    return juel.group(1).strip() if juel else text


def _masked(value: Any, path: str) -> list[str]:
    if value == MASK:
        return [path]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _masked(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in _masked(item, f"{path}[{index}]")]
    return []


def _duration_parts(text: str) -> dict[str, float] | None:
    match = _DURATION.match(text.strip())
    if not match or text.strip() in ("P", "PT"):
        return None
    parts = {unit: float(value) for unit, value in match.groupdict().items() if value is not None}
    if "weeks" in parts:
        parts["days"] = parts.get("days", 0) + 7 * parts.pop("weeks")
    return parts


def _duration_config(text: str) -> dict[str, Any] | None:
    parts = _duration_parts(text)
    if parts is None:
        return None
    return {"mode": "duration", **{unit: int(v) if v.is_integer() else v for unit, v in parts.items() if v}}


def _duration_hours(text: str) -> float | None:
    parts = _duration_parts(text)
    if not parts:
        return None
    factor = {"days": 24, "hours": 1, "minutes": 1 / 60, "seconds": 1 / 3600}
    hours = sum(value * factor[unit] for unit, value in parts.items())
    return hours or None


def _schedule(timer: etree._Element) -> dict[str, Any] | None:
    fy_schedule = timer.find(f"{_q(BPMN, 'extensionElements')}/{_q(FY, 'schedule')}")
    if fy_schedule is not None and (fy_schedule.get("cron") or fy_schedule.get("interval_minutes")):
        spec: dict[str, Any] = {}
        if fy_schedule.get("cron"):
            spec["cron"] = fy_schedule.get("cron")
        else:
            spec["interval_minutes"] = float(fy_schedule.get("interval_minutes") or 0)
        if fy_schedule.get("timezone"):
            spec["timezone"] = fy_schedule.get("timezone")
        return spec
    cycle = _expression_text(timer.find(_q(BPMN, "timeCycle"))) or ""
    if len(cycle.split()) == 5:
        return {"cron": cycle}
    repeat = re.match(r"^R\d*/(?:[^/]+/)?(P.*)$", cycle)
    parts = _duration_parts(repeat.group(1)) if repeat else None
    if not parts:
        return None
    factor = {"days": 24 * 60, "hours": 60, "minutes": 1, "seconds": 1 / 60}
    minutes = sum(value * factor[unit] for unit, value in parts.items())
    return {"interval_minutes": int(minutes) if float(minutes).is_integer() else minutes} if minutes >= 1 else None
