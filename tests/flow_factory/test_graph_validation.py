import copy

import pytest

from flow_factory.graph import MAX_EDGES, MAX_NODES
from flow_factory.validation import GraphError, validate_graph


def node(node_id, node_type, **config):
    return {"id": node_id, "type": node_type, "label": node_id, "config": config, "position": {"x": 0, "y": 0}}


def edge(edge_id, source, target, handle=None):
    return {"id": edge_id, "source": source, "target": target, "source_handle": handle}


def valid_graph():
    return {
        "version": 1,
        "nodes": [
            node("start", "trigger.manual", sample={"email": "a@example.com"}),
            node("fetch", "http.request", url="https://api.example.com/users/{{ trigger.id }}"),
            node("shape", "data.transform", fields={"email": "{{ steps.fetch.output.body.email }}"}),
            node("log", "util.log", message="{{ steps.shape.output.email }} / {{ steps['fetch'].output }}"),
        ],
        "edges": [
            edge("e1", "start", "fetch"),
            edge("e2", "fetch", "shape"),
            edge("e3", "shape", "log"),
            edge("e4", "fetch", "log", "error"),
        ],
    }


def only_error(data) -> GraphError:
    errors = validate_graph(data)
    assert len(errors) == 1, errors
    return errors[0]


def test_valid_graph_has_no_errors():
    assert validate_graph(valid_graph()) == []


@pytest.mark.parametrize("data", [None, [], "graph", 42, {"nodes": "x"}, {"nodes": [None]}])
def test_never_raises_on_garbage(data):
    errors = validate_graph(data)
    assert errors and all(isinstance(error, GraphError) for error in errors)


def test_unknown_field_names_the_allowed_ones():
    graph = valid_graph()
    graph["nodes"][0]["colour"] = "red"
    error = only_error(graph)
    assert error.path == "nodes[0].colour"
    assert "Extra inputs are not permitted" in error.message
    assert error.hint == "remove the field; allowed fields are: id, type, label, config, position, disabled"


def test_unknown_field_in_nested_model_and_at_top():
    graph = valid_graph()
    graph["nodes"][1]["position"]["z"] = 3
    graph["edges"][0]["weight"] = 1
    graph["layout"] = {}
    errors = {error.path: error.hint for error in validate_graph(graph)}
    assert errors == {
        "nodes[1].position.z": "remove the field; allowed fields are: x, y",
        "edges[0].weight": "remove the field; allowed fields are: id, source, source_handle, target",
        "layout": "remove the field; allowed fields are: version, nodes, edges",
    }


def test_missing_field_and_bad_version():
    graph = valid_graph()
    del graph["edges"][0]["target"]
    graph["version"] = 2
    errors = {error.path: error for error in validate_graph(graph)}
    assert errors["edges[0].target"].hint == "add the field 'target'"
    assert "1" in errors["version"].message and "version to 1" in errors["version"].hint


@pytest.mark.parametrize("bad_id", ["1st", "my-node", "a b", "", "x" * 65])
def test_node_id_must_work_as_template_name(bad_id):
    graph = valid_graph()
    graph["nodes"][1]["id"] = bad_id
    error = only_error(graph)
    assert error.path == "nodes[1].id"
    if bad_id and len(bad_id) <= 64:
        assert "steps.<id>" in error.hint


@pytest.mark.parametrize(("key", "limit"), [("nodes", MAX_NODES), ("edges", MAX_EDGES)])
def test_size_limits(key, limit):
    graph = valid_graph()
    graph[key] = [graph[key][0]] * (limit + 1)
    error = only_error(graph)
    assert error.path == key
    assert f"{limit + 1:,} {key}" in error.message and f"{limit:,}" in error.message


def test_duplicate_node_and_edge_ids():
    graph = valid_graph()
    graph["nodes"][3]["id"] = "fetch"
    graph["edges"][3]["id"] = "e1"
    errors = {error.path: error for error in validate_graph(graph)}
    assert "duplicate node id 'fetch'" in errors["nodes[3].id"].message
    assert "nodes[1]" in errors["nodes[3].id"].message
    assert "duplicate edge id 'e1'" in errors["edges[3].id"].message
    assert errors["edges[3].id"].hint == "give every edge a unique id"


