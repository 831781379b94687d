"""Conditions: rule sets compiled to CEL, CEL precedence, time rules in the tenant's zone,
undecidable conditions, hostile patterns, and the words of the decision log."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flow_factory.conditions import AllOf, AnyOf, Rule, compile_condition, evaluate, explain, syntax_error

LEAD = {
    "trigger": {
        "amount": 250,
        "email": "ana@vip.example",
        "tags": ["vip", "eu"],
        "country": "DE",
        "signed_up": "2026-10-01T12:00:00Z",
        "notes": "",
    },
    "steps": {"lookup": {"output": {"status_code": 200, "body": {"found": True, "score": 7}}}},
}
NOW = datetime(2026, 11, 27, 8, 30, tzinfo=UTC)  # a Friday; 09:30 in Berlin, 03:30 in New York


def check(condition, context=LEAD, zone="UTC") -> bool | None:
    return evaluate(compile_condition(condition, zone), context, now=NOW).result


@pytest.mark.parametrize(
    "operator,value,expected",
    [
        ("equals", "DE", True),
        ("not_equals", "DE", False),
        ("in_list", ["FR", "DE"], True),
        ("not_in_list", ["FR"], True),
        ("starts_with", "D", True),
        ("ends_with", "E", True),
        ("contains", "E", True),
        ("matches", "^[A-Z]{2}$", True),
        ("is_not_empty", None, True),
    ],
)
def test_text_operators(operator, value, expected):
    assert check(Rule(field="trigger.country", operator=operator, value=value)) is expected


@pytest.mark.parametrize(
    "operator,value,expected",
    [
        ("greater_than", 100, True),
        ("greater_or_equal", 250, True),
        ("less_than", 250, False),
        ("less_or_equal", 250, True),
    ],
)
def test_number_operators(operator, value, expected):
    assert check(Rule(field="trigger.amount", operator=operator, value=value)) is expected


def test_list_and_empty_operators():
    assert check(Rule(field="trigger.tags", operator="contains", value="vip")) is True
    assert check(Rule(field="trigger.notes", operator="is_empty")) is True


def test_date_operators_use_now():
    signed_up = "trigger.signed_up"
    assert check(Rule(field=signed_up, operator="older_than_days", value=30)) is True
    assert check(Rule(field=signed_up, operator="newer_than_days", value=30)) is False
    assert check(Rule(field=signed_up, operator="after", value="2026-09-01T00:00:00Z")) is True
    assert check(Rule(field=signed_up, operator="before", value="2026-09-01T00:00:00Z")) is False


def test_time_rules_follow_the_tenant_time_zone():
    business_hours = Rule(field="now", operator="within_hours", value=["09:00", "17:00"])
    assert check(business_hours, zone="Europe/Berlin") is True
    assert check(business_hours, zone="America/New_York") is False
    assert check(Rule(field="now", operator="weekday_in", value=["Friday"]), zone="Europe/Berlin") is True
    assert check(Rule(field="now", operator="weekday_in", value=["Thursday"]), zone="Pacific/Kiritimati") is False


def test_external_api_response_fields():
    rule = AllOf(
        all=[
            Rule(field="steps.lookup.output.status_code", operator="equals", value=200),
            Rule(field="steps.lookup.output.body.score", operator="greater_than", value=5),
        ]
    )
    assert check(rule) is True


def test_cel_precedence_and_binds_tighter_than_or():
    assert evaluate("true || false && false", {}).result is True
    assert evaluate("(true || false) && false", {}).result is False
    assert evaluate("trigger.amount > 1000 || trigger.country == 'DE' && trigger.amount > 100", LEAD).result is True


def test_rule_groups_are_parenthesised_as_drawn():
    # any(amount > 1000, country == FR) AND amount > 100: the OR group must not absorb the AND.
    grouped = AllOf(
        all=[
            AnyOf(
                any=[
                    Rule(field="trigger.amount", operator="greater_than", value=1000),
                    Rule(field="trigger.country", operator="equals", value="FR"),
                ]
            ),
            Rule(field="trigger.amount", operator="greater_than", value=100),
        ]
    )
    assert check(grouped) is False
    assert compile_condition(grouped, "UTC").startswith("((")


def test_missing_field_and_type_mismatch_are_undecidable_not_crashes():
    missing = evaluate("trigger.plan == 'pro'", LEAD)
    assert missing.result is None and "plan" in missing.error
    mismatch = evaluate("trigger.country > 3", LEAD)
    assert mismatch.result is None and "types" in mismatch.error


def test_syntax_errors_point_at_the_character():
    message = syntax_error("trigger.amount > ")
    assert "character" in message


def test_hostile_pattern_and_long_input_are_bounded():
    slow = evaluate('trigger.text.matches("(a|aa)+$")', {"trigger": {"text": "a" * 5000 + "b"}})
    assert slow.result is not True  # either false quickly or a clear timeout error
    huge = evaluate('trigger.text.matches("a")', {"trigger": {"text": "a" * 200_000}})
    assert huge.result is None and "longer" in huge.error


def test_decision_explains_in_words_with_secrets_masked():
    rule = Rule(field="trigger.amount", operator="greater_than", value=100)
    decision = evaluate(compile_condition(rule, "UTC"), {"trigger": {"amount": 250, "api_key": "s3cret"}})
    text = explain(decision, rules=rule, branch="true")
    assert text == "Checked whether trigger.amount (250) is greater than 100: true, so the run took the 'true' path."
    masked = evaluate("trigger.api_key == 'x'", {"trigger": {"api_key": "s3cret"}})
    assert "s3cret" not in str(masked.values)


def test_nested_list_macros_and_deep_data_are_refused():
    assert "at most one" in syntax_error("trigger.a.map(x, trigger.a.map(y, y)).size() > 0")
    deep: object = 1
    for _ in range(200):
        deep = [deep]
    decision = evaluate("size(trigger.deep) > 0", {"trigger": {"deep": deep}})
    assert decision.result is None and "nested" in decision.error
