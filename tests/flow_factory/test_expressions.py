import pytest

from core.errors import StepFailure
from flow_factory.expressions import (
    MAX_OUTPUT_CHARS,
    MAX_TEMPLATE_CHARS,
    ExpressionError,
    make_context,
    referenced_steps,
    render_value,
    template_syntax_errors,
)

CONTEXT = make_context(
    trigger={"email": "jane@example.com", "count": 3, "items": [1, 2, 3], "tags": {"vip": True}},
    steps={"fetch": {"output": {"status_code": 200, "body": {"id": 7, "name": "Jane"}}}},
    execution_id="exec-1",
    mode="test",
)


def render_error(template) -> ExpressionError:
    with pytest.raises(ExpressionError) as caught:
        render_value(template, CONTEXT)
    return caught.value


def test_single_expression_keeps_its_native_value():
    assert render_value("{{ trigger.count }}", CONTEXT) == 3
    assert render_value("  {{ trigger.items }}\n", CONTEXT) == [1, 2, 3]
    assert render_value("{{ steps.fetch.output.body }}", CONTEXT) == {"id": 7, "name": "Jane"}
    assert render_value("{{ trigger.count > 2 }}", CONTEXT) is True
    assert render_value("{{- trigger.count -}}", CONTEXT) == 3
    assert render_value("{{ trigger.missing | default(None) }}", CONTEXT) is None


def test_mixed_text_renders_to_a_string():
    assert render_value("Hi {{ steps.fetch.output.body.name }}!", CONTEXT) == "Hi Jane!"
    assert render_value("{{ trigger.count }}{{ trigger.count }}", CONTEXT) == "33"
    assert render_value("{{ trigger.count }} items", CONTEXT) == "3 items"
    assert render_value("{{ 'id-' ~ steps.fetch.output.body.id }}", CONTEXT) == "id-7"
    assert render_value("{% for i in trigger.items %}{{ i }},{% endfor %}", CONTEXT) == "1,2,3,"
    assert render_value("{% if trigger.tags.vip %}VIP{% else %}-{% endif %}", CONTEXT) == "VIP"


def test_renders_inside_dicts_and_lists_and_leaves_other_values():
    value = {
        "to": ["{{ trigger.email }}", 5],
        "n": None,
        "flag": True,
        "plain": "no template",
        "nested": {"id": "{{ steps.fetch.output.body.id }}"},
    }
    assert render_value(value, CONTEXT) == {
        "to": ["jane@example.com", 5],
        "n": None,
        "flag": True,
        "plain": "no template",
        "nested": {"id": 7},
    }


def test_execution_and_data_keys_that_shadow_dict_methods():
    assert render_value("{{ execution.id }}/{{ execution.mode }}", CONTEXT) == "exec-1/test"
    assert render_value("{{ trigger.items | sum }}", CONTEXT) == 6  # "items" is data, not dict.items
    assert render_value("{{ steps.fetch.output.body.keys() | list }}", CONTEXT) == ["id", "name"]


def test_missing_reference_names_it_and_lists_what_exists():
    error = render_error("Hello {{ trigger.first_name }}")
    assert isinstance(error, StepFailure) and not error.retryable
    assert "unknown reference in `Hello {{ trigger.first_name }}`" in error.message
    assert "'first_name' is not there (available keys: email, count, items, tags)" in error.message
    assert "steps.<node_id>.output" in error.hint


def test_missing_step_and_missing_name():
    assert "'other' is not there (available keys: fetch)" in render_error("{{ steps.other.output.x }}").message
    assert "'user' is not defined" in render_error("{{ user.email }}").message
    assert "'nope' is not there" in render_error("{{ [trigger.nope] }}").message


def test_sandbox_blocks_python_internals():
    error = render_error("{{ ''.__class__.__mro__ }}")
    assert "blocked by the template sandbox" in error.message
    assert "__class__" in error.message
    assert "not Python internals" in error.hint
    assert "blocked" in render_error("{{ trigger.items.append(4) }}").message
    assert "blocked" in render_error("{{ '{}'.format(1) }}").message


def test_huge_range_is_blocked():
    error = render_error("{{ range(10**9) }}")
    assert error.message == "range() is limited to 10,000 items; this one has 1,000,000,000"
    assert render_value("{{ range(3) | list }}", CONTEXT) == [0, 1, 2]


def test_loops_have_an_iteration_budget():
    error = render_error("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}")
    assert "loops ran more than" in error.message


def test_rendered_output_is_bounded():
    error = render_error("{% for i in range(2000) %}{{ 'x' * 1000 }}{% endfor %}")
    assert f"the limit is {MAX_OUTPUT_CHARS:,}" in error.message
    assert render_value("{{ 'x' * 1000 }}", CONTEXT) == "x" * 1000


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'x' * 10**9 }}",
        "{{ [0] * 10**9 }}",
        "{% set a = 'x' * 1000000 %}{{ a ~ a }}",
        "{{ ('x' * 600000) + ('x' * 600000) }}",
        "{{ 'x'.ljust(10**9) }}",
        "{{ ('x' * 1000000) | replace('x', 'yy') }}",
        "{{ ['x' * 1000000, 'x' * 1000000] | join }}",
        "{{ 'x' | center(10**9) }}",
        "{{ [1] | batch(10**9, 0) | list }}",
        "{{ '%999999999s' % 1 }}",
        "{{ 2 ** (10**9) }}",
    ],
)
def test_growth_is_bounded_before_memory_is_spent(template):
    assert isinstance(render_error(template), ExpressionError)


def test_long_templates_are_rejected():
    error = render_error("{{ trigger.email }}" + " " * MAX_TEMPLATE_CHARS)
    assert f"the limit is {MAX_TEMPLATE_CHARS:,}" in error.message


def test_runtime_failure_is_an_expression_error():
    error = render_error("{{ trigger.count / 0 }}")
    assert "ZeroDivisionError" in error.message


def test_template_syntax_errors_with_paths():
    value = {
        "url": "https://x/{{ trigger.id",
        "headers": {"A": "{% if x %}"},
        "list": ["ok {{ a }}", "{{ }}"],
        "n": 5,
        "plain": "text",
    }
    errors = dict(template_syntax_errors(value))
    assert set(errors) == {"url", "headers.A", "list[1]"}
    assert errors["url"].startswith("line 1: unexpected end of template")


def test_referenced_steps():
    value = {
        "a": "{{ steps.fetch.output.x }} {{ steps['shape'].output }}",
        "b": ["{% if steps.check.output.ok %}y{% endif %}"],
        "c": "{{ trigger.steps.not_a_step }} {{ steps[name] }}",
        "d": "{{ broken",
    }
    assert referenced_steps(value) == {"fetch", "shape", "check"}
