"""The template files themselves (no database): every one loads, passes the checks against the node
catalog and renders with its default parameters; parameters and the three-way merge."""

from __future__ import annotations

import copy
from collections import Counter

import pytest

from catalog import definition as defs
from catalog import merge, params
from catalog.loader import load_all
from flow_factory.validation import validate_graph

TEMPLATES = load_all()


def test_there_are_enough_templates_in_every_category():
    per_category = Counter(t.category for t in TEMPLATES)
    assert len(TEMPLATES) >= 40
    assert set(per_category) == set(defs.CATEGORIES)
    assert all(count >= 8 for count in per_category.values()), per_category


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.slug)
def test_template_passes_the_checks(template):
    assert defs.check(template) == []
    assert template.integrations, "every template says which integrations it needs"
    assert template.tags and template.changelog[-1].version == template.version


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.slug)
def test_template_renders_with_its_defaults(template):
    graph = defs.render(template.model_dump(mode="json"), params.resolve(template.parameters, {}))
    assert params.placeholders(graph) == set()
    for index, _kind in defs.connection_slots(graph):
        graph["nodes"][index]["config"]["connection"] = "c"
    assert validate_graph(graph) == []
    trigger = next(node for node in graph["nodes"] if defs.is_trigger(node))
    assert trigger["config"].get("sample"), "the sample input is what CI runs the template with"


def test_placeholders_keep_their_type_when_they_are_the_whole_value():
    graph = {
        "a": "${days}",
        "b": "wait ${days} days",
        "c": ["${emails}"],
        "d": "${emails} and $${literal}",
        "e": "{{ trigger.x }}",
    }
    values = {"days": 2, "emails": ["a@example.com", "b@example.com"]}
    assert params.substitute(graph, values) == {
        "a": 2,
        "b": "wait 2 days",
        "c": [["a@example.com", "b@example.com"]],
        "d": "a@example.com, b@example.com and ${literal}",
        "e": "{{ trigger.x }}",
    }


def test_parameters_are_checked_against_the_schema():
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"days": {"type": "integer", "minimum": 1, "default": 2, "description": "Days to wait."}},
    }
    assert params.resolve(schema, {}) == {"days": 2}
    with pytest.raises(params.ParameterError) as raised:
        params.resolve(schema, {"days": 0, "colour": "red"})
    assert {(e["path"], e["message"]) for e in raised.value.errors} == {
        ("parameters.colour", "unknown parameter 'colour'"),
        ("parameters.days", "0 is less than the minimum of 1"),
    }
    assert all(e["hint"] for e in raised.value.errors)


def test_the_intended_trigger_must_fit_its_node_type():
    template = copy.deepcopy(next(t for t in TEMPLATES if t.trigger and t.trigger.type == "trigger.schedule"))
    template.trigger.config = {"cron": "0 9 * * *"}
    assert "trigger.config: nodes[0].config.schedules: 'schedules' is required" in defs.check(template)


def test_a_placeholder_typo_is_reported():
    template = copy.deepcopy(TEMPLATES[0])
    template.graph["nodes"][1]["label"] = "Hello ${business name}"
    assert any("malformed placeholder" in problem for problem in defs.check(template))


# --- the merge ---------------------------------------------------------------------------------------


def _node(node_id: str, node_type: str, **config) -> dict:
    return {"id": node_id, "type": node_type, "label": node_id, "config": config, "position": {"x": 0, "y": 0}}


def _edge(source: str, target: str) -> dict:
    return {"id": f"{source}-{target}", "source": source, "source_handle": None, "target": target}


BASE = {
    "nodes": [
        _node("start", "trigger.manual"),
        _node("mail", "email.sendgrid", to="a", subject="Hi", text="t"),
        _node("sms", "sms.twilio", to="b", body="old"),
    ],
    "edges": [_edge("start", "mail"), _edge("mail", "sms")],
}


def test_merge_takes_both_sides_and_reports_one_conflict():
    ours = copy.deepcopy(BASE)
    ours["nodes"][1]["config"]["subject"] = "Hello from Bob"  # only the workflow changed it
    ours["nodes"][2]["config"] |= {"body": "mine", "connection": "c1"}  # body: both changed it
    ours["nodes"][1]["position"] = {"x": 5, "y": 5}
    ours["nodes"].append(_node("log", "util.log", message="x"))
    ours["edges"].append(_edge("sms", "log"))
    theirs = copy.deepcopy(BASE)
    theirs["nodes"][2]["config"]["body"] = "new"
    theirs["nodes"][1]["config"]["text"] = "better text"  # only the template changed it
    theirs["nodes"][1]["position"] = {"x": 9, "y": 9}  # positions never conflict
    theirs["nodes"].append(_node("tag", "crm.add_tag", contact="x", tag="y"))
    theirs["edges"].append(_edge("sms", "tag"))

    result = merge.merge(BASE, ours, theirs)

    nodes = {n["id"]: n for n in result.graph["nodes"]}
    assert [n["id"] for n in result.graph["nodes"]] == ["start", "mail", "sms", "log", "tag"]
    assert nodes["mail"]["config"] == {"to": "a", "subject": "Hello from Bob", "text": "better text"}
    assert nodes["mail"]["position"] == {"x": 5, "y": 5}
    assert nodes["sms"]["config"] == {"to": "b", "body": "mine", "connection": "c1"}
    assert {e["id"] for e in result.graph["edges"]} == {"start-mail", "mail-sms", "sms-log", "sms-tag"}
    [conflict] = result.conflicts
    assert (conflict.path, conflict.base, conflict.workflow, conflict.template, conflict.resolution) == (
        "nodes.sms.config.body",
        "old",
        "mine",
        "new",
        "workflow",
    )
    assert {(c.path, c.op) for c in result.changes} == {
        ("nodes.mail.config.text", "changed"),
        ("nodes.tag", "added"),
        ("edges.sms-tag", "added"),
    }

    taken = merge.merge(BASE, ours, theirs, {"nodes.sms.config.body": "template"})
    assert {n["id"]: n for n in taken.graph["nodes"]}["sms"]["config"]["body"] == "new"


def test_a_node_deleted_by_the_template_but_changed_in_the_workflow_is_a_conflict():
    ours = copy.deepcopy(BASE)
    ours["nodes"][2]["config"]["body"] = "mine"
    theirs = copy.deepcopy(BASE)
    del theirs["nodes"][2], theirs["edges"][1]

    kept = merge.merge(BASE, ours, theirs)
    assert [c.path for c in kept.conflicts] == ["nodes.sms"]
    assert [e["id"] for e in kept.graph["edges"]] == ["start-mail", "mail-sms"]  # the kept node keeps its edge

    dropped = merge.merge(BASE, ours, theirs, {"nodes.sms": "template"})
    assert [n["id"] for n in dropped.graph["nodes"]] == ["start", "mail"]
    assert [e["id"] for e in dropped.graph["edges"]] == ["start-mail"]


def test_the_same_change_on_both_sides_is_no_conflict():
    ours, theirs = copy.deepcopy(BASE), copy.deepcopy(BASE)
    ours["nodes"][2]["config"]["body"] = theirs["nodes"][2]["config"]["body"] = "same"
    result = merge.merge(BASE, ours, theirs)
    assert result.conflicts == [] and result.changes == []
