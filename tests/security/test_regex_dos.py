"""Regular-expression and schema denial of service: a hostile tenant writes catastrophic patterns
(`^(a|a)+$` against forty `a`s and a `!` runs for minutes in `re`) into trigger schemas, output schemas
and CEL conditions, or points a `$ref` at a server. Its own calls get 422 and its own steps fail with
a clear error, fast; nothing is fetched; other tenants' runs complete and the API keeps answering."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from flow_factory.conditions import evaluate
from flow_factory.schemas import SchemaRefused, schema_issues, validate
from tests.support import Api, RecordingServer, edge, graph, node, steps_by_node

EVIL = "^(a|a)+$"
EVIL_TEXT = "a" * 40 + "!"
EVIL_SCHEMA = {"type": "object", "properties": {"code": {"type": "string", "pattern": EVIL}}}
FAST = 2.0  # seconds: a 100 ms regex budget, with room for a loaded machine


def _refused(schema: dict, instance: object) -> SchemaRefused:
    started = time.monotonic()
    with pytest.raises(SchemaRefused) as refused:
        validate(schema, instance, what="the trigger's schema", seconds=5)
    assert time.monotonic() - started < FAST
    return refused.value


# --- the validator ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "schema,instance,field,schema_path",
    [
        (EVIL_SCHEMA, {"code": EVIL_TEXT}, ("code",), "properties.code.pattern"),
        (
            {"type": "object", "patternProperties": {EVIL: {}}},
            {EVIL_TEXT: 1},
            (EVIL_TEXT,),
            f"patternProperties.{EVIL}",
        ),
        ({"type": "object", "propertyNames": {"pattern": EVIL}}, {EVIL_TEXT: 1}, (EVIL_TEXT,), "propertyNames.pattern"),
        (
            {"type": "object", "patternProperties": {EVIL: {}}, "additionalProperties": False},
            {EVIL_TEXT: 1},
            (EVIL_TEXT,),
            f"patternProperties.{EVIL}",
        ),
        (
            {"type": "object", "properties": {"tags": {"items": {"pattern": EVIL}}}},
            {"tags": ["ok", EVIL_TEXT]},
            ("tags", 1),
            "properties.tags.items.pattern",
        ),
    ],
    ids=["pattern", "patternProperties", "propertyNames", "additionalProperties", "nested"],
)
def test_a_catastrophic_pattern_stops_fast_naming_the_field_and_the_pattern(schema, instance, field, schema_path):
    refused = _refused(schema, instance)
    assert "took longer than 100 ms" in refused.message and EVIL in refused.message
    assert refused.field == field and refused.schema_path == schema_path
    assert "simplify the pattern" in refused.hint


def test_unevaluated_properties_is_refused_when_saved_and_when_applied():
    schema = {"type": "object", "patternProperties": {EVIL: {}}, "unevaluatedProperties": False}
    assert schema_issues(schema) == [
        (
            "unevaluatedProperties",
            "'unevaluatedProperties' is not supported",
            "use additionalProperties: false (with properties and patternProperties) instead",
        )
    ]
    refused = _refused(schema, {EVIL_TEXT: 1})
    assert "unevaluatedProperties" in refused.message
    hidden = {"default": {"unevaluatedProperties": False}, "$ref": "#/default"}  # a $ref into a data keyword
    (issue,) = schema_issues(hidden)
    assert "unevaluatedProperties" in issue[1]
    assert "unevaluatedProperties" in _refused(hidden, {EVIL_TEXT: 1}).message


def test_a_remote_reference_is_refused_and_never_fetched():
    server = RecordingServer().start()
    try:
        for reference in (f"{server.url}/schema.json", f"{server.url}/schema.json#/$defs/x", "other.json"):
            schema = {"$id": f"{server.url}/root.json", "type": "object", "properties": {"a": {"$ref": reference}}}
            (issue,) = schema_issues(schema)
            assert issue[0] == "properties.a.$ref" and "points outside the schema" in issue[1]
            assert "#/$defs/<name>" in issue[2]
            assert "points outside" in _refused(schema, {"a": 1}).message
        assert server.requests == []
    finally:
        server.stop()


def test_cel_matches_with_a_catastrophic_pattern_fails_fast_even_inside_or_and_exists():
    for expression in (
        f'trigger.code.matches("{EVIL}")',
        f'trigger.code.matches("{EVIL}") || true',
        f'trigger.codes.exists(c, c.matches("{EVIL}"))',
    ):
        started = time.monotonic()
        decision = evaluate(expression, {"trigger": {"code": EVIL_TEXT, "codes": [EVIL_TEXT] * 200}})
        assert time.monotonic() - started < 3 * FAST
        assert decision.exhausted and decision.result is None
        assert "took longer than 100 ms" in decision.error


def test_an_erroring_list_macro_stays_linear():
    started = time.monotonic()  # cel-python's error texts used to double at each item: 30 items took hours
    decision = evaluate("trigger.items.exists(x, x.missing == 1)", {"trigger": {"items": [{"z": 1}] * 500}})
    assert decision.result is None and time.monotonic() - started < FAST


def test_template_parameters_are_checked_with_the_same_bounds():
    from catalog.params import ParameterError, resolve

    schema = {"type": "object", "properties": {"tag": {"type": "string", "pattern": EVIL, "default": "ok"}}}
    started = time.monotonic()
    with pytest.raises(ParameterError) as refused:
        resolve(schema, {"tag": EVIL_TEXT})
    assert time.monotonic() - started < FAST
    (error,) = refused.value.errors
    assert error["path"] == "parameters.tag" and "took longer than 100 ms" in error["message"]
    with pytest.raises(ParameterError, match="unevaluatedProperties"):
        resolve({**schema, "unevaluatedProperties": False}, {})


# --- the API, in process ------------------------------------------------------------------------


def _problem(response: httpx.Response, path: str) -> dict:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["hint"] and path in {error["path"] for error in problem["errors"]}, problem
    return problem


def test_saving_an_unsafe_schema_gets_422_with_the_path(tenant):
    server = RecordingServer().start()
    try:
        for schema, path, words in [
            ({"type": "object", "unevaluatedProperties": False}, "unevaluatedProperties", "not supported"),
            ({"properties": {"a": {"$ref": f"{server.url}/s.json"}}}, "properties.a.$ref", "never fetched"),
            ({"properties": {"a": {"pattern": "a" * 1001}}}, "properties.a.pattern", "longer than 1000"),
        ]:
            flow = graph(
                [node("start", "trigger.manual", {"input_schema": schema}), node("log", "util.log", {"message": "x"})],
                [edge("start", "log")],
            )
            problem = _problem(
                tenant.post("/api/v1/workflows", json={"name": "Unsafe", "graph": flow}),
                f"graph.nodes[0].config.input_schema.{path}",
            )
            assert words in problem["detail"]
        assert server.requests == []
    finally:
        server.stop()


def test_a_run_whose_input_meets_a_catastrophic_pattern_gets_422_fast(tenant):
    flow = graph(
        [node("start", "trigger.manual", {"input_schema": EVIL_SCHEMA}), node("log", "util.log", {"message": "x"})],
        [edge("start", "log")],
    )
    workflow = tenant.post("/api/v1/workflows", json={"name": "Evil input", "graph": flow}).json()
    started = time.monotonic()
    response = tenant.post(
        f"/api/v1/workflows/{workflow['id']}/runs", json={"mode": "test", "input": {"code": EVIL_TEXT}}
    )
    assert time.monotonic() - started < FAST
    problem = _problem(response, "input.code")
    assert "took longer than 100 ms" in problem["detail"] and "simplify the pattern" in problem["hint"]


# --- the running platform -----------------------------------------------------------------------


class HealthProbe:
    """Calls GET /api/v1/health in a loop and keeps each call's latency."""

    def __init__(self, api_url: str) -> None:
        self.url, self.latencies, self._stop = api_url + "/api/v1/health", [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> HealthProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                status = client.get(self.url).status_code
                self.latencies.append((time.monotonic() - started, status))
                self._stop.wait(0.1)


def _publish(api: Api, name: str, flow: dict) -> dict:
    created = api.post("/api/v1/workflows", json={"name": name, "graph": flow})
    assert created.status_code == 201, created.text
    published = api.post(f"/api/v1/workflows/{created.json()['id']}/publish")
    assert published.status_code == 200, published.text
    return published.json()


def _hostile_workflows(api: Api) -> tuple[str, str, dict]:
    log = node("log", "util.log", {"message": "got {{ trigger }}"})
    hook = _publish(
        api,
        "Evil hook",
        graph(
            [
                node(
                    "hook",
                    "trigger.webhook",
                    {"auth": "bearer", "rate_limit_per_minute": 10_000, "payload_schema": EVIL_SCHEMA},
                ),
                log,
            ],
            [edge("hook", "log")],
        ),
    )
    manual = _publish(
        api,
        "Evil input",
        graph([node("start", "trigger.manual", {"input_schema": EVIL_SCHEMA}), log], [edge("start", "log")]),
    )
    steps = _publish(
        api,
        "Evil steps",
        graph(
            [
                node("start", "trigger.manual"),
                node(
                    "shape",
                    "data.transform",
                    {
                        "fields": {"code": "{{ trigger.code }}"},
                        "output_schema": {"properties": {"code": {"type": "string", "pattern": EVIL}}},
                    },
                ),
                node("check", "logic.if", {"expression": f'trigger.code.matches("{EVIL}")'}),
            ],
            [edge("start", "shape"), edge("start", "check")],
        ),
    )
    hook_url = api.get(f"/api/v1/workflows/{hook['id']}/webhook").json()["url"]
    return manual["id"], steps["id"], {"url": hook_url, "secret": hook["webhook_secret"]}


def test_a_tenants_catastrophic_patterns_fail_only_its_own_work(stack):
    hostile, other = Api(stack.api_url).signup(), Api(stack.api_url).signup()
    manual_id, steps_id, hook = _hostile_workflows(hostile)
    ordinary = _publish(
        other,
        "Ordinary",
        graph(
            [node("start", "trigger.manual"), node("log", "util.log", {"message": "hello {{ trigger.name }}"})],
            [edge("start", "log")],
        ),
    )

    def deliver(i: int) -> httpx.Response:
        return httpx.post(
            hook["url"],
            json={"code": EVIL_TEXT},
            headers={"Authorization": f"Bearer {hook['secret']}", "X-Delivery-Id": f"evil-{i}"},
            timeout=30,
        )

    def run(api: Api, workflow_id: str, payload: dict) -> httpx.Response:
        return api.post(f"/api/v1/workflows/{workflow_id}/runs", json={"input": payload})

    with HealthProbe(stack.api_url) as probe, ThreadPoolExecutor(max_workers=8) as pool:
        evil_calls = [pool.submit(deliver, i) for i in range(12)]
        evil_calls += [pool.submit(run, hostile, manual_id, {"code": EVIL_TEXT}) for _ in range(12)]
        evil_steps = [pool.submit(run, hostile, steps_id, {"code": EVIL_TEXT}) for _ in range(4)]
        ordinary_runs = [pool.submit(run, other, ordinary["id"], {"name": f"lead {i}"}) for i in range(6)]
        for call in evil_calls:
            response = call.result()
            assert response.status_code == 422, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            problem = response.json()
            assert "took longer than 100 ms" in problem["detail"], problem
            assert {e["path"] for e in problem["errors"]} & {"body.code", "input.code"}, problem
        for accepted in ordinary_runs:
            assert accepted.result().status_code == 202
            assert other.wait_for_run(accepted.result().json()["run_id"])["status"] == "completed"
        failed = [hostile.wait_for_run(accepted.result().json()["run_id"]) for accepted in evil_steps]

    for run_detail in failed:
        assert run_detail["status"] == "failed"
        steps = steps_by_node(run_detail)
        assert steps["shape"]["status"] == "failed" and steps["check"]["status"] == "failed"
        assert "properties.code.pattern" in steps["shape"]["error"]["message"]
        assert "took longer than 100 ms" in steps["shape"]["error"]["message"]
        assert "ran out of time" in steps["check"]["error"]["message"]
    assert len(probe.latencies) >= 10
    slowest = max(latency for latency, _ in probe.latencies)
    assert slowest < 1.0, sorted(probe.latencies)[-5:]
    assert {status for _, status in probe.latencies} == {200}
