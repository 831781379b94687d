"""A workflow graph written as BPMN 2.0 XML with diagram shapes at the canvas positions."""

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
from flow_factory.redact import redact
from platform_api.workflows.bpmn.vocabulary import (
    ACTIVITIES,
    BPMN,
    BPMNDI,
    CEL_LANGUAGE,
    DC,
    DI,
    ELEMENT_OF,
    FY,
    HANDLE_LANGUAGE,
    KIND_OF,
    NODE_TYPE_URI,
    NSMAP,
    OFFSETS,
    SAFE_ID,
    SIZES,
    TRIGGER_DEFINITION,
    XSI,
    json_text,
    number_text,
    qname,
    xml_text,
)


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
        if not SAFE_ID.match(candidate):
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
            tag = ELEMENT_OF.get(node.type, "serviceTask")
            node_type = get_node_type(node.type)
            if node.type in TRIGGER_DEFINITION or (node_type is not None and node_type.is_trigger):
                tag = "startEvent"
            name = node.label or (node_type.label if node_type is not None else node.type)  # an unnamed step: its kind
            element = _Element(element_id, tag, container_of.get(node.id, ""), node=node, name=name)
            element.definition = TRIGGER_DEFINITION.get(node.type) if tag == "startEvent" else None
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
        kind = KIND_OF.get(tag, "task")
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
        elif (handle == "error" and node_element.tag in ACTIVITIES) or (
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
        root = etree.Element(qname(BPMN, "definitions"), nsmap=NSMAP)
        root.set("id", self.definitions_id)
        root.set("targetNamespace", f"https://flowyard.dev/workflows/{self.process_id}")
        root.set("exporter", "Flowyard")
        root.set("exporterVersion", "1")
        for message_id, message_name in self.messages.values():
            etree.SubElement(root, qname(BPMN, "message"), id=message_id, name=xml_text(message_name))
        if self.error_id:
            etree.SubElement(
                root, qname(BPMN, "error"), id=self.error_id, name="Step failed", errorCode="FLOWYARD_STEP_FAILED"
            )
        process = etree.SubElement(root, qname(BPMN, "process"), id=self.process_id, isExecutable="false")
        if self.name:
            process.set("name", xml_text(self.name))
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
        xml = etree.SubElement(parent, qname(BPMN, element.tag), id=element.id)
        if element.name:
            xml.set("name", xml_text(element.name))
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
            etree.SubElement(xml, qname(BPMN, "incoming")).text = flow_id
        for flow_id in element.outgoing:
            etree.SubElement(xml, qname(BPMN, "outgoing")).text = flow_id
        if element.definition:
            self._definition(xml, element)
        if element.tag == "subProcess":
            assert element.node is not None
            concurrency = element.node.config.get("concurrency", 10)
            etree.SubElement(
                xml,
                qname(BPMN, "multiInstanceLoopCharacteristics"),
                isSequential="true" if concurrency == 1 else "false",
            )
            self._fill(xml, element.id)

    def _extension(self, xml: etree._Element, node: Node, *, with_position: bool) -> None:
        extensions = etree.SubElement(xml, qname(BPMN, "extensionElements"))
        fy_node = etree.SubElement(extensions, qname(FY, "node"), node=xml_text(node.id), type=xml_text(node.type))
        if not node.label:  # the element's name is the node type's label
            fy_node.set("label", "")
        if node.disabled:  # BPMN has no disabled element: only Flowyard reads this
            fy_node.set("disabled", "true")
        if with_position:
            fy_node.set("x", number_text(node.position.x))
            fy_node.set("y", number_text(node.position.y))
        for key, value in redact(node.config).items():
            etree.SubElement(fy_node, qname(FY, "config"), key=xml_text(str(key))).text = json_text(value)

    def _definition(self, xml: etree._Element, element: _Element) -> None:
        node, definition = element.node, element.definition
        assert definition is not None
        if definition == "timerEventDefinition" and node is not None and node.type == "trigger.schedule":
            for spec in node.config.get("schedules") or [{}]:
                timer = etree.SubElement(xml, qname(BPMN, definition))
                if isinstance(spec, dict):
                    extensions = etree.SubElement(timer, qname(BPMN, "extensionElements"))
                    schedule = etree.SubElement(extensions, qname(FY, "schedule"))
                    for key in ("cron", "interval_minutes", "timezone"):
                        if spec.get(key) is not None:
                            schedule.set(key, xml_text(str(spec[key])))
                _expression(timer, "timeCycle", _time_cycle(spec))
            return
        event_definition = etree.SubElement(xml, qname(BPMN, definition))
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
                event_definition, "timeDuration", f"PT{number_text(float(hours))}H" if _is_number(hours) else str(hours)
            )

    def _write_flow(self, parent: etree._Element, flow: _Flow) -> None:
        xml = etree.SubElement(
            parent, qname(BPMN, "sequenceFlow"), id=flow.id, sourceRef=flow.source, targetRef=flow.target
        )
        if flow.name:
            xml.set("name", xml_text(flow.name))
        if flow.edge is not None:
            extensions = etree.SubElement(xml, qname(BPMN, "extensionElements"))
            fy_edge = etree.SubElement(extensions, qname(FY, "edge"), edge=xml_text(flow.edge.id))
            if flow.edge.source_handle is not None:
                fy_edge.set("handle", xml_text(flow.edge.source_handle))
        if flow.condition is not None:
            _expression(xml, "conditionExpression", flow.condition, flow.language)

    def _diagram(self, root: etree._Element) -> None:
        diagram = etree.SubElement(root, qname(BPMNDI, "BPMNDiagram"), id=self.ids.take(f"{self.process_id}-diagram"))
        plane = etree.SubElement(
            diagram,
            qname(BPMNDI, "BPMNPlane"),
            id=self.ids.take(f"{self.process_id}-plane"),
            bpmnElement=self.process_id,
        )
        for element in self._walk(""):
            shape = etree.SubElement(
                plane, qname(BPMNDI, "BPMNShape"), id=self.ids.take(f"{element.id}-di"), bpmnElement=element.id
            )
            if element.tag == "exclusiveGateway":
                shape.set("isMarkerVisible", "true")
            if element.tag == "subProcess":
                shape.set("isExpanded", "true")
            x, y, w, h = element.box
            etree.SubElement(
                shape,
                qname(DC, "Bounds"),
                x=number_text(x),
                y=number_text(y),
                width=number_text(w),
                height=number_text(h),
            )
        for flow in self._walk_flows(""):
            edge = etree.SubElement(
                plane, qname(BPMNDI, "BPMNEdge"), id=self.ids.take(f"{flow.id}-di"), bpmnElement=flow.id
            )
            for x, y in _waypoints(self.elements[flow.source].box, self.elements[flow.target].box):
                etree.SubElement(edge, qname(DI, "waypoint"), x=number_text(x), y=number_text(y))

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
    xml = etree.SubElement(parent, qname(BPMN, tag))
    xml.set(qname(XSI, "type"), "bpmn:tFormalExpression")
    if language:
        xml.set("language", language)
    xml.text = xml_text(text)


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
    return f"R/PT{number_text(minutes)}M" if isinstance(minutes, (int, float)) and not isinstance(minutes, bool) else ""


def _delay_timer(config: dict[str, Any]) -> tuple[str, str]:
    mode = config.get("mode", "duration")
    if mode == "until":
        return "timeDate", str(config.get("until") or "")
    if mode == "time_of_day":
        return "timeDate", f"T{config.get('time_of_day') or ''}"
    parts = {unit: config.get(unit, 0) for unit in ("days", "hours", "minutes", "seconds")}
    parts = {unit: float(value) for unit, value in parts.items() if _is_number(value) and value}
    text = "P" + (f"{number_text(parts['days'])}D" if "days" in parts else "")
    clock = "".join(
        f"{number_text(parts[unit])}{unit[0].upper()}" for unit in ("hours", "minutes", "seconds") if unit in parts
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
