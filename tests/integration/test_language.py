"""The workflow language on a real Prefect server, through the public API: conditions and their
decision log, switch fallbacks, error routes, parallel branches and joins, big graphs, loops,
and hostile expressions. Each test runs its executions as one batch where it can."""

from __future__ import annotations

from tests.support import Api, edge, graph, node, publish_and_run, steps_by_node


def test_if_routes_each_run_and_explains_why(stack):
    api = Api(stack.api_url).signup()
    condition = {
        "any": [
            {"field": "trigger.amount", "operator": "greater_than", "value": 1000},
            {
                "all": [
                    {"field": "trigger.country", "operator": "equals", "value": "DE"},
                    {"field": "trigger.amount", "operator": "greater_than", "value": 100},
                ]
            },
        ]
    }
    precedence = 'trigger.vip || trigger.country == "DE" && trigger.amount > 100'  # && binds tighter
    flow = graph(
        [
            node("start", "trigger.manual"),
            node("big", "logic.if", {"condition": condition}),
            node("vip", "util.log", {"message": "vip {{ trigger.amount }}"}),
            node("normal", "util.log", {"message": "normal lead from {{ trigger.country }}"}),
            node("prec", "logic.if", {"expression": precedence}),
        ],
        [edge("start", "big"), edge("big", "vip", "true"), edge("big", "normal", "false"), edge("start", "prec")],
    )
    german, french, missing, small_vip = publish_and_run(
        api,
        "Route leads",
        flow,
        [
            {"amount": 250, "country": "DE"},
            {"amount": 250, "country": "FR"},
            {"country": "DE"},
            {"vip": True, "country": "FR", "amount": 50},
        ],
    )
    assert steps_by_node(small_vip)["prec"]["handle"] == "true"
    assert steps_by_node(small_vip)["big"]["handle"] == "false"

    assert german["status"] == french["status"] == missing["status"] == "completed"
    assert set(steps_by_node(german)) == {"start", "big", "vip", "prec"}
    assert set(steps_by_node(french)) == {"start", "big", "normal", "prec"}
    decision = steps_by_node(german)["big"]["decision"]
    assert decision["branch"] == "true" and decision["values"]["trigger.amount"] == 250
    assert 'trigger.country ("DE") equals "DE"' in decision["explanation"]
    assert decision["explanation"].endswith("so the run took the 'true' path.")
    fallback = steps_by_node(missing)["big"]["decision"]
    assert fallback["branch"] == "false" and "amount" in fallback["error"]
    assert "could not be checked" in fallback["explanation"]


def test_switch_first_match_wins_default_and_undecidable_error_route(stack):
    api = Api(stack.api_url).signup()
    cases = [
        {"name": "enterprise", "expression": "trigger.seats >= 100"},
        {"name": "team", "expression": "trigger.seats >= 5"},
    ]
    flow = graph(
        [
            node("start", "trigger.manual"),
            node("plan", "logic.switch", {"cases": cases, "on_error": "error"}),
            node("ent", "util.log", {"message": "enterprise"}),
            node("team", "util.log", {"message": "team"}),
            node("solo", "util.log", {"message": "solo"}),
            node("oops", "util.log", {"message": "could not route: {{ steps.plan.error.message }}"}),
        ],
        [
            edge("start", "plan"),
            edge("plan", "ent", "enterprise"),
            edge("plan", "team", "team"),
            edge("plan", "solo", "default"),
            edge("plan", "oops", "error"),
        ],
    )
    big, mid, small, broken = publish_and_run(
        api, "Plans", flow, [{"seats": 500}, {"seats": 10}, {"seats": 1}, {"seats": "many"}]
    )
    assert "ent" in steps_by_node(big) and "team" not in steps_by_node(big)
    assert "team" in steps_by_node(mid)
    assert "solo" in steps_by_node(small)
    assert broken["status"] == "completed"
    oops = steps_by_node(broken)["oops"]
    assert oops["output"]["message"].startswith("could not route: Case 'enterprise' could not be checked")
    assert steps_by_node(broken)["plan"]["handle"] == "error"


def test_error_route_carries_the_error_and_without_one_the_run_fails(stack, target_server):
    target_server.responses["/nope"] = (422, {"content-type": "application/json"}, b'{"error": "bad lead"}')
    api = Api(stack.api_url).signup()
    flow = graph(
        [
            node("start", "trigger.manual"),
            node("call", "http.request", {"method": "POST", "url": target_server.url + "/nope", "json_body": {}}),
            node("ok", "util.log", {"message": "fine"}),
            node("recover", "util.log", {"message": "CRM said: {{ steps.call.error.message }}"}),
        ],
        [edge("start", "call"), edge("call", "ok"), edge("call", "recover", "error")],
    )
    (run,) = publish_and_run(api, "Recover", flow, [{}])
    assert run["status"] == "completed"
    steps = steps_by_node(run)
    assert steps["call"]["status"] == "failed" and "ok" not in steps
    assert "422" in steps["recover"]["output"]["message"]


def test_fan_out_of_50_branches_joins_in_a_merge(stack):
    api = Api(stack.api_url).signup()
    branches = [
        node(f"b{i}", "data.transform", {"fields": {f"k{i}": f"{{{{ trigger.base * {i} }}}}"}}) for i in range(50)
    ]
    flow = graph(
        [
            node("start", "trigger.manual"),
            *branches,
            node("join", "logic.merge", {"mode": "all"}),
            node("sum", "util.log", {"message": "{{ steps.join.output.merged | length }} parts"}),
        ],
        [
            *(edge("start", f"b{i}") for i in range(50)),
            *(edge(f"b{i}", "join") for i in range(50)),
            edge("join", "sum"),
        ],
    )
    (run,) = publish_and_run(api, "Fan out", flow, [{"base": 2}])
    assert run["status"] == "completed", run["error"]
    merged = steps_by_node(run)["join"]["output"]["merged"]
    assert merged == {f"k{i}": 2 * i for i in range(50)}
    assert steps_by_node(run)["sum"]["output"]["message"] == "50 parts"