def test_unknown_node_type_suggests_close_matches():
    graph = valid_graph()
    graph["nodes"][1]["type"] = "http.requets"
    error = only_error(graph)
    assert error.path == "nodes[1].type"
    assert error.message == "unknown node type 'http.requets'"
    assert "did you mean http.request?" in error.hint
    assert "GET /api/v1/node-types" in error.hint


def test_dangling_edges():
    graph = valid_graph()
    graph["edges"].append(edge("e5", "ghost", "log"))
    graph["edges"].append(edge("e6", "shape", "nowhere"))
    errors = {error.path: error for error in validate_graph(graph)}
    assert set(errors) == {"edges[4].source", "edges[5].target"}
    assert "'ghost', which does not exist" in errors["edges[4].source"].message
    assert "'nowhere', which does not exist" in errors["edges[5].target"].message
    assert "start, fetch, shape, log" in errors["edges[5].target"].hint


def test_unknown_source_handle_lists_the_outputs():
    graph = valid_graph()
    graph["edges"][1]["source_handle"] = "true"
    error = only_error(graph)
    assert error.path == "edges[1].source_handle"
    assert error.message == "node 'fetch' (http.request) has no output 'true'"
    assert error.hint == 'use one of: null (default), "error"'


def test_trigger_has_no_error_output():
    graph = valid_graph()
    graph["edges"][0]["source_handle"] = "error"
    error = only_error(graph)
    assert error.path == "edges[0].source_handle"
    assert error.hint == "use one of: null (default)"


def test_edge_into_the_trigger():
    graph = valid_graph()
    graph["edges"].append(edge("back", "log", "start"))
    errors = validate_graph(graph)
    assert errors[0].path == "edges[4].target"
    assert errors[0].hint == "a trigger starts the workflow; it cannot have inputs"
    assert "loops" in errors[1].message  # log -> start -> ... -> log is also a cycle


def test_cycle_names_its_nodes_in_order():
    graph = valid_graph()
    graph["nodes"].append(node("again", "util.log", message="x"))
    graph["edges"] += [edge("e5", "log", "again"), edge("e6", "again", "shape")]
    error = only_error(graph)
    assert error.message == "the workflow loops: shape → log → again → shape"
    assert error.path == "nodes[2]"
    assert "remove one of the edges" in error.hint


def test_self_loop_is_a_cycle():
    graph = valid_graph()
    graph["edges"].append(edge("self", "shape", "shape"))
    assert only_error(graph).message == "the workflow loops: shape → shape"


def test_no_trigger():
    graph = valid_graph()
    graph["nodes"][0]["type"] = "util.log"
    graph["nodes"][0]["config"] = {"message": "hi"}
    errors = validate_graph(graph)
    assert [(error.path, error.message) for error in errors] == [("nodes", "the workflow has no trigger")]
    assert "trigger.manual" in errors[0].hint


def test_more_than_one_trigger():
    graph = valid_graph()
    graph["nodes"].append(node("second", "trigger.manual"))
    graph["edges"].append(edge("e5", "second", "log"))
    error = only_error(graph)
    assert error.path == "nodes[4]"
    assert "'second' is a second trigger" in error.message and "'start'" in error.message


def test_unreachable_node():
    graph = valid_graph()
    graph["nodes"].append(node("orphan", "util.log", message="x"))
    error = only_error(graph)
    assert error.path == "nodes[4]"
    assert error.message == "node 'orphan' is not connected to the trigger"
    assert "connect it" in error.hint


def test_config_schema_violations_point_at_the_field_and_use_its_description():
    graph = valid_graph()
    graph["nodes"][1]["config"] = {
        "url": "ftp://files.example.com",
        "method": "FETCH",
        "timeout_seconds": 0,
        "headers": {"X-Count": 3},
    }
    errors = {error.path: error for error in validate_graph(graph)}
    assert set(errors) == {
        "nodes[1].config.url",
        "nodes[1].config.method",
        "nodes[1].config.timeout_seconds",
        "nodes[1].config.headers.X-Count",
    }
    assert errors["nodes[1].config.url"].message == "'ftp://files.example.com' is not in the expected format"
    assert errors["nodes[1].config.url"].hint.startswith("url: Full http:// or https:// URL")
    assert "'FETCH' is not one of" in errors["nodes[1].config.method"].message
    assert errors["nodes[1].config.method"].hint == "method: HTTP method."
    assert "timeout_seconds:" in errors["nodes[1].config.timeout_seconds"].hint
    assert errors["nodes[1].config.headers.X-Count"].hint == "headers: Request headers."


