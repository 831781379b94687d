"""BPMN 2.0 export and import (platform_api.workflows.bpmn): pure functions, no stack.

Every export is checked against the unchanged OMG schema, kept outside the repository (see docs/bpmn.md);
FLOWYARD_BPMN_XSD points elsewhere. Without it these tests skip, and fail in CI.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from catalog import definition as defs
from catalog import params
from catalog.loader import load_all
from flow_factory.graph import Graph
from flow_factory.redact import MASK
from flow_factory.validation import validate_graph
from platform_api.workflows.bpmn import BpmnError, from_bpmn, to_bpmn
from platform_api.workflows.bpmn.vocabulary import CEL_LANGUAGE, FY, NODE_TYPE_URI

XSD_ENV = "FLOWYARD_BPMN_XSD"
DEFAULT_XSD = Path(__file__).parents[2].parent / "shared/reference/bpmn20-xsd/BPMN20.xsd"
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "fy": FY,
}
BPMN_JS_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
TEMPLATES = load_all()


@pytest.fixture(scope="session")
def bpmn_schema() -> etree.XMLSchema:
    path = Path(os.environ.get(XSD_ENV) or DEFAULT_XSD)
    if not path.is_file():
        message = f"the OMG BPMN 2.0 schema is not at {path} (set {XSD_ENV})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return etree.XMLSchema(etree.parse(str(path)))


def template_graph(template: Any) -> dict[str, Any]:
    graph = defs.render(template.model_dump(mode="json"), params.resolve(template.parameters, {}))
    for index, _kind in defs.connection_slots(graph):
        graph["nodes"][index]["config"]["connection"] = "conn_1"
    return graph


def parse(xml: str) -> etree._Element:
    return etree.fromstring(xml.encode())


def check_document(xml: str, schema: etree.XMLSchema) -> etree._Element:
    """The schema, and what it does not check: references resolve, one DI per element, ids bpmn-js accepts."""
    root = parse(xml)
    assert schema.validate(root), schema.error_log
    ids = [element.get("id") for element in root.iter() if element.get("id") is not None]
    assert len(ids) == len(set(ids))
    assert all(BPMN_JS_ID.match(i) for i in ids), ids
    known = set(ids)
    fy_ids = {e.get("node") or e.get("edge") for e in root.iter(f"{{{FY}}}node", f"{{{FY}}}edge")}
    for element in root.iter():
        for attribute in (
            "sourceRef",
            "targetRef",
            "default",
            "attachedToRef",
            "errorRef",
            "messageRef",
            "bpmnElement",
        ):
            if element.get(attribute) is not None:
                assert element.get(attribute) in known, (element.tag, attribute, element.get(attribute))
    for tag in ("incoming", "outgoing"):
        for ref in root.iterfind(f".//bpmn:{tag}", NS):
            assert ref.text in known
    for flow in root.iterfind(".//bpmn:sequenceFlow", NS):
        source = root.find(f".//*[@id='{flow.get('sourceRef')}']")
        target = root.find(f".//*[@id='{flow.get('targetRef')}']")
        assert flow.get("id") in [o.text for o in source.iterfind("bpmn:outgoing", NS)]
        assert flow.get("id") in [i.text for i in target.iterfind("bpmn:incoming", NS)]
    process = root.find("bpmn:process", NS)
    drawn = [di.get("bpmnElement") for di in root.iterfind(".//bpmndi:BPMNShape", NS)]
    drawn += [di.get("bpmnElement") for di in root.iterfind(".//bpmndi:BPMNEdge", NS)]
    semantic = [
        element.get("id")
        for element in process.iter()
        if etree.QName(element).namespace == NS["bpmn"]
        and etree.QName(element).localname.endswith(("Event", "Task", "Gateway", "subProcess", "sequenceFlow"))
        and not etree.QName(element).localname.endswith("EventDefinition")
    ]
    assert sorted(drawn) == sorted(semantic)
    for start in process.iterfind(".//bpmn:startEvent", NS):
        assert start.find("bpmn:incoming", NS) is None
    for gateway in process.iterfind(".//bpmn:exclusiveGateway[@default]", NS):
        assert gateway.get("default") in [o.text for o in gateway.iterfind("bpmn:outgoing", NS)]
    assert fy_ids  # every export carries the graph's own ids
    return root


def same_graph(before: dict[str, Any], after: dict[str, Any]) -> None:
    a, b = Graph.model_validate(before).model_dump(), Graph.model_validate(after).model_dump()
    assert {n["id"]: n for n in b["nodes"]} == {n["id"]: n for n in a["nodes"]}
    assert {e["id"]: e for e in b["edges"]} == {e["id"]: e for e in a["edges"]}
    assert len(b["nodes"]) == len(a["nodes"]) and len(b["edges"]) == len(a["edges"])


# --- the catalog ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.slug)
def test_every_template_exports_valid_bpmn(template, bpmn_schema):
    xml = to_bpmn(template_graph(template), process_id=template.slug, name=template.title)
    root = check_document(xml, bpmn_schema)
    assert root.find("bpmn:process", NS).get("name") == template.title


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.slug)
def test_every_template_round_trips(template):
    graph = template_graph(template)
    xml = to_bpmn(graph, process_id=template.slug, name=template.title)
    imported = from_bpmn(xml)
    assert imported.unmapped == []
    same_graph(graph, imported.graph)
    assert validate_graph(imported.graph) == []
    assert to_bpmn(imported.graph, process_id=template.slug, name=template.title) == xml


# --- the mapping --------------------------------------------------------------------------------------


def node(node_id: str, node_type: str, config: dict[str, Any], x: float, y: float, label: str = "") -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "label": label, "config": config, "position": {"x": x, "y": y}}


def edge(source: str, target: str, handle: str | None = None) -> dict[str, Any]:
    return {"id": f"{source}-{handle or 'out'}-{target}", "source": source, "source_handle": handle, "target": target}


def every_construct() -> dict[str, Any]:
    """One valid graph with an action, an error path, if, switch, an approval with all three paths, a
    parallel split and merge, both kinds of delay and a loop."""
    log = "util.log"
    nodes = [
        node("start", "trigger.manual", {"sample": {"amount": 150, "items": [1, 2]}}, 0, 0, "Order"),
        node("fetch", "http.request", {"url": "https://api.example.com/orders", "method": "GET"}, 280, 0, "Fetch"),
        node("failed", log, {"message": "failed"}, 560, 480),
        node("check", "logic.if", {"expression": "trigger.amount > 100"}, 560, 0, "Big?"),
        node("approve", "logic.approval", {"message": "Ship {{ trigger.amount }}?", "timeout_hours": 24}, 840, 0),
        node(
            "route",
            "logic.switch",
            {"cases": [{"name": "vip", "expression": "trigger.amount > 50"}, {"name": "small", "expression": "true"}]},
            840,
            240,
        ),
        node("notify_a", log, {"message": "a"}, 1120, 0),
        node("notify_b", log, {"message": "b"}, 1120, 160),
        node("join", "logic.merge", {"mode": "all"}, 1400, 80),
        node("wait", "logic.delay", {"mode": "duration", "days": 1, "hours": 2}, 1680, 80, "Wait"),
        node("each", "logic.loop", {"items": "{{ trigger.items }}", "concurrency": 1}, 1960, 80, "Each item"),
        node("item_log", log, {"message": "{{ loop.item }}"}, 2240, 80),
        node("done_log", log, {"message": "{{ steps.each.output.count }} items"}, 2520, 80),
        node("vip_log", log, {"message": "vip"}, 1120, 320),
        node("until", "logic.delay", {"mode": "until", "until": "2026-12-24T09:00:00"}, 1120, 480),
        node("small_log", log, {"message": "small"}, 1400, 480),
    ]
    edges = [
        edge("start", "fetch"),
        edge("fetch", "check"),
        edge("fetch", "failed", "error"),
        edge("check", "approve", "true"),
        edge("check", "route", "false"),
        edge("approve", "notify_a", "approved"),
        edge("approve", "notify_b", "approved"),
        edge("approve", "failed", "rejected"),
        edge("approve", "failed", "timeout"),
        edge("notify_a", "join"),
        edge("notify_b", "join"),
        edge("join", "wait"),
        edge("wait", "each"),
        edge("each", "item_log", "each"),
        edge("each", "done_log", "done"),
        edge("route", "vip_log", "vip"),
        edge("route", "until", "small"),
        edge("route", "until", "default"),
        edge("until", "small_log"),
        edge("check", "failed", "error"),  # a gateway and a delay cannot hold a boundary event
        edge("wait", "failed", "error"),
        edge("each", "failed", "error"),
    ]
    graph = {"version": 1, "nodes": nodes, "edges": edges}
    assert validate_graph(graph) == []
    return graph


@pytest.fixture(scope="module")
def construct_xml() -> str:
    return to_bpmn(every_construct(), process_id="wf_every", name="Every construct")


def one(root: etree._Element, path: str) -> etree._Element:
    found = root.xpath(path, namespaces=NS)
    assert len(found) == 1, (path, found)
    return found[0]


def test_every_construct_is_valid_bpmn(construct_xml, bpmn_schema):
    check_document(construct_xml, bpmn_schema)


def test_actions_become_service_tasks_with_their_type_and_config(construct_xml):
    root = parse(construct_xml)
    task = one(root, "//bpmn:process/bpmn:serviceTask[@id='fetch']")
    assert task.get("implementation") == NODE_TYPE_URI + "http.request"
    assert task.get("name") == "Fetch"
    assert one(task, "bpmn:extensionElements/fy:node").attrib == {"node": "fetch", "type": "http.request"}
    unnamed = one(root, "//bpmn:serviceTask[@id='failed']")  # no label: the node type's, kept apart
    assert unnamed.get("name") == "Log" and one(unnamed, "bpmn:extensionElements/fy:node").get("label") == ""
    assert one(task, "bpmn:extensionElements/fy:node/fy:config[@key='url']").text == '"https://api.example.com/orders"'


def test_conditions_become_exclusive_gateways_with_cel_and_a_default(construct_xml):
    root = parse(construct_xml)
    gateway = one(root, "//bpmn:exclusiveGateway[@id='check']")
    condition = one(root, "//bpmn:sequenceFlow[@sourceRef='check' and @targetRef='approve']/bpmn:conditionExpression")
    assert condition.text == "trigger.amount > 100"
    assert condition.get("language") == CEL_LANGUAGE
    assert condition.get("{http://www.w3.org/2001/XMLSchema-instance}type") == "bpmn:tFormalExpression"
    default = one(root, f"//bpmn:sequenceFlow[@id='{gateway.get('default')}']")
    assert default.get("targetRef") == "route" and default.find("bpmn:conditionExpression", NS) is None
    switch = one(root, "//bpmn:exclusiveGateway[@id='route']")
    vip = one(root, "//bpmn:sequenceFlow[@sourceRef='route' and @name='vip']/bpmn:conditionExpression")
    assert vip.text == "trigger.amount > 50"
    assert one(root, f"//bpmn:sequenceFlow[@id='{switch.get('default')}']").get("name") == "default"
    # the case `small` and the default both lead to `until`: one flow each, no condition on the default
    assert len(root.xpath("//bpmn:sequenceFlow[@sourceRef='route' and @targetRef='until']", namespaces=NS)) == 2
    assert one(root, "//bpmndi:BPMNShape[@bpmnElement='check']").get("isMarkerVisible") == "true"


def test_a_fan_out_splits_and_a_merge_joins_with_parallel_gateways(construct_xml):
    root = parse(construct_xml)
    join = one(root, "//bpmn:parallelGateway[@id='join']")
    assert len(join.findall("bpmn:incoming", NS)) == 2 and one(join, "bpmn:extensionElements/fy:node").get("type")
    split_flow = one(root, "//bpmn:sequenceFlow[@sourceRef='approve' and @name='approved']")
    split = one(root, f"//bpmn:parallelGateway[@id='{split_flow.get('targetRef')}']")
    targets = {
        f.get("targetRef") for f in root.xpath(f"//bpmn:sequenceFlow[@sourceRef='{split.get('id')}']", namespaces=NS)
    }
    assert targets == {"notify_a", "notify_b"}


def test_delays_become_timer_catch_events(construct_xml):
    root = parse(construct_xml)
    assert one(root, "//bpmn:intermediateCatchEvent[@id='wait']//bpmn:timeDuration").text == "P1DT2H"
    assert one(root, "//bpmn:intermediateCatchEvent[@id='until']//bpmn:timeDate").text == "2026-12-24T09:00:00"


def test_approvals_become_user_tasks_with_a_timeout_timer(construct_xml):
    root = parse(construct_xml)
    one(root, "//bpmn:userTask[@id='approve']")
    timer = one(root, "//bpmn:boundaryEvent[@attachedToRef='approve']")
    assert one(timer, "bpmn:timerEventDefinition/bpmn:timeDuration").text == "PT24H"
    assert one(root, f"//bpmn:sequenceFlow[@sourceRef='{timer.get('id')}']").get("targetRef") == "failed"
    rejected = one(root, "//bpmn:sequenceFlow[@sourceRef='approve' and @name='rejected']/bpmn:conditionExpression")
    assert rejected.text == 'steps.approve.output.decision == "rejected"'


def test_error_paths_become_error_boundary_events(construct_xml):
    root = parse(construct_xml)
    boundary = one(root, "//bpmn:process/bpmn:boundaryEvent[@attachedToRef='fetch']")
    error = one(root, "/bpmn:definitions/bpmn:error")
    assert one(boundary, "bpmn:errorEventDefinition").get("errorRef") == error.get("id")
    assert boundary.get("cancelActivity") == "true"
    assert one(root, f"//bpmn:sequenceFlow[@sourceRef='{boundary.get('id')}']").get("targetRef") == "failed"


def test_error_paths_of_gateways_and_events_are_named_flows(construct_xml):
    root = parse(construct_xml)
    for source in ("check", "wait"):
        condition = one(root, f"//bpmn:sequenceFlow[@sourceRef='{source}' and @name='error']/bpmn:conditionExpression")
        assert (condition.text, condition.get("language")) == ("error", f"{FY}/handle")
    boundary = one(root, "//bpmn:process/bpmn:boundaryEvent[@attachedToRef='each']")
    one(boundary, "bpmn:errorEventDefinition")


def test_a_loop_becomes_a_multi_instance_sub_process_around_its_body(construct_xml):
    root = parse(construct_xml)
    loop = one(root, "//bpmn:process/bpmn:subProcess[@id='each']")
    assert one(loop, "bpmn:multiInstanceLoopCharacteristics").get("isSequential") == "true"  # concurrency 1
    one(loop, "bpmn:serviceTask[@id='item_log']")
    entry = one(loop, "bpmn:startEvent")
    assert one(loop, f"bpmn:sequenceFlow[@sourceRef='{entry.get('id')}']").get("targetRef") == "item_log"
    assert one(root, "//bpmn:process/bpmn:sequenceFlow[@sourceRef='each']").get("targetRef") == "done_log"
    assert one(root, "//bpmndi:BPMNShape[@bpmnElement='each']").get("isExpanded") == "true"


def test_every_path_ends_in_an_end_event(construct_xml):
    root = parse(construct_xml)
    for leaf in ("failed", "done_log", "vip_log", "small_log", "item_log"):
        flow = one(root, f"//bpmn:sequenceFlow[@sourceRef='{leaf}']")
        one(root, f"//bpmn:endEvent[@id='{flow.get('targetRef')}']")
    assert not root.xpath(
        "//bpmn:sequenceFlow[@sourceRef='fetch' and starts-with(@targetRef, 'fetch-end')]", namespaces=NS
    )


def test_positions_become_diagram_shapes(construct_xml):
    root = parse(construct_xml)
    task = one(root, "//bpmndi:BPMNShape[@bpmnElement='fetch']/dc:Bounds")
    assert (task.get("x"), task.get("y"), task.get("width"), task.get("height")) == ("280", "0", "100", "80")
    event = one(root, "//bpmndi:BPMNShape[@bpmnElement='start']/dc:Bounds")  # in the middle of its cell
    assert (event.get("x"), event.get("y"), event.get("width")) == ("32", "22", "36")
    flow = one(root, "//bpmn:sequenceFlow[@sourceRef='start']")
    assert len(one(root, f"//bpmndi:BPMNEdge[@bpmnElement='{flow.get('id')}']").findall("di:waypoint", NS)) == 2


@pytest.mark.parametrize(
    ("trigger", "config", "definition"),
    [
        ("trigger.manual", {}, None),
        ("trigger.schedule", {"schedules": [{"cron": "30 9 * * 1-5", "timezone": "Europe/Berlin"}]}, "timer"),
        ("trigger.schedule", {"schedules": [{"interval_minutes": 15}]}, "timer"),
        ("trigger.webhook", {"auth": "hmac"}, "message"),
        ("trigger.event", {"event": "order.paid"}, "message"),
        (
            "trigger.data_change",
            {"record_type": "deal", "event": "field_changed", "field": "stage", "to": "won"},
            "conditional",
        ),
    ],
)
def test_triggers_become_start_events(trigger, config, definition, bpmn_schema):
    graph = {
        "nodes": [node("go", trigger, config, 0, 0), node("log", "util.log", {"message": "hi"}, 280, 0)],
        "edges": [edge("go", "log")],
    }
    assert validate_graph(graph) == []
    xml = to_bpmn(graph, process_id="wf", name="Trigger")
    root = check_document(xml, bpmn_schema)
    start = one(root, "//bpmn:startEvent[@id='go']")
    definitions = [etree.QName(d).localname for d in start if etree.QName(d).localname.endswith("EventDefinition")]
    assert definitions == ([f"{definition}EventDefinition"] if definition else [])
    if trigger == "trigger.schedule":
        spec = config["schedules"][0]
        cycle = one(start, "bpmn:timerEventDefinition/bpmn:timeCycle").text
        assert cycle == spec.get("cron", "R/PT15M")
        fy_schedule = one(start, "bpmn:timerEventDefinition/bpmn:extensionElements/fy:schedule")
        assert fy_schedule.get("timezone") == spec.get("timezone")
    if definition == "message":
        message = one(root, "/bpmn:definitions/bpmn:message")
        assert one(start, "bpmn:messageEventDefinition").get("messageRef") == message.get("id")
        if trigger == "trigger.event":
            assert message.get("name") == "order.paid"
    if definition == "conditional":
        condition = one(start, "bpmn:conditionalEventDefinition/bpmn:condition")
        assert 'record_type == "deal"' in condition.text and condition.get("language") == CEL_LANGUAGE
    imported = from_bpmn(xml)
    assert imported.unmapped == []
    same_graph(graph, imported.graph)


# --- round trips ----------------------------------------------------------------------------------------


def test_every_construct_round_trips(construct_xml):
    imported = from_bpmn(construct_xml)
    assert imported.unmapped == []
    same_graph(every_construct(), imported.graph)
    assert to_bpmn(imported.graph, process_id="wf_every", name="Every construct") == construct_xml


def test_odd_ids_labels_and_values_round_trip(bpmn_schema):
    graph = {
        "nodes": [
            node("a", "trigger.manual", {"sample": {"x": "tab\tnew\nline ✓ \u0001"}}, 0.5, -10.25, 'Fancy "label" <&>'),
            node("end", "util.log", {"message": "{{ trigger.x }}", "level": "debug"}, 280, 0, "ctrl \u0007 char"),
        ],
        "edges": [{"id": "édge 1/2", "source": "a", "source_handle": None, "target": "end"}],
    }
    xml = to_bpmn(graph, process_id="42 not an id", name="Ünïcode & <xml>")
    root = check_document(xml, bpmn_schema)
    assert BPMN_JS_ID.match(one(root, "/bpmn:definitions/bpmn:process").get("id"))
    imported = from_bpmn(xml)
    assert imported.graph["nodes"][0]["config"] == graph["nodes"][0]["config"]
    assert imported.graph["nodes"][1]["label"] == "ctrl  char"  # XML cannot hold the control character
    assert imported.graph["edges"][0]["id"] == "édge 1/2"
    assert imported.graph["nodes"][0]["position"] == {"x": 0.5, "y": -10.25}


def test_secrets_are_masked_and_named_on_import(bpmn_schema):
    graph = {
        "nodes": [
            node("start", "trigger.manual", {}, 0, 0),
            node(
                "call",
                "http.request",
                {"url": "https://api.example.com", "headers": {"Authorization": "Bearer s3cret-value"}},
                280,
                0,
            ),
        ],
        "edges": [edge("start", "call")],
    }
    xml = to_bpmn(graph, process_id="wf", name="Secret")
    assert "s3cret-value" not in xml
    check_document(xml, bpmn_schema)
    imported = from_bpmn(xml)
    assert imported.graph["nodes"][1]["config"]["headers"] == {"Authorization": MASK}
    assert any("config.headers.Authorization was masked" in line for line in imported.unmapped)


# --- documents from other tools ----------------------------------------------------------------------------

FOREIGN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
    xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="Process_1" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1" name="Lead in"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="Task_3" name="Score"><bpmn:incoming>Flow_1</bpmn:incoming><bpmn:outgoing>Flow_2</bpmn:outgoing></bpmn:scriptTask>
    <bpmn:exclusiveGateway id="Gw_1" default="Flow_4"><bpmn:incoming>Flow_2</bpmn:incoming>
      <bpmn:outgoing>Flow_3</bpmn:outgoing><bpmn:outgoing>Flow_4</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:userTask id="Approve_1" name="Approve the offer?"><bpmn:incoming>Flow_3</bpmn:incoming><bpmn:outgoing>Flow_5</bpmn:outgoing></bpmn:userTask>
    <bpmn:boundaryEvent id="Timer_1" attachedToRef="Approve_1"><bpmn:outgoing>Flow_7</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">P2D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
    <bpmn:intermediateCatchEvent id="Wait_1"><bpmn:incoming>Flow_5</bpmn:incoming><bpmn:outgoing>Flow_6</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT1H30M</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:inclusiveGateway id="Gw_2"><bpmn:incoming>Flow_4</bpmn:incoming></bpmn:inclusiveGateway>
    <bpmn:serviceTask id="Send_1" name="Send" implementation="https://docs.flowyard.dev/nodes/util.log">
      <bpmn:incoming>Flow_6</bpmn:incoming><bpmn:incoming>Flow_7</bpmn:incoming><bpmn:outgoing>Flow_8</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:endEvent id="End_1"><bpmn:incoming>Flow_8</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Task_3"/>
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_3" targetRef="Gw_1"/>
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Gw_1" targetRef="Approve_1">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">${score &gt; 5}</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_4" sourceRef="Gw_1" targetRef="Gw_2"/>
    <bpmn:sequenceFlow id="Flow_5" sourceRef="Approve_1" targetRef="Wait_1"/>
    <bpmn:sequenceFlow id="Flow_6" sourceRef="Wait_1" targetRef="Send_1"/>
    <bpmn:sequenceFlow id="Flow_7" sourceRef="Timer_1" targetRef="Send_1"/>
    <bpmn:sequenceFlow id="Flow_8" sourceRef="Send_1" targetRef="End_1"/>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1"><bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="Process_1">
    <bpmndi:BPMNShape id="S_1" bpmnElement="StartEvent_1"><dc:Bounds x="182" y="102" width="36" height="36"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="S_2" bpmnElement="Approve_1"><dc:Bounds x="500" y="80" width="100" height="80"/></bpmndi:BPMNShape>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def test_a_foreign_document_imports_what_maps_and_lists_the_rest():
    imported = from_bpmn(FOREIGN.encode())
    nodes = {n["id"]: n for n in imported.graph["nodes"]}
    assert {n: nodes[n]["type"] for n in nodes} == {
        "StartEvent_1": "trigger.manual",
        "Gw_1": "logic.if",
        "Approve_1": "logic.approval",
        "Wait_1": "logic.delay",
        "Send_1": "util.log",
    }
    assert nodes["Gw_1"]["config"] == {"expression": "score > 5"}
    assert nodes["Approve_1"]["config"] == {"message": "Approve the offer?", "timeout_hours": 48}
    assert nodes["Wait_1"]["config"] == {"mode": "duration", "hours": 1, "minutes": 30}
    assert nodes["StartEvent_1"]["position"] == {"x": 150, "y": 80}  # the event's cell, as exported
    assert nodes["Approve_1"]["position"] == {"x": 500, "y": 80}
    edges = {(e["source"], e["source_handle"], e["target"]) for e in imported.graph["edges"]}
    assert edges == {
        ("Gw_1", "true", "Approve_1"),
        ("Approve_1", "approved", "Wait_1"),
        ("Wait_1", None, "Send_1"),
        ("Approve_1", "timeout", "Send_1"),
    }
    unmapped = "\n".join(imported.unmapped)
    assert "scriptTask 'Task_3' (Score): no Flowyard step for it" in unmapped
    assert "inclusiveGateway 'Gw_2'" in unmapped
    assert "Send_1" in unmapped  # imported without its settings


def test_a_string_with_an_encoding_declaration_imports():
    assert from_bpmn(FOREIGN).graph["nodes"]


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="p"><bpmn:startEvent id="s" name="&lol9;"/></bpmn:process>
</bpmn:definitions>"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="p"><bpmn:startEvent id="s"><bpmn:documentation>&xxe;</bpmn:documentation></bpmn:startEvent></bpmn:process>
</bpmn:definitions>"""
EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE d SYSTEM "http://127.0.0.1:9/evil.dtd">
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x"/>"""


