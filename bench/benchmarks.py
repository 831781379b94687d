"""The benchmarks. Each takes a running stack and a target server and returns rows for the table:
(benchmark, metric, Flowyard figure, raw process-worker figure, raw in-process figure, note)."""

from __future__ import annotations

import collections
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from prefect.client.schemas.actions import DeploymentUpdate
from sqlalchemy import select, update

from bench import raw
from bench.flowyard_runs import Platform, _epoch, benchmark_graph, chain, node, waiting_graph
from bench.stack import Stack, rss_mb
from flow_factory.interpreter import FLOW_NAME
from store import Execution, ExecutionStatus

# Sized so that `python -m bench` (both backends) ends well within 15 minutes on 2 cores: a SQLite Prefect
# server does a fraction of PostgreSQL's work per second, so its loads are smaller. The latency rate is one
# the machine sustains: an execution that runs alone is one flow run and four task runs, about 0.5 s of
# Prefect server CPU (bench/README.md), so at 1/s Prefect's one core is mostly busy and the row would
# measure queueing.
SIZES = {
    "sqlite": dict(
        burst=300,
        raw_process=3,
        raw_in_process=8,
        latency_rate=0.5,
        latency_runs=30,
        api_rounds=4,
        waiting=2000,
        in_flight=1000,
        flood_held=1100,
        flood_running=100,
        fairness_runs=10,
    ),
    "postgres": dict(
        burst=1000,
        raw_process=3,
        raw_in_process=12,
        latency_rate=0.5,
        latency_runs=30,
        api_rounds=6,
        waiting=5000,
        in_flight=1000,
        flood_held=1100,
        flood_running=300,
        fairness_runs=10,
    ),
}
RAW_IN_PROCESS_CONCURRENCY = 10
IDLE_SECONDS = 5
API_CLIENTS = 8


