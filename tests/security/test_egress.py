"""A hostile tenant aims its steps at what is not theirs: internal addresses in every spelling, the cloud
metadata service, Flowyard's own Prefect API and platform API, or another host for a connection's
credentials. The egress policy (core.egress) refuses each one, before any byte is sent.

Unit tests use an injected resolver for names; the numeric spellings go through the system's resolver,
which maps them to loopback (that is the attack). The stack tests run on both databases."""

from __future__ import annotations

import ipaddress
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpcore
import httpx
import pytest

from core import egress
from core.egress import EgressPolicy, EgressRefused, GuardedAsyncBackend, OwnService, deny_reason
from core.settings import Settings
from tests.support import Api, RecordingServer, edge, graph, node

NAMES = {
    "evil.example": ["127.0.0.1"],
    "mixed.example": ["93.184.215.14", "127.0.0.1"],
    "metadata.example": ["169.254.169.254"],
    "public.example": ["93.184.215.14"],
    "fake.test": ["127.0.0.1"],
}


def resolver(host: str, port: int) -> list[str]:
    return NAMES.get(host) or egress.system_resolver(host, port)


def policy(*allow: str, services: tuple[OwnService, ...] = ()) -> EgressPolicy:
    return EgressPolicy(allow=allow, services=services, resolver=resolver)


REFUSED = [
    ("localhost", "loopback"),
    ("127.0.0.1", "127.0.0.1 is a loopback address"),
    ("0", "0.0.0.0 is an unspecified address"),
    ("2130706433", "127.0.0.1 is a loopback address"),
    ("0x7f.1", "127.0.0.1 is a loopback address"),
    ("017700000001", "127.0.0.1 is a loopback address"),
    ("::ffff:127.0.0.1", "embeds 127.0.0.1, a loopback address"),
    ("::", "is an unspecified address"),
    ("::1", "::1 is a loopback address"),
    ("169.254.169.254", "link-local address (cloud metadata"),
    ("metadata.example", "169.254.169.254 is a link-local address"),
    ("100.64.0.1", "shared (CGNAT) address"),
    ("10.0.0.5", "private address"),
    ("172.16.3.4", "private address"),
    ("192.168.1.1", "private address"),
    ("fc00::1", "private (unique local) address"),
    ("fe80::1", "link-local address"),
    ("224.0.0.1", "multicast address"),
    ("ff02::1", "multicast address"),
    ("255.255.255.255", "reserved address"),
    ("64:ff9b::7f00:1", "embeds 127.0.0.1"),  # NAT64
    ("2002:7f00:1::", "embeds 127.0.0.1"),  # 6to4
    ("2002:5db8:d70e::", "6to4 address"),
    ("::127.0.0.1", "IPv4-compatible address"),
    ("evil.example", "127.0.0.1 is a loopback address"),  # a name that resolves to loopback
    ("mixed.example", "127.0.0.1 is a loopback address"),  # one bad address spoils the answer
]


@pytest.mark.parametrize(("host", "said"), REFUSED)
def test_every_spelling_of_an_internal_address_is_refused(host, said):
    with pytest.raises(EgressRefused) as caught:
        policy().check_host(host, 80)
    failure = caught.value
    assert said in failure.message
    assert egress.SETTING in failure.message and egress.SETTING in (failure.hint or "")
    assert not failure.retryable  # Permanent: never retried


def test_public_addresses_pass():
    assert policy().check_host("public.example", 443) == ["93.184.215.14"]
    assert policy().check_host("8.8.8.8", 53) == ["8.8.8.8"]
    assert deny_reason(ipaddress.ip_address("64:ff9b::808:808")) is None  # NAT64 of a public address


def test_the_allow_list_opens_only_what_it_names():
    assert policy("127.0.0.1/32").check_host("evil.example", 8080) == ["127.0.0.1"]
    pinned = policy("127.0.0.1/32:8080", "crm.internal:8443")
    assert pinned.check_host("127.0.0.1", 8080) == ["127.0.0.1"]
    with pytest.raises(EgressRefused):
        pinned.check_host("127.0.0.1", 8081)
    NAMES["crm.internal"] = ["10.1.2.3"]
    assert pinned.check_host("crm.internal", 8443) == ["10.1.2.3"]
    with pytest.raises(EgressRefused):
        pinned.check_host("10.1.2.3", 8443)  # a host entry admits that name, not its address
    with pytest.raises(ValueError, match="neither a CIDR"):
        Settings(egress={"allow": ["not an entry"]})