@pytest.mark.parametrize(
    "document",
    [
        BILLION_LAUGHS,
        BILLION_LAUGHS.encode(),
        EXTERNAL_ENTITY,
        EXTERNAL_DTD,
        EXTERNAL_ENTITY.replace('<?xml version="1.0"?>', "").encode("utf-16"),
    ],
    ids=["billion-laughs", "billion-laughs-bytes", "external-entity", "external-dtd", "utf-16"],
)
def test_hostile_xml_is_refused(document):
    with pytest.raises(BpmnError, match="DOCTYPE"):
        from_bpmn(document)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("not xml", "not well-formed"),
        ("<definitions/>", "not a BPMN 2.0 document"),
        ('<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"/>', "no process"),
    ],
)
def test_what_is_not_bpmn_is_refused_as_a_value_error(document, message):
    with pytest.raises(ValueError, match=message):
        from_bpmn(document)


def test_an_entity_bomb_is_refused_by_the_parser_too(monkeypatch):
    """Without the DOCTYPE check, libxml2 (no entity resolution, no huge trees) still refuses it."""
    from platform_api.workflows.bpmn import reader

    monkeypatch.setattr(reader, "_declares_doctype", lambda data: False)
    with pytest.raises(BpmnError):
        from_bpmn(BILLION_LAUGHS)
    with pytest.raises(BpmnError):
        from_bpmn(EXTERNAL_ENTITY)


def test_an_empty_graph_exports_and_imports(bpmn_schema):
    xml = to_bpmn({"nodes": [], "edges": []}, process_id="empty", name="")
    check_document_without_nodes = parse(xml)
    assert bpmn_schema.validate(check_document_without_nodes), bpmn_schema.error_log
    assert from_bpmn(xml).graph == {"version": 1, "nodes": [], "edges": []}


def test_the_export_does_not_change_the_graph():
    graph = every_construct()
    before = copy.deepcopy(graph)
    to_bpmn(graph, process_id="wf", name="x")
    assert graph == before
