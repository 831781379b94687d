from jsonschema import Draft202012Validator

from flow_factory.graph import MAX_EDGES, MAX_NODES, Graph, graph_json_schema


def test_graph_defaults_fill_in_optional_fields():
    graph = Graph.model_validate({"nodes": [{"id": "start", "type": "trigger.manual"}]})
    assert graph.version == 1
    assert graph.edges == []
    node = graph.nodes[0]
    assert (node.label, node.config, node.position.x, node.position.y) == ("", {}, 0, 0)


def test_edge_source_handle_defaults_to_none():
    graph = Graph.model_validate(
        {
            "nodes": [{"id": "a", "type": "t"}],
            "edges": [{"id": "e1", "source": "a", "target": "b"}],
        }
    )
    assert graph.edges[0].source_handle is None


def test_json_schema_is_a_valid_draft_2020_12_schema_with_the_limits():
    schema = graph_json_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    assert schema["properties"]["nodes"]["maxItems"] == MAX_NODES
    assert schema["properties"]["edges"]["maxItems"] == MAX_EDGES
    node_schema = schema["$defs"]["Node"]
    assert node_schema["additionalProperties"] is False
    assert node_schema["properties"]["id"]["pattern"] == "^[A-Za-z_][A-Za-z0-9_]*$"
    assert set(node_schema["required"]) == {"id", "type"}


def test_json_schema_accepts_a_graph_pydantic_accepts_and_rejects_unknown_fields():
    validator = Draft202012Validator(graph_json_schema())
    good = {
        "version": 1,
        "nodes": [
            {"id": "start", "type": "trigger.manual", "label": "Start", "config": {}, "position": {"x": 10, "y": 20}}
        ],
        "edges": [],
    }
    assert list(validator.iter_errors(good)) == []
    Graph.model_validate(good)
    bad = {**good, "nodes": [{**good["nodes"][0], "colour": "red"}]}
    assert [error.validator for error in validator.iter_errors(bad)] == ["additionalProperties"]
