"""The BPMN and Flowyard names both directions share: namespaces, element kinds, limits, XML-safe text."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

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

SAFE_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")  # NCName and what bpmn-js accepts
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
CASE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
EVENT_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")

SIZES = {"task": (100.0, 80.0), "event": (36.0, 36.0), "gateway": (50.0, 50.0)}
# A node's canvas position is the top-left of a task-sized cell; smaller shapes sit in its middle.
OFFSETS = {kind: ((100 - w) / 2, (80 - h) / 2) for kind, (w, h) in SIZES.items()}
TRIGGER_DEFINITION = {
    "trigger.schedule": "timerEventDefinition",
    "trigger.webhook": "messageEventDefinition",
    "trigger.event": "messageEventDefinition",
    "trigger.data_change": "conditionalEventDefinition",
}
ELEMENT_OF = {
    "logic.if": "exclusiveGateway",
    "logic.switch": "exclusiveGateway",
    "logic.merge": "parallelGateway",
    "logic.delay": "intermediateCatchEvent",
    "logic.approval": "userTask",
    "logic.loop": "subProcess",
}
KIND_OF = {
    "startEvent": "event",
    "endEvent": "event",
    "intermediateCatchEvent": "event",
    "boundaryEvent": "event",
    "exclusiveGateway": "gateway",
    "parallelGateway": "gateway",
}
ACTIVITIES = {"serviceTask", "userTask", "subProcess"}


class BpmnError(ValueError):
    """The document cannot be imported (not XML, hostile XML, not BPMN); the route answers 422."""


@dataclass
class BpmnImport:
    """A graph made from a BPMN document, and what of the document it leaves out (human-readable)."""

    graph: dict[str, Any]
    unmapped: list[str] = field(default_factory=list)
    process_id: str = ""  # the (first) process's id and name
    process_name: str = ""


def qname(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


def xml_text(value: str) -> str:
    """Characters XML 1.0 cannot hold are dropped (they cannot be written at all)."""
    return NOT_XML.sub("", value)


def json_text(value: Any) -> str:
    """JSON text that XML can hold: characters XML forbids are written as JSON escapes."""
    return NOT_XML.sub(lambda match: f"\\u{ord(match.group(0)):04x}", json.dumps(value, ensure_ascii=False))


def number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
