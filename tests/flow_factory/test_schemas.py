"""Tenants' JSON Schemas through flow_factory.schemas: the stock answers for ordinary schemas, refusals
with a path and a hint for unsafe ones, and bounds that hold on hostile data."""

from __future__ import annotations

import time

import pytest

from flow_factory.nodes.data_transform import TransformConfig
from flow_factory.nodes.data_transform import run as run_transform
from flow_factory.nodes.trigger_manual import check_config, payload_violations
from flow_factory.schemas import SchemaRefused, schema_issues, validate
from tests.flow_factory.test_node_types import CTX

EVIL = "^(a|a)+$"
EVIL_TEXT = "a" * 40 + "!"


def _messages(schema, instance, **kwargs):
    return [error.message for error in validate(schema, instance, what="the schema", seconds=2, **kwargs)]


def test_ordinary_schemas_give_the_stock_answers():
    schema = {
        "type": "object",
        "required": ["email"],
        "properties": {"email": {"type": "string", "format": "email"}, "code": {"pattern": "^[A-Z]{3}$"}},
        "patternProperties": {"^x-": {"type": "string"}},
        "additionalProperties": False,
    }
    assert _messages(schema, {"email": "a@example.com", "code": "EUR", "x-tag": "ok"}) == []
    assert _messages(schema, {"code": "eur", "x-tag": 1, "other": 1}) == [
        "'email' is a required property",
        "'eur' does not match '^[A-Z]{3}$'",
        "1 is not of type 'string'",
        "Additional properties are not allowed ('other' was unexpected)",
    ]
    assert _messages(schema, {"email": "not-an-email"}) == ["'not-an-email' is not a 'email'"]
    assert _messages(schema, {"email": "not-an-email"}, formats=False) == []


def test_unique_items_is_linear_and_keeps_json_equality():
    assert _messages({"uniqueItems": True}, [1, 1.0]) == ["[1, 1.0] has non-unique elements"]
    assert _messages({"uniqueItems": True}, [1, True, {"a": [1]}, {"a": [True]}, "1"]) == []
    started = time.monotonic()  # the stock keyword compares 2e8 pairs here: minutes
    assert _messages({"uniqueItems": True}, [{"n": i} for i in range(20_000)]) == []
    assert time.monotonic() - started < 5


def test_format_regex_is_checked_with_the_regex_module():
    schema = {"properties": {"p": {"type": "string", "format": "regex"}}}
    assert _messages(schema, {"p": "\\p{L}+"}) == []  # regex knows Unicode properties
    assert _messages(schema, {"p": "("}) == ["'(' is not a 'regex'"]
    assert _messages(schema, {"p": "a" * 2000}) == [f"'{'a' * 2000}' is not a 'regex'"]


def test_a_schema_too_large_or_with_too_long_a_pattern_is_refused():
    (issue,) = schema_issues({"properties": {f"field{i}": {"type": "string"} for i in range(5000)}})
    assert "larger than" in issue[1]
    (issue,) = schema_issues({"properties": {"code": {"pattern": "a" * 1001}}})
    assert issue[0] == "properties.code.pattern" and "longer than 1000" in issue[1]


def test_a_reference_cycle_is_refused_when_saved():
    (issue,) = schema_issues({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"})
    assert "refers to itself" in issue[1]
    tree = {"$defs": {"node": {"type": "object", "properties": {"children": {"items": {"$ref": "#/$defs/node"}}}}}}
    assert schema_issues({**tree, "$ref": "#/$defs/node"}) == []  # recursion through the data is fine


def test_references_that_fan_out_stop_at_the_budget():
    defs = {f"a{i}": {"anyOf": [{"$ref": f"#/$defs/a{i + 1}"}, {"$ref": f"#/$defs/a{i + 1}"}]} for i in range(40)}
    defs["a40"] = {"type": "string"}
    schema = {"$defs": defs, "$ref": "#/$defs/a0"}
    started = time.monotonic()
    (issue,) = schema_issues(schema)  # tried on small values when saved
    assert issue[1] == "checking the data against the schema took longer than 1s"
    assert time.monotonic() - started < 15  # stopped: 2**40 paths would take days (generous: a loaded CI machine)
    started = time.monotonic()
    with pytest.raises(SchemaRefused, match="took longer than 1s"):  # and refused when applied
        validate(schema, [5], what="the schema", seconds=0.5)
    assert time.monotonic() - started < 15


def test_property_names_are_not_mistaken_for_keywords():
    schema = {"type": "object", "properties": {"unevaluatedProperties": {"type": "string"}, "$ref": {}}}
    assert schema_issues(schema) == []


def test_trigger_checks_name_the_field_and_keep_their_hint():
    issues = check_config({"input_schema": {"type": "object", "unevaluatedProperties": False}})
    assert issues == [
        (
            "input_schema.unevaluatedProperties",
            "not accepted: 'unevaluatedProperties' is not supported",
            "use additionalProperties: false (with properties and patternProperties) instead",
        )
    ]
    schema = {"type": "object", "properties": {"code": {"type": "string", "pattern": EVIL}}}
    (violation,) = payload_violations(schema, {"code": EVIL_TEXT}, "body")
    assert violation["path"] == "body.code"
    assert "took longer than 100 ms" in violation["message"] and "simplify the pattern" in violation["hint"]


async def test_transform_output_schema_with_a_catastrophic_pattern_fails_the_step_permanently():
    from core.errors import Permanent

    config = TransformConfig(
        fields={"code": EVIL_TEXT}, output_schema={"properties": {"code": {"type": "string", "pattern": EVIL}}}
    )
    started = time.monotonic()
    with pytest.raises(Permanent) as failure:
        await run_transform(config, CTX)
    assert time.monotonic() - started < 2
    assert failure.value.message.startswith("field 'code': the pattern '^(a|a)+$' (properties.code.pattern)")
    assert failure.value.details == {"field": "code", "schema": "properties.code.pattern"}