def load_average() -> str:
    """The 1-minute load average now: the machine may be shared, and every figure depends on it."""
    return f"load average {os.getloadavg()[0]:.1f}"


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * p / 100
    low, high = int(k), min(int(k) + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (k - low)


def lat(values: list[float], unit: float = 1.0) -> str:
    return " / ".join(f"{pct(values, p) * unit:.0f}" if unit != 1 else f"{pct(values, p):.2f}" for p in (50, 95, 99))


HOP_LABELS = {
    "created->claimed": "claim",
    "claimed->flow run created": "flow run",
    "flow run created->Pending (pick-up)": "pick-up",
    "Pending->Running (engine start)": "start",
    "Running->execution running": "load",
    "steps (first start->last end)": "steps",
    "last step->execution ended": "finish",
}


def hop_summary(rows: list[dict[str, float]]) -> str:
    """p50 (p95) of each hop from the trigger's acceptance to `ended_at`, in ms."""
    parts = [
        f"{label} {pct([r[key] for r in rows], 50) * 1000:.0f} ({pct([r[key] for r in rows], 95) * 1000:.0f})"
        for key, label in HOP_LABELS.items()
    ]
    return "hops p50 (p95) ms: " + ", ".join(parts)


ENCRYPTION_SETTING = "FLOWYARD_KEYS__ENCRYPT_PAYLOADS"  # off only for the comparison below, never in production
ENCRYPTION_TARGET = 0.9  # throughput with payload encryption on >= 90% of off (issue 22)


def flowyard_burst(stack, target) -> dict:
    """A burst of triggers of the benchmark workflow on a fresh tenant: executions/s from the first trigger to the
    last `ended_at`, and what it cost the three processes."""
    burst = SIZES[stack.backend]["burst"]
    platform = Platform(stack)
    workflow = platform.publish(benchmark_graph(target.url))
    payloads = [{"key": f"t{i}", "x": 5, "tag": "burst"} for i in range(burst)]
    cpu_before, began = stack.cpu(), time.time()
    sent = platform.burst(workflow, payloads)
    accepted = time.time()
    platform.wait_for(workflow, ("completed", "failed"), len(sent), timeout=600)
    cpu = {name: (used - cpu_before[name]) * 1000 / len(sent) for name, used in stack.cpu().items()}
    ended = platform.ended([run_id for run_id, _ in sent])
    last = max(e[1] for e in ended.values())
    completed = sum(e[0] == "completed" for e in ended.values())
    return {
        "per_second": completed / (last - began),
        "batches": len({e[2] for e in ended.values()}),
        "accepted_per_second": len(sent) / (accepted - began),
        "cpu": cpu,
        "rejected": platform.rejected,
        "load": load_average(),
    }


def cpu_note(cpu: dict[str, float]) -> str:
    return f"CPU ms per execution: API {cpu['api']:.1f}, worker {cpu['worker']:.1f}, Prefect {cpu['prefect']:.1f}"


def throughput(stack, target) -> list[tuple]:
    """End-to-end executions/s under a burst of concurrent triggers, against raw Prefect."""
    size = SIZES[stack.backend]
    burst, process_runs, in_process_runs = size["burst"], size["raw_process"], size["raw_in_process"]
    run = flowyard_burst(stack, target)
    flowyard = run["per_second"]

    process = raw.through_process_pool(stack, target.url, process_runs)
    prefect_before = stack.cpu()["prefect"]
    in_process = raw.in_process(stack, target.url, in_process_runs, RAW_IN_PROCESS_CONCURRENCY)
    raw_prefect_cpu = (stack.cpu()["prefect"] - prefect_before) * 1000 / in_process_runs
    notes = [
        run["load"],
        f"{flowyard / process['per_second']:.0f}x process, {flowyard / in_process['per_second']:.1f}x in-process",
        f"{run['batches']} flow runs",
        f"triggers accepted at {run['accepted_per_second']:.0f}/s",
        f"{cpu_note(run['cpu'])} (raw in-process: Prefect {raw_prefect_cpu:.0f})",
    ]
    if run["rejected"]:
        notes.append(f"{run['rejected']} triggers rejected")
    if in_process["failed"] or process["completed"] < process["n"]:
        notes.append(
            f"raw runs failed: {process['n'] - process['completed']} process, {in_process['failed']} in-process"
        )
    return [
        (
            "throughput",
            f"executions/s, burst of {burst} (raw: {process_runs} / {in_process_runs} runs)",
            f"{flowyard:.1f}",
            f"{process['per_second']:.2f}",
            f"{in_process['per_second']:.2f}",
            "; ".join(notes),
        )
    ], {"raw_process": process, "raw_in_process": in_process, "flowyard": run}


def throughput_encryption_off(backend: str, target) -> dict:
    """The Flowyard burst of `throughput` on a stack of its own with payload encryption off
    (FLOWYARD_KEYS__ENCRYPT_PAYLOADS=false: plain JSON at rest, for this comparison only)."""
    stack = Stack(backend, **{ENCRYPTION_SETTING: "false"})
    try:
        return flowyard_burst(stack.start(), target)
    finally:
        stack.stop()  # also when it did not start: its PostgreSQL databases are dropped


def encryption_comparison(backend: str, on: dict | None, off: dict | Exception) -> list[tuple]:
    """The encryption-off row and the on/off ratio, PASS when on >= ENCRYPTION_TARGET of off."""
    burst = SIZES[backend]["burst"]
    metric = f"executions/s, burst of {burst}, payload encryption OFF"
    if isinstance(off, Exception):
        return [("throughput", metric, "FAILED", "-", "-", f"{type(off).__name__}: {off}"[:120])]
    notes = [
        off["load"],
        f"{ENCRYPTION_SETTING}=false: for this comparison only, never in production",
        f"{off['batches']} flow runs",
        f"triggers accepted at {off['accepted_per_second']:.0f}/s",
        cpu_note(off["cpu"]),
    ]
    if off["rejected"]:
        notes.append(f"{off['rejected']} triggers rejected")
    rows = [("throughput", metric, f"{off['per_second']:.1f}", "-", "-", "; ".join(notes))]
    if on is None:
        return rows
    ratio = on["per_second"] / off["per_second"]
    cpu = "; ".join(f"{name} {on['cpu'][name]:.1f} / {off['cpu'][name]:.1f}" for name in ("api", "worker", "prefect"))
    rows.append(
        (
            "throughput",
            f"payload encryption on / off, executions/s (target >= {ENCRYPTION_TARGET:.0%})",
            f"{ratio:.2f} {'PASS' if ratio >= ENCRYPTION_TARGET else 'MISS'}",
            "-",
            "-",
            f"on {on['per_second']:.1f}/s, off {off['per_second']:.1f}/s: one burst each, each on a fresh stack "
            f"(off first); CPU ms per execution on / off: {cpu}",
        )
    )
    return rows


def latency_and_overhead(stack, target, raw_in_process: dict) -> list[tuple]:
    """Trigger-to-completed latency at a fixed offered load, and per-step overhead (task start -> HTTP call)."""
    rate, runs = SIZES[stack.backend]["latency_rate"], SIZES[stack.backend]["latency_runs"]
    platform = Platform(stack)
    workflow = platform.publish(benchmark_graph(target.url))
    payloads = [{"key": f"l{i}", "x": 5, "tag": "lat"} for i in range(runs)]
    idle_before, idle_began = stack.cpu(), time.time()
    time.sleep(IDLE_SECONDS)  # what the processes use with nothing to do (polls, heartbeats, Prefect's services)
    cpu_before, began = stack.cpu(), time.time()
    idle_rate = {name: (cpu_before[name] - idle_before[name]) / (began - idle_began) for name in cpu_before}
    sent = platform.paced(workflow, payloads, rate)
    platform.wait_for(workflow, ("completed", "failed"), len(sent), timeout=300)
    seconds = time.time() - began
    cpu = {
        name: (used - cpu_before[name] - idle_rate[name] * seconds) * 1000 / len(sent)
        for name, used in stack.cpu().items()
    }
    ended = platform.ended([run_id for run_id, _ in sent])
    latencies = [ended[run_id][1] - t for run_id, t in sent]

    hops = [platform.hops(run_id, t) for run_id, t in sent if ended[run_id][0] == "completed"]
    starts = raw.call_start_times(stack, list({e[2] for e in ended.values()}))
    overhead = [
        target.arrivals[f"/lat/{run_id}"] - starts[ended[run_id][2]]
        for run_id, _ in sent
        if f"/lat/{run_id}" in target.arrivals and ended[run_id][2] in starts
    ]

    # raw in-process: one run at a time (the load it sustains) for latency; overhead from the throughput runs
    single = raw.in_process(stack, target.url, 5, 1)
    raw_latency = [end - start for _, start, end in single["runs"]]
    raw_starts = raw.call_start_times(stack, [str(f) for f, _, _ in raw_in_process["runs"]])
    raw_overhead = [
        target.arrivals[f"/raw/{key}"] - raw_starts[str(f)]
        for key, (f, _, _) in zip(raw_in_process["keys"], raw_in_process["runs"], strict=True)
        if f"/raw/{key}" in target.arrivals and str(f) in raw_starts
    ]
    return [
        (
            "latency",
            f"trigger->completed p50/p95/p99 s at {rate:g}/s offered (raw: 1 at a time)",
            lat(latencies),
            "-",
            lat(raw_latency),
            f"{load_average()}; {runs} executions; {hop_summary(hops)}; CPU ms per execution beyond idle: API {cpu['api']:.0f}, "
            f"worker {cpu['worker']:.0f}, Prefect {cpu['prefect']:.0f} (idle: Prefect "
            f"{idle_rate['prefect'] * 1000:.0f} ms/s)",
        ),
        (
            "overhead",
            "per step: task start -> HTTP call, p50/p95/p99 ms",
            lat(overhead, 1000),
            "-",
            lat(raw_overhead, 1000),
            f"{len(overhead)} calls",
        ),
    ]


RESPOND_DELIVERIES = 30
RESPOND_TARGET_P50_MS = 150  # issue 20; n8n 1.123 answers the same workflow in 18 ms (p50) on this machine kind
N8N_RESPOND_P50_MS = 18


def respond_graph(url: str) -> dict:
    """trigger.webhook (respond when done) -> logic.if -> http.request -> data.transform -> webhook.respond"""
    return chain(
        node("hook", "trigger.webhook", {"respond": "when_done", "rate_limit_per_minute": 60_000}),
        node("check", "logic.if", {"expression": "trigger.body.x > 3"}),
        node("call", "http.request", {"method": "POST", "url": url + "/respond/{{ execution.id }}", "json_body": {}}),
        node(
            "shape",
            "data.transform",
            {"fields": {"key": "{{ trigger.body.key }}", "status": "{{ steps.call.output.status_code }}"}},
        ),
        node("answer", "webhook.respond", {"body": "{{ steps.shape.output }}"}),
        handles={"check": "true"},
    )


def respond_latency(stack, target) -> list[tuple]:
    """Webhook in, answer out: one client sends signed deliveries one after another to a workflow that answers
    when done, and times each answer; raw Prefect runs the same steps in-process, one at a time."""
    import json

    import httpx

    from platform_api.triggers.signatures import sign

    platform = Platform(stack)
    workflow_id = platform.publish(respond_graph(target.url))
    secret = platform.http.post(f"/api/v1/workflows/{workflow_id}/webhook/rotate", json={}).json()["secret"]
    url = platform.http.get(f"/api/v1/workflows/{workflow_id}/webhook").json()["url"]

    def deliver(client: httpx.Client, k: int) -> float:
        body = json.dumps({"key": f"r{k}", "x": 5}).encode()
        headers = {"content-type": "application/json", "X-Delivery-Id": f"{workflow_id}-{k}"}
        headers["X-Flowyard-Signature"] = sign(secret, body, delivery_id=headers["X-Delivery-Id"])
        sent = time.perf_counter()
        answer = client.post(url, content=body, headers=headers)
        assert answer.status_code == 200, f"delivery {k}: {answer.status_code} {answer.text[:200]}"
        return time.perf_counter() - sent

    with httpx.Client(timeout=60) as client:
        for k in range(3):  # warm-up: not counted
            deliver(client, -1 - k)
        cpu_before = stack.cpu()
        latencies = [deliver(client, k) for k in range(RESPOND_DELIVERIES)]
        cpu = {name: (used - cpu_before[name]) * 1000 / RESPOND_DELIVERIES for name, used in stack.cpu().items()}
    single = raw.in_process(stack, target.url, 5, 1)
    p50 = pct(latencies, 50) * 1000
    verdict = "PASS" if p50 <= RESPOND_TARGET_P50_MS else "MISS"
    return [
        (
            "respond",
            "webhook in -> answer out, 5 steps, 1 client, p50/p95/p99 ms (raw: in-process run, 1 at a time)",
            lat(latencies, 1000),
            "-",
            lat([end - start for _, start, end in single["runs"]], 1000),
            f"{load_average()}; target p50 <= {RESPOND_TARGET_P50_MS} ms: {verdict} (n8n 1.123: {N8N_RESPOND_P50_MS} ms); "
            f"{RESPOND_DELIVERIES} deliveries; CPU ms per execution: API {cpu['api']:.0f}, worker {cpu['worker']:.0f}, "
            f"Prefect {cpu['prefect']:.0f}",
        )
    ]


def capacity(stack, target, raw_process: dict) -> list[tuple]:
    """Executions waiting in a delay (5,000 on PostgreSQL) hold no worker slot; worker and Prefect RSS with 1,000
    in flight."""
    waiting_n, in_flight_n = SIZES[stack.backend]["waiting"], SIZES[stack.backend]["in_flight"]
    platform = Platform(stack)
    worker, prefect = stack.worker_pid(), stack.prefect_pid()
    rss_idle = rss_mb(worker)
    waiting = platform.publish(waiting_graph())
    began = time.time()
    parked_runs = len(platform.burst(waiting, [{"n": i} for i in range(waiting_n)]))
    platform.wait_for(waiting, ("waiting",), parked_runs, timeout=600)
    parked = time.time() - began
    with raw.client(stack) as c:
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType

        running = len(
            c.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=["RUNNING", "PENDING"]))
                )
            )
        )
    rss_waiting, prefect_waiting = rss_mb(worker), rss_mb(prefect)

    hold = platform.publish(
        chain(
            node("start", "trigger.manual", {}),
            node(
                "call",
                "http.request",
                {"method": "POST", "timeout_seconds": 300, "url": target.url + "/hold/{{ execution.id }}"},
            ),
            node("done", "util.log", {"message": "released"}),
        )
    )
    lift_batch_limits(stack, platform, hold, in_flight_n)
    target.released.clear()
    accepted = len(platform.burst(hold, [{"n": i} for i in range(in_flight_n)]))
    # all of them, or as many as the worker's flow-run limit lets in (the rest wait, queued or pending)
    in_flight = platform.wait_steady(hold, ("running",), accepted, timeout=300)
    rss_flight, prefect_flight, held = rss_mb(worker), rss_mb(prefect), target.held
    target.release()
    platform.wait_for(hold, ("completed", "failed"), accepted, timeout=300)
    per_process = raw_process["peak_rss_mb"] / max(1, raw_process["peak_processes"])
    return [
        (
            "capacity",
            f"{waiting_n} executions waiting in logic.delay: flow runs holding a slot",
            f"{running}",
            "-",
            "-",
            f"{load_average()}; {parked_runs} parked in {parked:.0f} s"
            + (f" ({platform.rejected} triggers rejected)" if platform.rejected else "")
            + f"; worker RSS {rss_waiting:.0f} MB "
            f"(idle {rss_idle:.0f}), Prefect RSS {prefect_waiting:.0f} MB",
        ),
        (
            "capacity",
            f"worker RSS MB with {in_flight} executions in flight",
            f"{rss_flight:.0f}",
            f"~{per_process * in_flight_n / 1024:.0f} GB (extrapolated)",
            "-",
            f"{held} HTTP calls held at once; Prefect RSS {prefect_flight:.0f} MB; raw process worker "
            f"~{per_process:.0f} MB per in-flight run",
        ),
    ]