def test_config_missing_required_field_and_unknown_field():
    graph = valid_graph()
    graph["nodes"][3]["config"] = {"colour": "red"}
    errors = {error.path: error for error in validate_graph(graph)}
    assert errors["nodes[3].config.message"].message == "'message' is required"
    assert errors["nodes[3].config.message"].hint.startswith("message: What to log")
    assert errors["nodes[3].config.colour"].message == "unknown field 'colour'"
    assert errors["nodes[3].config.colour"].hint == "remove the field; allowed fields are: message, level"


def test_templated_values_are_not_checked_against_the_schema_before_rendering():
    graph = valid_graph()
    graph["nodes"][1]["config"].update(
        method="{{ trigger.method }}", timeout_seconds="{{ trigger.t }}", url="{{ trigger.callback_url }}"
    )
    assert validate_graph(graph) == []


def test_transform_needs_a_field_and_required_names_must_be_fields():
    graph = valid_graph()
    graph["nodes"][2]["config"] = {"fields": {}}
    assert only_error(graph).path == "nodes[2].config.fields"
    graph["nodes"][2]["config"] = {"fields": {"email": "x"}, "required": ["email", "phone"]}
    error = only_error(graph)
    assert (error.path, error.message, error.hint) == (
        "nodes[2].config.required[1]",
        "'phone' is not one of the fields",
        "fields are: email",
    )


def test_template_syntax_error():
    graph = valid_graph()
    graph["nodes"][2]["config"]["fields"]["name"] = {"first": ["ok", "{{ trigger.first "]}
    error = only_error(graph)
    assert error.path == "nodes[2].config.fields.name.first[1]"
    assert error.message.startswith("template syntax error, line 1:")
    assert "{{" in error.hint


def test_unsupported_template_statement_is_a_syntax_error():
    graph = valid_graph()
    graph["nodes"][3]["config"]["message"] = "{% macro m() %}x{% endmacro %}"
    error = only_error(graph)
    assert error.path == "nodes[3].config.message"
    assert "{% macro %} is not supported" in error.message


def test_reference_to_a_step_that_runs_later():
    graph = valid_graph()
    graph["nodes"][1]["config"]["headers"] = {"X-Email": "{{ steps.shape.output.email }}"}
    error = only_error(graph)
    assert error.path == "nodes[1].config.headers.X-Email"
    assert error.message == "steps.shape does not run before 'fetch', so its output is not available here"
    assert error.hint.startswith("steps that run before 'fetch': start;")


def test_reference_to_a_missing_step_and_to_itself():
    graph = valid_graph()
    graph["nodes"][3]["config"]["message"] = "{{ steps.nope.output }} {{ steps.log.output }}"
    errors = validate_graph(graph)
    assert [error.path for error in errors] == ["nodes[3].config.message"] * 2
    assert errors[0].message == "steps.log is this step itself; a step cannot read its own output"
    assert errors[1].message == "steps.nope refers to a node that does not exist"
    assert errors[1].hint.startswith("steps that run before 'log': start, fetch, shape;")


def test_reference_to_a_parallel_branch():
    graph = valid_graph()
    graph["nodes"].append(node("side", "util.log", message="{{ steps.shape.output }}"))
    graph["edges"].append(edge("e5", "fetch", "side"))
    error = only_error(graph)
    assert error.path == "nodes[4].config.message"
    assert "steps.shape does not run before 'side'" in error.message


def test_invalid_input_schema_of_manual_trigger():
    graph = valid_graph()
    graph["nodes"][0]["config"] = {"input_schema": {"type": "objekt"}}
    error = only_error(graph)
    assert error.path == "nodes[0].config.input_schema.type"
    assert error.message.startswith("not a valid JSON Schema:")
    assert "remove input_schema" in error.hint


def test_trigger_sample_must_match_its_input_schema():
    graph = valid_graph()
    graph["nodes"][0]["config"] = {
        "input_schema": {"type": "object", "required": ["email"]},
        "sample": {"name": "Jane"},
    }
    error = only_error(graph)
    assert error.path == "nodes[0].config.sample"
    assert "'email' is a required property" in error.message


def test_validation_does_not_modify_its_input():
    graph = valid_graph()
    graph["nodes"][1]["config"]["method"] = "FETCH"
    before = copy.deepcopy(graph)
    validate_graph(graph)
    assert graph == before
