"""A BPMN 2.0 document read back into a workflow graph, as far as its elements have a Flowyard meaning."""

from __future__ import annotations

import json
import re
from typing import Any

from lxml import etree

from flow_factory.nodes import get_node_type
from flow_factory.redact import MASK
from platform_api.workflows.bpmn.vocabulary import (
    BPMN,
    BPMNDI,
    CASE_NAME,
    CEL_LANGUAGE,
    DC,
    DURATION,
    EVENT_NAME,
    FY,
    HANDLE_LANGUAGE,
    KIND_OF,
    MAX_DOCUMENT_BYTES,
    MAX_ELEMENTS,
    NODE_TYPE_URI,
    OFFSETS,
    BpmnError,
    BpmnImport,
    qname,
)

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
    if root.tag != qname(BPMN, "definitions"):
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
            for shape in root.iter(qname(BPMNDI, "BPMNShape"))
            if (bounds := shape.find(qname(DC, "Bounds"))) is not None
        }
        self.messages = {m.get("id"): m.get("name") or "" for m in root.iter(qname(BPMN, "message"))}
        processes = root.findall(qname(BPMN, "process"))
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
        return BpmnImport(
            graph={"version": 1, "nodes": self.nodes, "edges": edges},
            unmapped=self.unmapped,
            process_id=str(self.process.get("id") or ""),
            process_name=str(self.process.get("name") or ""),
        )

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
        return element.find(qname(BPMN, "multiInstanceLoopCharacteristics")) is not None

    def _classify(self, element_id: str, element: etree._Element) -> None:
        tag, fy_node = _local(element), element.find(f"{qname(BPMN, 'extensionElements')}/{qname(FY, 'node')}")
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
            sequential = element.find(qname(BPMN, "multiInstanceLoopCharacteristics")).get("isSequential") == "true"
            self._foreign(element, "logic.loop", {"items": [], **({"concurrency": 1} if sequential else {})})
            self.unmapped.append(f"{_describe(element)}: imported as a loop; choose the list it goes through")
        else:
            self._unmapped(element, "no Flowyard step for it")

    def _unmapped(self, element: etree._Element, why: str) -> None:
        self.kind[element.get("id")] = ("unmapped",)
        self.unmapped.append(f"{_describe(element)}: {why}")

    def _fy_config(self, fy_node: etree._Element) -> dict[str, Any]:
        config: dict[str, Any] = {}
        for item in fy_node.findall(qname(FY, "config")):
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
        kind = KIND_OF.get(_local(element), "task")
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
        if fy_node is not None and fy_node.get("disabled") == "true":
            node["disabled"] = True
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
            if EVENT_NAME.match(message):
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
            f for f in outgoing if f.get("id") != default and f.find(qname(BPMN, "conditionExpression")) is not None
        ]
        for flow in conditioned:
            language = flow.find(qname(BPMN, "conditionExpression")).get("language")
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
                    name if CASE_NAME.match(name) and name not in {"default", "error", *names} else f"case_{index}"
                )
            cases = [
                {"name": name, "expression": _condition(flow)} for name, flow in zip(names, conditioned, strict=True)
            ]
            self._foreign(element, "logic.switch", {"cases": cases})
            self.case_of.update({flow.get("id"): name for flow, name in zip(conditioned, names, strict=True)})

    def _delay_config(self, element: etree._Element) -> dict[str, Any] | None:
        timer = _definitions(element)[0]
        duration = _expression_text(timer.find(qname(BPMN, "timeDuration")))
        date = _expression_text(timer.find(qname(BPMN, "timeDate")))
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
            fy_edge = flow.find(f"{qname(BPMN, 'extensionElements')}/{qname(FY, 'edge')}")
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
        condition = flow.find(qname(BPMN, "conditionExpression"))
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
                hours = _duration_hours(_expression_text(timer.find(qname(BPMN, "timeDuration"))) or "")
                if hours:
                    self.kind[kind[1]][1]["config"]["timeout_hours"] = hours


_ACTIVITY_TAGS = {"subProcess", "callActivity", "transaction", "adHocSubProcess"}


def _condition(flow: etree._Element) -> str:
    text = _expression_text(flow.find(qname(BPMN, "conditionExpression"))) or ""
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
    match = DURATION.match(text.strip())
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
    fy_schedule = timer.find(f"{qname(BPMN, 'extensionElements')}/{qname(FY, 'schedule')}")
    if fy_schedule is not None and (fy_schedule.get("cron") or fy_schedule.get("interval_minutes")):
        spec: dict[str, Any] = {}
        if fy_schedule.get("cron"):
            spec["cron"] = fy_schedule.get("cron")
        else:
            spec["interval_minutes"] = float(fy_schedule.get("interval_minutes") or 0)
        if fy_schedule.get("timezone"):
            spec["timezone"] = fy_schedule.get("timezone")
        return spec
    cycle = _expression_text(timer.find(qname(BPMN, "timeCycle"))) or ""
    if len(cycle.split()) == 5:
        return {"cron": cycle}
    repeat = re.match(r"^R\d*/(?:[^/]+/)?(P.*)$", cycle)
    parts = _duration_parts(repeat.group(1)) if repeat else None
    if not parts:
        return None
    factor = {"days": 24 * 60, "hours": 60, "minutes": 1, "seconds": 1 / 60}
    minutes = sum(value * factor[unit] for unit, value in parts.items())
    return {"interval_minutes": int(minutes) if float(minutes).is_integer() else minutes} if minutes >= 1 else None