def lift_batch_limits(stack, platform: Platform, workflow_id: str, limit: int) -> None:
    """Let Prefect start up to `limit` batches of the workflow at once (by default its deployment takes 10 and its
    tenant's work queue 20): a burst makes batches of a few dozen, and here the worker is to hold them all."""
    name = platform.http.get(f"/api/v1/workflows/{workflow_id}").json()["deployment_name"]
    with raw.client(stack) as c:
        deployment = c.read_deployment_by_name(f"{FLOW_NAME}/{name}")
        c.update_deployment(deployment.id, DeploymentUpdate(concurrency_limit=limit))
        queue = c.read_work_queue_by_name(deployment.work_queue_name, work_pool_name=deployment.work_pool_name)
        c.update_work_queue(queue.id, concurrency_limit=limit)


def api_latency(stack, target) -> list[tuple]:
    """Platform API p95/p99 under API_CLIENTS concurrent clients, and Prefect's API for the same kinds of calls.
    A call answered 5xx counts as an error (its time is kept); a failed create ends that client's round."""
    rounds = SIZES[stack.backend]["api_rounds"]
    platform = Platform(stack)
    graph = benchmark_graph(target.url)
    timings: dict[str, list[float]] = collections.defaultdict(list)
    errors: collections.Counter = collections.Counter()
    failures: dict[str, set[str]] = collections.defaultdict(set)
    lock = threading.Lock()

    def timed(name: str, call):
        """The call's answer, or None if it failed (answered >= 400, or raised: its time is kept)."""
        start = time.perf_counter()
        try:
            response = call()
        except Exception as exc:  # e.g. a connection reset: one failed call, not a failed benchmark
            response = exc
        failed = isinstance(response, Exception) or getattr(response, "status_code", 200) >= 400
        with lock:
            timings[name].append(time.perf_counter() - start)
            if failed:
                errors[name] += 1
                if isinstance(response, Exception):
                    failures[name].add(f"{type(response).__name__}: {response}"[:80])
        return None if failed else response

    def client_loop(_: int) -> None:
        http = platform.http
        for _ in range(rounds):
            timed("validate", lambda: http.post("/api/v1/graphs/validate", json={"graph": graph}))
            created = timed(
                "create",
                lambda: http.post("/api/v1/workflows", json={"name": f"api {uuid.uuid4().hex[:8]}", "graph": graph}),
            )
            if created is None:
                continue
            workflow_id = created.json()["id"]
            timed("publish", partial(http.post, f"/api/v1/workflows/{workflow_id}/publish"))
            timed("list", lambda: http.get("/api/v1/workflows"))
            timed("read", partial(http.get, f"/api/v1/workflows/{workflow_id}"))

    with ThreadPoolExecutor(API_CLIENTS) as pool:
        list(pool.map(client_loop, range(API_CLIENTS)))

    with raw.client(stack) as c:
        flow_id = c.create_flow_from_name("api-bench")

    # Prefect's own client, as a Prefect user (and Flowyard's publish) calls it: it retries the 503s that a
    # SQLite Prefect server answers when its database is locked. Raw HTTP would see them as failures, and
    # connection resets after them: the server drops the connection after such a 503 without saying so.
    def prefect_loop(_: int) -> None:
        with raw.client(stack) as c:
            for _ in range(rounds):
                created = timed(
                    "create deployment", lambda: c.create_deployment(flow_id, f"d-{uuid.uuid4().hex[:8]}", paused=True)
                )
                timed("list deployments", lambda: c.read_deployments(limit=50))
                if created is not None:
                    timed("read deployment", partial(c.read_deployment, created))

    with ThreadPoolExecutor(API_CLIENTS) as pool:
        list(pool.map(prefect_loop, range(API_CLIENTS)))

    def figure(name: str) -> str:
        values = timings[name]
        failed = f" ({errors[name]} of {len(values)} failed)" if errors[name] else ""
        return f"{pct(values, 95) * 1000:.0f} / {pct(values, 99) * 1000:.0f}{failed}"

    def note(name: str) -> str:
        parts = [f"raw = Prefect API {raw_for[name]} (Prefect's client)"] if name in raw_for else []
        parts += sorted(failures[name] | failures.get(raw_for.get(name, ""), set()))
        return "; ".join(parts)

    raw_for = {"publish": "create deployment", "list": "list deployments", "read": "read deployment"}
    load = load_average()
    return [
        (
            "api",
            f"{name} p95/p99 ms, {API_CLIENTS} concurrent clients",
            figure(name),
            "-",
            figure(raw_for[name]) if name in raw_for else "-",
            note(name) or load,
        )
        for name in ("validate", "create", "publish", "list", "read")
    ]