def test_own_services_are_refused_even_when_allowed():
    services = (OwnService("the Prefect API", "127.0.0.1", 4200), OwnService("the platform API", "0.0.0.0", 8000))
    allowing = policy("127.0.0.0/8", "10.0.0.0/8", services=services)
    for host, port, label in (
        ("127.0.0.1", 4200, "the Prefect API"),
        ("evil.example", 4200, "the Prefect API"),
        ("127.0.0.2", 4200, "the Prefect API"),  # any loopback address at its port
        ("::ffff:127.0.0.1", 4200, "the Prefect API"),
        ("10.9.9.9", 8000, "the platform API"),  # listening on every address: internal ones reach it
    ):
        with pytest.raises(EgressRefused, match=f"is {label}, which is Flowyard's own service"):
            allowing.check_host(host, port)
    assert allowing.check_host("127.0.0.1", 4201) == ["127.0.0.1"]


def test_own_services_come_from_the_settings():
    settings = Settings(
        api={"host": "0.0.0.0", "port": 8100},
        database_url="postgresql+psycopg://flowyard@db.internal/flowyard",
        prefect={"api_url": "http://prefect.internal:4200/api", "database_url": "postgresql+asyncpg://p@pdb:6432/p"},
    )
    found = {(s.label, s.host, s.port) for s in egress.own_services(settings)}
    assert {
        ("the Prefect API", "prefect.internal", 4200),
        ("the platform API", "0.0.0.0", 8100),
        ("the platform database", "db.internal", 5432),
        ("the Prefect database", "pdb", 6432),
    } <= found


# --- the transport: pinned connections and redirects ---------------------------------------------


@pytest.fixture
def fake() -> Iterator[RecordingServer]:
    server = RecordingServer().start()
    yield server
    server.stop()


@pytest.fixture
def internal() -> Iterator[RecordingServer]:
    """A server on loopback the policy does not admit: it must never see a request."""
    server = RecordingServer().start()
    yield server
    server.stop()


async def get(guard: EgressPolicy, url: str, **kwargs: Any) -> httpx.Response:
    async with egress.async_client(guard, timeout=5) as client:
        response = await egress.send(client, client.build_request("GET", url), follow_redirects=True, **kwargs)
        await response.aread()
        await response.aclose()
        return response


async def test_a_name_is_resolved_once_and_the_checked_address_is_dialled(fake):
    calls: list[str] = []

    def counting(host: str, port: int) -> list[str]:
        calls.append(host)
        return resolver(host, port)

    guard = EgressPolicy(allow=[f"fake.test:{fake.port}"], resolver=counting)
    response = await get(guard, f"http://fake.test:{fake.port}/hello")
    assert response.status_code == 200 and calls == ["fake.test"]
    assert fake.requests[0].headers["Host"] == f"fake.test:{fake.port}"  # the name is kept for Host (and SNI)


@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "017700000001", "0", "[::ffff:127.0.0.1]", "localhost"])
async def test_numeric_hosts_never_connect(internal, host):
    with pytest.raises(EgressRefused):
        await get(policy(), f"http://{host}:{internal.port}/secret")
    assert internal.requests == []


async def test_a_redirect_to_loopback_is_refused_at_the_redirect(fake, internal):
    fake.responses["/go"] = (302, {"Location": f"http://127.0.0.1:{internal.port}/secret"}, b"")
    fake.responses["/go-decimal"] = (307, {"Location": f"http://2130706433:{internal.port}/secret"}, b"")
    fake.responses["/go-file"] = (302, {"Location": "file:///etc/passwd"}, b"")
    guard = policy(f"127.0.0.1/32:{fake.port}")
    for path, said in (("/go", "loopback"), ("/go-decimal", "loopback"), ("/go-file", "only http and https")):
        with pytest.raises(EgressRefused, match=said):
            await get(guard, f"http://127.0.0.1:{fake.port}{path}")
    assert internal.requests == []


async def test_a_mixed_answer_connects_to_nothing(monkeypatch):
    dialled: list[str] = []

    async def dial(self, host, port, **kwargs):
        dialled.append(host)
        raise httpcore.ConnectError("not dialled in this test")

    monkeypatch.setattr(httpcore.AnyIOBackend, "connect_tcp", dial)
    with pytest.raises(EgressRefused):
        await get(policy(), "http://mixed.example/")
    assert dialled == []


