import logging

import pytest

from core.errors import StepFailure
from flow_factory.expressions import make_context, render_value
from flow_factory.nodes import NODE_TYPES, describe_all, get_node_type
from flow_factory.nodes.base import StepContext
from flow_factory.nodes.trigger_manual import input_errors

CTX = StepContext(
    execution_id="exec-1", tenant_id="t1", node_id="node_1", mode="test", logger=logging.getLogger("flowyard.test")
)


async def run_node(type_name, raw_config, trigger=None, step_outputs=None):
    """Runs a node the way the interpreter does: render, validate, run."""
    context = make_context(
        trigger=trigger or {},
        steps={node: {"output": output} for node, output in (step_outputs or {}).items()},
        execution_id=CTX.execution_id,
        mode=CTX.mode,
    )
    node_type = get_node_type(type_name)
    config = node_type.parse_config(render_value(raw_config, context))
    return await node_type.run(config, CTX)


def test_registry_and_descriptions():
    assert {"trigger.manual", "data.transform", "http.request", "util.log"} <= set(NODE_TYPES)
    assert get_node_type("nope") is None
    described = {entry["type"]: entry for entry in describe_all()}
    assert described["trigger.manual"]["inputs"] == [] and described["trigger.manual"]["outputs"] == ["default"]
    assert described["http.request"]["outputs"] == ["default", "error"]
    assert described["http.request"]["category"] == "Actions"
    for type_name, entry in described.items():
        assert entry["docs_url"] == f"/help/nodes/{type_name}/"  # FLOWYARD_HELP__BASE_URL
        assert entry["sample_output"] and entry["label"] and entry["description"]
        schema = entry["config_schema"]
        assert schema["additionalProperties"] is False
        for field_name, field in schema["properties"].items():
            assert field.get("description"), f"{type_name}.{field_name} has no description"


@pytest.mark.asyncio
async def test_triggers_declare_no_run_the_interpreter_settles_them():
    triggers = [node_type for node_type in NODE_TYPES.values() if node_type.is_trigger]
    assert {t.type for t in triggers} == {
        "trigger.manual",
        "trigger.webhook",
        "trigger.schedule",
        "trigger.data_change",
        "trigger.event",
    }
    for trigger in triggers:
        with pytest.raises(RuntimeError, match="passes the execution's input on"):
            await trigger.run(None, CTX)


def test_only_a_trigger_may_leave_out_run():
    from pydantic import BaseModel

    from flow_factory.nodes.base import NodeType

    with pytest.raises(TypeError, match="declares no run"):
        NodeType(
            type="x.y",
            label="X",
            category="Data",
            description="d",
            config_model=BaseModel,
            sample_output={},
            docs_url="https://docs.flowyard.dev/nodes/x.y",
        )


def test_manual_trigger_input_errors():
    schema = {"type": "object", "required": ["email"], "properties": {"email": {"type": "string"}}}
    assert input_errors(schema, {"email": "a@example.com"}) == []
    assert input_errors(None, "anything") == []
    assert input_errors(schema, {"email": 5}) == ["email: 5 is not of type 'string'"]


@pytest.mark.asyncio
async def test_transform_renders_fields():
    output = await run_node(
        "data.transform",
        {
            "fields": {"name": "{{ trigger.first }} {{ trigger.last }}", "id": "{{ steps.fetch.output.id }}"},
            "required": ["name"],
        },
        trigger={"first": "Jane", "last": "Doe"},
        step_outputs={"fetch": {"id": 7}},
    )
    assert output == {"name": "Jane Doe", "id": 7}


@pytest.mark.asyncio
async def test_transform_required_field_that_is_empty_fails():
    with pytest.raises(StepFailure) as caught:
        await run_node(
            "data.transform", {"fields": {"email": "{{ trigger.email | default('') }}"}, "required": ["email"]}
        )
    assert caught.value.message == "required field 'email' is empty"
    assert not caught.value.retryable and "trigger payload" in caught.value.hint


@pytest.mark.asyncio
async def test_log_records_its_message_in_its_output_and_logs_only_its_length_at_its_level(caplog):
    with caplog.at_level(logging.DEBUG, logger="flowyard.test"):
        output = await run_node(
            "util.log", {"message": "order {{ trigger.id }}", "level": "warning"}, trigger={"id": 42}
        )
        structured = await run_node("util.log", {"message": "{{ trigger }}"}, trigger={"id": 42})
    assert output == {"message": "order 42"}
    assert structured == {"message": '{"id": 42}'}
    assert [(record.levelname, record.getMessage()) for record in caplog.records] == [
        ("WARNING", "logged a message of 8 characters (in this step's output)"),
        ("INFO", "logged a message of 10 characters (in this step's output)"),
    ]


def test_parse_config_turns_rendered_mistakes_into_step_errors():
    node_type = get_node_type("http.request")
    assert node_type.parse_config({"url": "https://example.com"}).method == "GET"
    with pytest.raises(StepFailure) as caught:
        node_type.parse_config({"url": "mailto:jane@example.com", "timeout_seconds": "soon"})
    error = caught.value
    assert not error.retryable
    assert error.message.startswith("After filling in expressions, config.url is invalid: String should match pattern")
    assert "config.timeout_seconds is invalid:" in error.message
    assert len(error.details["errors"]) == 2


async def test_transform_output_schema_names_the_missing_field():
    import logging

    from flow_factory.nodes.base import StepContext
    from flow_factory.nodes.data_transform import TransformConfig, run

    ctx = StepContext("e", "t", "map", "test", logging.getLogger("test"))
    config = TransformConfig(
        fields={"email": "a@example.com"}, output_schema={"type": "object", "required": ["email", "phone"]}
    )
    with pytest.raises(StepFailure) as failure:
        await run(config, ctx)
    assert failure.value.message == "field 'phone' is missing"
    config = TransformConfig(fields={"age": "ten"}, output_schema={"properties": {"age": {"type": "integer"}}})
    with pytest.raises(StepFailure, match="field 'age' does not match"):
        await run(config, ctx)


@pytest.mark.parametrize(
    "mode,count,expected", [("all", 2, {"a": 1, "b": 2}), ("first", 2, {"a": 1}), ("count", 2, {"a": 1, "b": 2})]
)
async def test_merge_modes(mode, count, expected):
    import logging

    from flow_factory.nodes.base import StepContext
    from flow_factory.nodes.logic_merge import MergeConfig, run

    ctx = StepContext(
        "e",
        "t",
        "join",
        "test",
        logging.getLogger("test"),
        context={"arrived": [("left", {"a": 1}), ("right", {"b": 2})]},
    )
    result = await run(MergeConfig(mode=mode, count=count), ctx)
    assert result.output["merged"] == expected
    assert result.output["arrived"] == ["left", "right"]


async def test_merge_count_not_reached_fails_the_step():
    import logging

    from flow_factory.nodes.base import StepContext
    from flow_factory.nodes.logic_merge import MergeConfig, run

    ctx = StepContext("e", "t", "join", "test", logging.getLogger("test"), context={"arrived": [("left", {})]})
    with pytest.raises(StepFailure, match="only 1 of the 3"):
        await run(MergeConfig(mode="count", count=3), ctx)