def _trigger_to_start(platform: Platform, sent: list[tuple[str, float]], timeout: float = 300) -> list[float]:
    """Seconds from each trigger sent to its execution `started_at` (a worker began it)."""
    ids, deadline = [run_id for run_id, _ in sent], time.monotonic() + timeout
    while True:
        with platform.sessions() as db:
            started = dict(db.execute(select(Execution.id, Execution.started_at).where(Execution.id.in_(ids))).all())
        if all(started.get(run_id) for run_id in ids) or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    return [_epoch(started[run_id]) - t for run_id, t in sent if started.get(run_id)]


def fairness(stack, target) -> list[tuple]:
    """Tenant B's trigger -> start latency alone, then while tenant A floods: a burst held behind A's `queue`
    policy (its first execution waits in a held HTTP call) and a burst that runs. The dispatcher takes tenants
    in turn (quotas.claim_per_tenant each pass), so A's backlog does not stand in front of B's executions."""
    size = SIZES[stack.backend]
    victim, attacker = Platform(stack), Platform(stack)
    quick = victim.publish(benchmark_graph(target.url))
    pace, runs = size["latency_rate"], size["fairness_runs"]
    warm_up = victim.trigger(quick, {"key": "warm", "x": 5, "tag": "fair"})  # the first run of a deployment is slower
    victim.wait_for(quick, ("completed", "failed"), 1 if warm_up else 0, timeout=300)
    alone = _trigger_to_start(
        victim, victim.paced(quick, [{"key": f"a{i}", "x": 5, "tag": "fair"} for i in range(runs)], pace)
    )

    held = attacker.publish(
        chain(
            node("start", "trigger.manual", {}),
            node(
                "call",
                "http.request",
                {"method": "POST", "timeout_seconds": 300, "url": target.url + "/hold/{{ execution.id }}"},
            ),
        )
    )
    attacker.http.put(f"/api/v1/workflows/{held}", json={"conflict_policy": "queue"}).raise_for_status()
    running = attacker.publish(benchmark_graph(target.url))
    target.released.clear()
    began = time.time()
    accepted = len(attacker.burst(held, [{"n": i} for i in range(size["flood_held"])]))
    flooded_in = time.time() - began
    busy = attacker.burst(running, [{"key": f"f{i}", "x": 5, "tag": "flood"} for i in range(size["flood_running"])])
    sent = victim.paced(quick, [{"key": f"b{i}", "x": 5, "tag": "fair"} for i in range(runs)], pace)
    flooded = _trigger_to_start(victim, sent)
    still_held = attacker.count(held, (ExecutionStatus.QUEUED,))
    with attacker.sessions.begin() as db:  # end the held backlog: it would run one by one for an hour
        db.execute(
            update(Execution)
            .where(Execution.workflow_id == held, Execution.status == ExecutionStatus.QUEUED)
            .values(status=ExecutionStatus.CANCELLED)
        )
    target.release()
    attacker.wait_for(running, ("completed", "failed"), len(busy), timeout=600)
    return [
        (
            "fairness",
            f"tenant B trigger->start p50/p95/p99 s at {pace:g}/s while tenant A floods",
            lat(flooded),
            "-",
            "-",
            f"{load_average()}; B alone: {lat(alone)}; A: {accepted} held by `queue` (accepted in {flooded_in:.0f} s, "
            f"{still_held} still queued when B's {len(flooded)} of {runs} had started) + {len(busy)} running",
        )
    ]