def test_the_guarded_transport_owns_the_pool():
    """httpx has no public backend option: the transport replaces its private pool (httpx pinned)."""
    transport = egress.GuardedAsyncTransport(policy())
    assert isinstance(transport._pool._network_backend, GuardedAsyncBackend)
    with egress.client(policy(), timeout=1) as client, pytest.raises(EgressRefused):
        client.get("http://127.0.0.1:9/")


# --- against the running platform ------------------------------------------------------------------


def call_graph(url: str, connection: str | None = None, method: str = "GET") -> dict[str, Any]:
    config: dict[str, Any] = {"method": method, "url": url, **({"connection": connection} if connection else {})}
    if method != "GET":
        config["json_body"] = {}
    return graph(
        [node("start", "trigger.manual"), node("call", "http.request", config, x=250)], [edge("start", "call")]
    )


def probe_run(api: Api, workflow_graph: dict[str, Any]) -> dict[str, Any]:
    created = api.post("/api/v1/workflows", json={"name": f"Probe {uuid.uuid4().hex[:8]}", "graph": workflow_graph})
    assert created.status_code == 201, created.text
    accepted = api.post(f"/api/v1/workflows/{created.json()['id']}/runs", json={"input": {}, "mode": "test"})
    assert accepted.status_code == 202, accepted.text
    run = api.wait_for_run(accepted.json()["run_id"])
    [step] = [s for s in run["steps"] if s["node_id"] == "call"]
    return step


def assert_refused(step: dict[str, Any], said: str) -> None:
    assert step["status"] == "failed", json.dumps(step)
    assert said in step["error"]["message"], json.dumps(step["error"])
    assert "FLOWYARD_EGRESS__ALLOW" in step["error"]["message"]
    assert step["attempts"] == 1 and not step["error"]["retryable"]


def test_steps_cannot_reach_flowyards_own_services(stack):
    """The stack allows 127.0.0.1/32 (its fakes), yet its Prefect API and platform API stay refused."""
    api = Api(stack.api_url).signup()
    prefect_port = stack.env["FLOWYARD_PREFECT__PORT"]
    for url in (
        stack.prefect_url + "/flow_runs/filter",
        f"http://localhost:{prefect_port}/api/flow_runs/filter",
        f"http://2130706433:{prefect_port}/api/flow_runs/filter",
    ):
        assert_refused(probe_run(api, call_graph(url, method="POST")), "is the Prefect API")
    assert_refused(probe_run(api, call_graph(stack.api_url + "/api/v1/health")), "is the platform API")
    assert_refused(probe_run(api, call_graph("http://169.254.169.254/latest/meta-data/")), "link-local")


def test_a_redirect_to_the_prefect_api_is_refused(stack, fake):
    fake.responses["/hop"] = (307, {"Location": stack.prefect_url + "/flow_runs/filter"}, b"")
    api = Api(stack.api_url).signup()
    assert_refused(probe_run(api, call_graph(fake.url + "/hop", method="POST")), "is the Prefect API")
    assert [r.path for r in fake.requests] == ["/hop"]


def test_connection_credentials_stay_under_the_base_url(stack, fake):
    """An editor points a step on an http connection at another host to collect its key: refused."""
    owner = Api(stack.api_url).signup()
    made = owner.post(
        "/api/v1/connections",
        json={
            "type": "http",
            "name": "Orders API",
            "config": {"auth": "api_key", "header_name": "X-API-Key", "base_url": "https://api.example.com/v2"},
            "secrets": {"api_key": "k-secret"},
        },
    )
    assert made.status_code == 201, made.text
    step = probe_run(owner, call_graph(fake.url + "/collect", connection=made.json()["id"]))
    assert step["status"] == "failed" and "is not under the connection's base URL" in step["error"]["message"]
    assert fake.requests == []
    missing = owner.post(
        "/api/v1/connections", json={"type": "http", "name": "No base", "config": {"auth": "none"}, "secrets": {}}
    )
    assert missing.status_code == 422 and missing.json()["errors"][0]["path"] == "config.base_url", missing.text


def test_a_connection_test_aimed_at_prefect_says_why(stack):
    owner = Api(stack.api_url).signup()
    made = owner.post(
        "/api/v1/connections",
        json={"type": "http", "name": "Prefect", "config": {"auth": "none", "base_url": stack.prefect_url}},
    )
    assert made.status_code == 201, made.text
    tested = owner.post(f"/api/v1/connections/{made.json()['id']}/test")
    assert tested.status_code == 200, tested.text
    body = tested.json()
    assert body["ok"] is False and "is the Prefect API" in body["message"] and body["hint"]