def test_parallel_branches_wait_on_a_slow_service_together(stack, target_server):
    api = Api(stack.api_url).signup()
    calls = [
        node(f"c{i}", "http.request", {"method": "GET", "url": f"{target_server.url}/c{i}?sleep=0.5"}) for i in range(5)
    ]
    flow = graph(
        [node("start", "trigger.manual"), *calls, node("join", "logic.merge", {"mode": "all"})],
        [*(edge("start", f"c{i}") for i in range(5)), *(edge(f"c{i}", "join") for i in range(5))],
    )
    (run,) = publish_and_run(api, "Slow fan out", flow, [{}])
    assert run["status"] == "completed", run["error"]
    steps = steps_by_node(run)
    last_start = max(steps[f"c{i}"]["started_at"] for i in range(5))
    first_end = min(steps[f"c{i}"]["ended_at"] for i in range(5))
    assert last_start < first_end, "every call should be in flight before the first one answers"


def test_a_100_step_graph_runs_every_step_in_order(stack):
    api = Api(stack.api_url).signup()
    chain = [node("start", "trigger.manual")] + [
        node(
            f"s{i}",
            "data.transform",
            {"fields": {"n": "{{ %s + 1 }}" % ("trigger.n" if i == 0 else f"steps.s{i - 1}.output.n")}},
        )
        for i in range(99)
    ]
    edges = [edge("start", "s0")] + [edge(f"s{i - 1}", f"s{i}") for i in range(1, 99)]
    (run,) = publish_and_run(api, "Long chain", graph(chain, edges), [{"n": 0}])
    assert run["status"] == "completed", run["error"]
    assert len(run["steps"]) == 100
    assert steps_by_node(run)["s98"]["output"] == {"n": 99}


def test_loop_over_200_items_collects_outputs_and_reports_failures_per_item(stack):
    api = Api(stack.api_url).signup()
    flow = graph(
        [
            node("start", "trigger.manual"),
            node("each", "logic.loop", {"items": "{{ trigger.contacts }}", "concurrency": 20}),
            node(
                "shape",
                "data.transform",
                {"fields": {"email": "{{ loop.item.email }}", "n": "{{ loop.index }}"}, "required": ["email"]},
            ),
            node(
                "after",
                "util.log",
                {"message": "{{ steps.each.output.succeeded }} ok, {{ steps.each.output.failed }} failed"},
            ),
        ],
        [edge("start", "each"), edge("each", "shape", "each"), edge("each", "after", "done")],
    )
    contacts = [{"email": f"c{i}@example.com"} for i in range(200)]
    contacts[7] = {"email": ""}
    (run,) = publish_and_run(api, "Loop", flow, [{"contacts": contacts}])
    assert run["status"] == "completed", run["error"]
    loop = steps_by_node(run)["each"]["output"]
    assert (loop["count"], loop["succeeded"], loop["failed"]) == (200, 199, 1)
    assert loop["items"][7]["status"] == "failed" and "email" in loop["items"][7]["error"]["message"]
    assert loop["items"][199]["output"] == {"email": "c199@example.com", "n": 199}
    assert steps_by_node(run)["after"]["output"]["message"] == "199 ok, 1 failed"
    item_steps = [s for s in run["steps"] if s["node_id"] == "shape"]
    assert sorted(s["item_index"] for s in item_steps) == list(range(200))


def test_hostile_expressions_fail_the_step_clearly(stack):
    api = Api(stack.api_url).signup()
    flow = graph(
        [
            node("start", "trigger.manual"),
            node("walk", "data.transform", {"fields": {"x": "{{ trigger.__class__.__mro__ }}"}}),
            node("walked", "util.log", {"message": "{{ steps.walk.error.message }}"}, 0, 100),
            node("huge", "data.transform", {"fields": {"x": "{{ range(10**9) | list }}"}}),
            node("end", "util.log", {"message": "never"}),
        ],
        [edge("start", "walk"), edge("walk", "walked", "error"), edge("walk", "huge"), edge("huge", "end")],
    )
    (run,) = publish_and_run(api, "Hostile", flow, [{"deep": [[[[[[[[[[1]]]]]]]]]]}])
    steps = steps_by_node(run)
    assert steps["walk"]["status"] == "failed"
    assert "__class__" in steps["walked"]["output"]["message"] or "unsafe" in steps["walked"]["output"]["message"]
    assert "huge" not in steps
    assert run["status"] == "completed"


def test_design_time_checks_point_at_node_and_character(stack):
    api = Api(stack.api_url).signup()
    flow = graph(
        [
            node("start", "trigger.manual"),
            node("check", "logic.if", {"expression": "trigger.amount >"}),
            node("later", "util.log", {"message": "x"}),
            node("early", "util.log", {"message": "{{ steps.later.output.message }}"}),
        ],
        [edge("start", "check"), edge("check", "later", "true"), edge("check", "early", "false")],
    )
    result = api.post("/api/v1/graphs/validate", json={"graph": flow}).json()
    paths = {e["path"]: e for e in result["errors"]}
    assert "character" in paths["nodes[1].config.expression"]["message"]
    assert "does not run before" in paths["nodes[3].config.message"]["message"]
    assert "later" not in paths["nodes[3].config.message"]["hint"].split(":")[1]
