"""BPMN exports open cleanly in bpmn-js (the viewer of bpmn.io, which Camunda Modeler is built on): every
catalog template's export, the graph with every construct and one per trigger import without a warning,
and every flow node and sequence flow is drawn. No stack: the viewer runs in a blank page, offline, from
the UI's node_modules (bpmn-js is a devDependency of platform_api/ui, installed by `make ui`)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from lxml import etree

from platform_api.workflows.bpmn import to_bpmn
from tests.browser.helpers import ROOT
from tests.platform_api.test_bpmn import NS, TEMPLATES, edge, every_construct, node, template_graph

VIEWER = ROOT / "platform_api" / "ui" / "node_modules" / "bpmn-js" / "dist" / "bpmn-viewer.production.min.js"
IMPORT = """async (xml) => {
  const container = document.getElementById("canvas");
  container.replaceChildren();
  const viewer = new BpmnJS({ container });
  try {
    const { warnings } = await viewer.importXML(xml);
    const registry = viewer.get("elementRegistry");
    const drawn = registry.getAll().map((element) => element.id);
    viewer.destroy();
    return { warnings: warnings.map((warning) => warning.message), drawn };
  } catch (error) {
    return { error: String(error.message || error), warnings: (error.warnings || []).map((w) => w.message) };
  }
}"""
TRIGGERS = [
    ("trigger.schedule", {"schedules": [{"cron": "0 9 * * 1", "timezone": "Europe/Berlin"}, {"interval_minutes": 30}]}),
    ("trigger.webhook", {}),
    ("trigger.event", {"event": "order.paid"}),
    ("trigger.data_change", {"record_type": "deal", "event": "field_changed", "field": "stage", "to": "won"}),
]


@pytest.fixture
def viewer_page(page):
    if not VIEWER.exists():
        message = f"{VIEWER} is missing (make ui installs the UI's devDependencies)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    page.set_content(
        '<!doctype html><html><body><div id="canvas" style="width:1600px;height:900px"></div></body></html>'
    )
    page.add_script_tag(path=str(VIEWER))
    return page


def exports() -> list[tuple[str, str]]:
    documents = [(t.slug, to_bpmn(template_graph(t), process_id=t.slug, name=t.title)) for t in TEMPLATES]
    documents.append(("every-construct", to_bpmn(every_construct(), process_id="every", name="Every construct")))
    for trigger, config in TRIGGERS:
        graph: dict[str, Any] = {
            "nodes": [node("go", trigger, config, 0, 0), node("log", "util.log", {"message": "hi"}, 280, 0)],
            "edges": [edge("go", "log")],
        }
        documents.append((trigger, to_bpmn(graph, process_id="wf", name=trigger)))
    return documents


def semantic_ids(xml: str) -> set[str]:
    """Every flow node and sequence flow of the process (each must be drawn)."""
    process = etree.fromstring(xml.encode()).find("bpmn:process", NS)
    return {
        element.get("id")
        for element in process.iter()
        if etree.QName(element).namespace == NS["bpmn"]
        and etree.QName(element).localname.endswith(("Event", "Task", "Gateway", "subProcess", "sequenceFlow"))
        and not etree.QName(element).localname.endswith("EventDefinition")
    }


def test_every_export_opens_in_bpmn_js_without_warnings(viewer_page):
    problems = []
    documents = exports()
    assert len(documents) > len(TEMPLATES) >= 40
    for name, xml in documents:
        result = viewer_page.evaluate(IMPORT, xml)
        if result.get("error") or result["warnings"]:
            problems.append(f"{name}: {result.get('error') or ''} {result['warnings']}")
            continue
        missing = semantic_ids(xml) - set(result["drawn"])
        if missing:
            problems.append(f"{name}: not drawn: {sorted(missing)}")
    assert problems == []
