"""A hostile tenant cannot take the platform from others by volume: its flood of held-back executions does
not delay another tenant's run, its queue is bounded (429 with Retry-After, nothing accepted is lost), its
webhook deliveries and events are counted per minute in the database (unsigned junk counts for nothing),
and its live streams are bounded.

The quotas are lowered for the attacking tenants only, through their `tenant_quotas` row (as an operator
would), so the shared stack keeps its defaults for every other test."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import httpx
import pytest
from sqlalchemy import func, select, update

from store import Execution, ExecutionStatus, Tenant, TenantMinuteCount, TenantQuota, TriggerKind, count_one
from store.db import get_session_factory
from tests.engine.support import platform_db_url
from tests.platform_rows import add_tenant, add_workflow
from tests.support import Api, edge, graph, node

FLOOD = 1050  # beyond the dispatcher's old window (batch_size * 10 oldest queued executions of all tenants)
FLOOD_CLIENTS = 4  # concurrent clients: enough to flood, few enough to leave a shared database connections
HOLD_SECONDS = 90  # how long the flooding tenant's one admitted execution keeps its `queue` policy busy


def _publish(api: Api, flow: dict, **settings) -> str:
    created = api.post("/api/v1/workflows", json={"name": f"wf {uuid.uuid4().hex[:6]}", "graph": flow})
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]
    if settings:
        assert api.put(f"/api/v1/workflows/{workflow_id}", json=settings).status_code == 200
    published = api.post(f"/api/v1/workflows/{workflow_id}/publish")
    assert published.status_code == 200, published.text
    return workflow_id


def _held_flow(target_url: str) -> dict:
    """One slow call: under the `queue` policy, everything behind the first execution waits."""
    return graph(
        [
            node("start", "trigger.manual"),
            node(
                "call",
                "http.request",
                {"url": f"{target_url}/slow?sleep={HOLD_SECONDS}", "timeout_seconds": HOLD_SECONDS + 30},
            ),
        ],
        [edge("start", "call")],
    )


def _quick_flow() -> dict:
    return graph([node("start", "trigger.manual"), node("log", "util.log", {"message": "hi"})], [edge("start", "log")])


def _tenant_id(api: Api) -> str:
    return api.signup_body["tenant"]["id"]


def _set_quota(stack, api: Api, **quotas: int) -> None:
    with get_session_factory(platform_db_url(stack)).begin() as db:
        db.merge(TenantQuota(tenant_id=_tenant_id(api), **quotas))


def _count(stack, workflow_id: str, *statuses: str) -> int:
    with get_session_factory(platform_db_url(stack))() as db:
        query = select(func.count()).select_from(Execution).where(Execution.workflow_id == workflow_id)
        if statuses:
            query = query.where(Execution.status.in_(statuses))
        return db.scalar(query) or 0


def _cancel_backlog(stack, workflow_id: str) -> None:
    """Leave the shared stack idle: the held backlog would otherwise run one by one after the test."""
    with get_session_factory(platform_db_url(stack)).begin() as db:
        db.execute(
            update(Execution)
            .where(Execution.workflow_id == workflow_id, Execution.status == ExecutionStatus.QUEUED)
            .values(status=ExecutionStatus.CANCELLED)
        )


def _wait_until(condition, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def _flood(api: Api, workflow_id: str, count: int) -> list[httpx.Response]:
    with ThreadPoolExecutor(FLOOD_CLIENTS) as pool:
        return list(
            pool.map(
                lambda i: api.post(f"/api/v1/workflows/{workflow_id}/runs", json={"input": {"i": i}}), range(count)
            )
        )


def _assert_429(response: httpx.Response, slug: str) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) >= 1
    body = response.json()
    assert body["type"].endswith(slug) and body["hint"]


def test_a_tenants_flood_held_by_its_conflict_policy_does_not_delay_another_tenants_run(stack, target_server):
    attacker, victim = Api(stack.api_url).signup(), Api(stack.api_url).signup()
    held = _publish(attacker, _held_flow(target_server.url), conflict_policy="queue")
    quick = _publish(victim, _quick_flow())
    try:
        accepted = [r for r in _flood(attacker, held, FLOOD) if r.status_code == 202]
        assert len(accepted) == FLOOD
        assert _count(stack, held, ExecutionStatus.QUEUED) >= FLOOD - 2  # one (at most two) admitted

        run = victim.post(f"/api/v1/workflows/{quick}/runs", json={"input": {}})
        assert run.status_code == 202, run.text
        assert victim.wait_for_run(run.json()["run_id"], timeout=300)["status"] == "completed"
        assert _count(stack, held, ExecutionStatus.QUEUED) >= FLOOD - 10  # the attacker's backlog still waits
    finally:
        _cancel_backlog(stack, held)


def test_beyond_its_queue_quota_a_tenant_gets_429_for_every_trigger_and_keeps_what_was_accepted(stack, target_server):
    attacker = Api(stack.api_url).signup()
    _set_quota(stack, attacker, max_queued=20)
    held = _publish(attacker, _held_flow(target_server.url), conflict_policy="queue")
    on_event = _publish(
        attacker,
        graph(
            [node("on", "trigger.event", {"event": "order.paid"}), node("log", "util.log", {"message": "x"})],
            [edge("on", "log")],
        ),
    )
    hook_flow = graph(
        [node("hook", "trigger.webhook", {"auth": "bearer"}), node("log", "util.log", {"message": "x"})],
        [edge("hook", "log")],
    )
    hooked = attacker.post("/api/v1/workflows", json={"name": "hook", "graph": hook_flow}).json()["id"]
    secret = attacker.post(f"/api/v1/workflows/{hooked}/publish").json()["webhook_secret"]
    hook_url = attacker.get(f"/api/v1/workflows/{hooked}/webhook").json()["url"]
    try:
        first = attacker.post(f"/api/v1/workflows/{held}/runs", json={"input": {}})
        assert first.status_code == 202, first.text
        _wait_until(lambda: _count(stack, held, ExecutionStatus.RUNNING) == 1)  # it holds its call; the rest will wait
        responses = _flood(attacker, held, 40)
        accepted = [first.json()["run_id"]] + [r.json()["run_id"] for r in responses if r.status_code == 202]
        refused = [r for r in responses if r.status_code != 202]
        assert len(accepted) == 21 and len(refused) == 20  # the running one and 20 waiting
        for response in refused:
            _assert_429(response, "queue-full")

        event = attacker.post("/api/v1/events", json={"name": "order.paid", "payload": {}})
        _assert_429(event, "queue-full")
        delivery = httpx.post(hook_url, json={}, headers={"Authorization": f"Bearer {secret}"})
        _assert_429(delivery, "queue-full")

        runs = attacker.get("/api/v1/runs", params={"limit": 500}).json()
        assert sorted(r["id"] for r in runs) == sorted(accepted)  # every accepted run is there, nothing else
        assert _count(stack, on_event) == _count(stack, hooked) == 0
    finally:
        _cancel_backlog(stack, held)


def _wait_for_a_fresh_minute(margin: float = 20) -> None:
    """The per-minute counts start at each minute: keep the test inside one."""
    if time.time() % 60 > 60 - margin:
        time.sleep(60 - time.time() % 60 + 0.5)


def test_webhook_deliveries_and_events_beyond_the_per_minute_quota_get_429_and_unsigned_ones_do_not_count(stack):
    attacker = Api(stack.api_url).signup()
    _set_quota(stack, attacker, webhooks_per_minute=5, events_per_minute=3)
    flow = graph(
        [node("hook", "trigger.webhook", {"auth": "bearer"}), node("log", "util.log", {"message": "x"})],
        [edge("hook", "log")],
    )
    workflow = attacker.post("/api/v1/workflows", json={"name": "hook", "graph": flow}).json()["id"]
    secret = attacker.post(f"/api/v1/workflows/{workflow}/publish").json()["webhook_secret"]
    url = attacker.get(f"/api/v1/workflows/{workflow}/webhook").json()["url"]

    def deliver(token: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.post(url, json={"n": 1}, headers=headers, timeout=30)

    _wait_for_a_fresh_minute()
    assert [deliver(None).status_code for _ in range(10)] == [401] * 10  # junk: refused, not counted
    assert [deliver("wrong-secret").status_code for _ in range(10)] == [401] * 10
    assert [deliver(secret).status_code for _ in range(5)] == [202] * 5  # the whole quota is still there
    _assert_429(deliver(secret), "tenant-rate-limited")
    assert int(deliver(secret).headers["retry-after"]) <= 60
    assert deliver(None).status_code == 401  # the signature is checked first, quota or not

    events = [attacker.post("/api/v1/events", json={"name": "anything", "payload": {}}) for _ in range(4)]
    assert [e.status_code for e in events[:3]] == [202] * 3
    _assert_429(events[3], "tenant-rate-limited")
    with get_session_factory(platform_db_url(stack))() as db:  # counted in the database: every replica sees it
        counts = dict(
            db.execute(
                select(TenantMinuteCount.kind, func.sum(TenantMinuteCount.count))
                .where(TenantMinuteCount.tenant_id == _tenant_id(attacker))
                .group_by(TenantMinuteCount.kind)
            ).all()
        )
    assert counts == {"webhook": 7, "event": 4}


def _open_stream(client: httpx.Client, url: str, streams: ExitStack) -> httpx.Response:
    """A stream kept open (200), or the refusal read in full."""
    response = streams.enter_context(client.stream("GET", url))
    if response.status_code != 200:
        response.read()
    return response


def test_a_tenants_live_streams_are_bounded_and_a_closed_one_frees_its_slot(stack, target_server):
    attacker = Api(stack.api_url).signup()
    held = _publish(attacker, _held_flow(target_server.url), conflict_policy="queue")
    most = 20  # quotas.sse_streams, the default
    try:
        run_ids = [r.json()["run_id"] for r in _flood(attacker, held, 3)]
        url = f"{stack.api_url}/api/v1/runs/{run_ids[-1]}/events"  # queued behind the first: it does not end
        with httpx.Client(headers=attacker.headers(), timeout=30) as client, ExitStack() as streams:
            opened = [_open_stream(client, url, streams) for _ in range(most)]
            assert {s.status_code for s in opened} == {200}
            _assert_429(_open_stream(client, url, streams), "too-many-streams")
            opened[0].close()
            deadline = time.monotonic() + 20
            while _open_stream(client, url, streams).status_code == 429:
                assert time.monotonic() < deadline, "a closed stream never freed its slot"
                time.sleep(0.5)
    finally:
        _cancel_backlog(stack, held)


def test_the_queue_quota_counts_what_waits_and_refuses_with_a_problem(tenant, platform_db_url):
    """In-process, dispatcher off: accepted runs stay queued, so the quota is reached exactly."""
    with get_session_factory(platform_db_url).begin() as db:
        owner = db.get_one(Tenant, tenant.signup_body["tenant"]["id"])
        workflow_id = add_workflow(db, owner).id  # published, with a deployment: a live run needs no Prefect
        db.merge(TenantQuota(tenant_id=owner.id, max_queued=3))
    answers = [tenant.post(f"/api/v1/workflows/{workflow_id}/runs", json={"input": {}}) for _ in range(5)]
    assert [a.status_code for a in answers] == [202] * 3 + [429] * 2
    _assert_429(answers[-1], "queue-full")
    assert sorted(r["id"] for r in tenant.get("/api/v1/runs").json()) == sorted(a.json()["run_id"] for a in answers[:3])


# --- the per-minute counter itself: one atomic upsert, shared by every API replica -------------------


@pytest.fixture
def counter_db(platform_db_url: str) -> Iterator[tuple[str, str]]:
    sessions = get_session_factory(platform_db_url)
    with sessions.begin() as db:
        tenant_id = add_tenant(db).id
    yield platform_db_url, tenant_id


def test_concurrent_counts_of_one_minute_are_each_counted_once(counter_db):
    url, tenant_id = counter_db
    sessions = get_session_factory(url)
    seen: list[int] = []
    lock = threading.Lock()

    def count() -> None:
        with sessions() as db:
            value = count_one(db, tenant_id=tenant_id, kind=TriggerKind.WEBHOOK, minute=1000)
            db.commit()
        with lock:
            seen.append(value)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: count(), range(40)))
    assert sorted(seen) == list(range(1, 41))


def test_a_new_minute_starts_from_one_and_old_minutes_are_forgotten(counter_db):
    url, tenant_id = counter_db
    with get_session_factory(url)() as db:
        for minute, expected in ((10, 1), (10, 2), (11, 1), (13, 1), (13, 2)):
            assert count_one(db, tenant_id=tenant_id, kind=TriggerKind.EVENT, minute=minute) == expected
            db.commit()
        assert count_one(db, tenant_id=tenant_id, kind=TriggerKind.WEBHOOK, minute=13) == 1  # kinds apart
        db.commit()
        kept = db.scalars(
            select(TenantMinuteCount.minute).where(
                TenantMinuteCount.tenant_id == tenant_id, TenantMinuteCount.kind == TriggerKind.EVENT
            )
        ).all()
    assert sorted(kept) == [13]


def test_a_stream_holds_its_slot_until_it_ends_or_is_dropped():
    import asyncio

    from platform_api.limits import StreamSlots
    from platform_api.problems import Problem

    slots = StreamSlots()

    async def stream() -> AsyncIterator[str]:
        yield "event"

    async def drain(events: AsyncIterator[str]) -> None:
        async for _ in events:
            pass

    first, second = stream(), stream()
    slots.open("t", first, most=1)
    with pytest.raises(Problem) as refused:
        slots.open("t", second, most=1)
    assert refused.value.status == 429 and refused.value.headers and "Retry-After" in refused.value.headers
    assert slots.open("other tenant", stream(), most=1) is None
    asyncio.run(drain(first))  # ended
    slots.open("t", second, most=1)
    del second, refused  # dropped before it started (the refusal's traceback held it too)
    assert slots.open_count("t") == 0
