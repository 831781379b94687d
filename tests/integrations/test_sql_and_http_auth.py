"""sql.query (prefect-sqlalchemy, parameterised only) and the generic HTTP step's credentials."""

from __future__ import annotations

import base64
import json

import pytest

from blocks.execute import run_action
from blocks.http import HTTP_REQUEST, HttpAuthConnection, HttpRequestConfig
from blocks.sql import QUERY, QueryInput, SqlConnection
from core.errors import StepFailure
from core.settings import get_settings
from tests.support import RecordingServer


@pytest.fixture
def database(acme, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWYARD_INTEGRATIONS__SQL_ALLOW_SQLITE", "true")
    get_settings.cache_clear()
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    return acme.connection(SqlConnection, "Shop", secrets={"url": url})


async def test_parameterised_queries(acme, database):
    async def sql(query, **parameters):
        return await run_action(
            QUERY, acme.ctx(), database.connection_id, QueryInput(query=query, parameters=parameters)
        )

    await sql("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, spent NUMERIC)")
    inserted = await sql(
        "INSERT INTO customers (email, spent) VALUES (:email, :spent)", email="a@example.com", spent=12.5
    )
    assert inserted["row_count"] == 1
    hostile = "x'); DROP TABLE customers; --"
    await sql("INSERT INTO customers (email, spent) VALUES (:email, 0)", email=hostile)
    rows = await sql("SELECT email, spent FROM customers ORDER BY id")
    assert rows["columns"] == ["email", "spent"]
    assert [r["email"] for r in rows["rows"]] == ["a@example.com", hostile]  # a value, never SQL
    with pytest.raises(StepFailure) as caught:
        await sql("SELECT * FROM missing_table")
    assert (
        caught.value.message.startswith("The database refused the query: no such table") and not caught.value.retryable
    )
    assert await database.test_connection() == "The database accepted the connection."


async def test_sqlite_files_are_refused_unless_allowed(acme):
    block = acme.connection(SqlConnection, "Local", secrets={"url": "sqlite:////etc/passwd"})
    with pytest.raises(StepFailure, match="SQLite files on the workflow server cannot be used"):
        await run_action(QUERY, acme.ctx(), block.connection_id, QueryInput(query="SELECT 1"))


def test_query_input_limits():
    with pytest.raises(ValueError):
        QueryInput(query="SELECT 1", max_rows=5000)


async def sent_headers(tenant, server: RecordingServer, block: HttpAuthConnection) -> dict[str, str]:
    """The headers an http.request step naming this connection sent (the step runs as the interpreter runs it)."""
    config = HttpRequestConfig(url=server.url + "/api", connection=block.connection_id)
    await run_action(HTTP_REQUEST, tenant.ctx(), block.connection_id, config)
    return {
        name: value for name, value in server.requests.pop().headers.items() if name in ("Authorization", "X-API-Key")
    }


@pytest.fixture
def token_server():
    server = RecordingServer().start()
    server.responses["/token"] = (
        200,
        {"content-type": "application/json"},
        json.dumps({"access_token": "cc-token-1", "token_type": "bearer", "expires_in": 3600}).encode(),
    )
    yield server
    server.stop()


async def test_http_auth_kinds(acme, token_server):
    base = token_server.url
    basic = acme.connection(
        HttpAuthConnection, "Basic", secrets={"password": "pw"}, auth="basic", username="u", base_url=base
    )
    assert await sent_headers(acme, token_server, basic) == {
        "Authorization": "Basic " + base64.b64encode(b"u:pw").decode()
    }
    bearer = acme.connection(HttpAuthConnection, "Bearer", secrets={"token": "tkn"}, auth="bearer", base_url=base)
    assert await sent_headers(acme, token_server, bearer) == {"Authorization": "Bearer tkn"}
    key = acme.connection(
        HttpAuthConnection, "Key", secrets={"api_key": "k1"}, auth="api_key", header_name="X-API-Key", base_url=base
    )
    assert await sent_headers(acme, token_server, key) == {"X-API-Key": "k1"}
    client = acme.connection(
        HttpAuthConnection,
        "Client",
        secrets={"client_secret": "s3"},
        auth="oauth2_client_credentials",
        token_url=token_server.url + "/token",
        base_url=base + "/api",
        client_id="cid",
        scope="orders:read",
    )
    for _ in range(2):  # the token is fetched once and reused until it expires
        assert await sent_headers(acme, token_server, client) == {"Authorization": "Bearer cc-token-1"}
    [request] = [r for r in token_server.requests if r.path == "/token"]
    assert request.body == b"grant_type=client_credentials&scope=orders%3Aread"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"cid:s3").decode()
    assert "issued an access token" in await client.test_connection()


def test_http_auth_names_missing_fields():
    with pytest.raises(ValueError, match="auth 'api_key' needs header_name, api_key"):
        HttpAuthConnection(auth="api_key", base_url="https://api.example.com")
    with pytest.raises(ValueError, match="base_url"):  # required for new connections
        HttpAuthConnection(auth="none")
    with pytest.raises(ValueError, match="base_url"):
        HttpAuthConnection(auth="none", base_url="https://api.example.com/v2?key=1")
    with pytest.raises(ValueError, match="no query, fragment or user:password"):
        HttpAuthConnection(auth="none", base_url="https://user:pw@api.example.com/v2")


async def test_credentials_go_only_under_the_connection_base_url(acme, token_server):
    """An editor cannot point a step on a connection at another host (or another path) to collect its secret."""
    key = acme.connection(
        HttpAuthConnection,
        "Orders API",
        secrets={"api_key": "k1"},
        auth="api_key",
        header_name="X-API-Key",
        base_url=token_server.url + "/api/v2",
    )
    other = RecordingServer().start()
    try:
        for url in (
            other.url + "/api/v2/orders",  # another port: another origin
            token_server.url.replace("http://", "https://") + "/api/v2/orders",  # another scheme
            token_server.url + "/api/v2admin",  # not on a segment boundary
            token_server.url + "/api/v2/%2e%2e/admin",  # an escaped climb out of the prefix
            token_server.url + "/token",  # outside the prefix
        ):
            config = HttpRequestConfig(url=url, connection=key.connection_id)
            with pytest.raises(StepFailure) as caught:
                await run_action(HTTP_REQUEST, acme.ctx(), key.connection_id, config)
            assert "is not under the connection's base URL" in caught.value.message, url
            assert not caught.value.retryable
        assert other.requests == [] and token_server.requests == []
        ok = HttpRequestConfig(url=token_server.url + "/api/v2/orders?page=2", connection=key.connection_id)
        await run_action(HTTP_REQUEST, acme.ctx(), key.connection_id, ok)
        assert token_server.requests.pop().headers["X-API-Key"] == "k1"
    finally:
        other.stop()


async def test_a_redirect_out_of_the_base_url_is_refused(acme, token_server):
    token_server.responses["/api/go"] = (302, {"Location": "http://127.0.0.1:9/steal"}, b"")
    key = acme.connection(
        HttpAuthConnection,
        "Redirecting",
        secrets={"api_key": "k1"},
        auth="api_key",
        header_name="X-API-Key",
        base_url=token_server.url + "/api",
    )
    config = HttpRequestConfig(url=token_server.url + "/api/go", connection=key.connection_id)
    with pytest.raises(StepFailure, match="is not under the connection's base URL"):
        await run_action(HTTP_REQUEST, acme.ctx(), key.connection_id, config)


async def test_a_connection_saved_without_base_url_sends_nothing(acme, token_server):
    """Connections saved before base URLs existed load (Prefect validates through model_validate) but refuse."""
    legacy = HttpAuthConnection.model_validate({"auth": "bearer", "token": "t"})
    assert legacy.base_url is None
    block = acme.connection(HttpAuthConnection, "Old", secrets={"token": "tkn"}, auth="bearer", base_url=None)
    config = HttpRequestConfig(url=token_server.url + "/api", connection=block.connection_id)
    with pytest.raises(StepFailure, match="has no base URL") as caught:
        await run_action(HTTP_REQUEST, acme.ctx(), block.connection_id, config)
    assert "Settings → Connections" in caught.value.hint
    assert token_server.requests == []


async def test_sql_hosts_are_checked_before_connecting(acme, monkeypatch):
    """The database host is resolved and checked by the egress policy; Flowyard's own databases never."""
    monkeypatch.setenv("FLOWYARD_EGRESS__ALLOW", "[]")
    monkeypatch.setenv("FLOWYARD_PREFECT__DATABASE_URL", "postgresql+asyncpg://prefect@127.0.0.1:6543/prefect")
    get_settings.cache_clear()
    for name, url, said in (
        ("Metadata", "postgresql+psycopg://u:p@169.254.169.254:5432/db", "link-local"),
        ("Decimal", "postgresql+psycopg://u:p@2130706433:5433/db", "127.0.0.1 is a loopback address"),
        ("Socket", "postgresql+psycopg://u:p@/db?host=/var/run/postgresql", "host"),
        ("Prefect's", "postgresql+psycopg://u:p@localhost:6543/prefect", "FLOWYARD_EGRESS__ALLOW"),
    ):
        block = acme.connection(SqlConnection, name, secrets={"url": url})
        with pytest.raises(StepFailure, match=said) as caught:
            await run_action(QUERY, acme.ctx(), block.connection_id, QueryInput(query="SELECT 1"))
        assert not caught.value.retryable
    monkeypatch.setenv("FLOWYARD_EGRESS__ALLOW", '["127.0.0.1/32"]')
    get_settings.cache_clear()
    with pytest.raises(StepFailure, match="is the Prefect database") as caught:
        await run_action(QUERY, acme.ctx(), block.connection_id, QueryInput(query="SELECT 1"))


def test_sql_connector_pins_the_checked_address(acme, monkeypatch):
    monkeypatch.setenv("FLOWYARD_EGRESS__ALLOW", '["127.0.0.1/32"]')
    get_settings.cache_clear()
    block = acme.connection(SqlConnection, "Pinned", secrets={"url": "postgresql+psycopg://u:p@localhost:6544/shop"})
    connector = block.connector()
    assert connector.connect_args == {"hostaddr": "127.0.0.1"} or connector.connect_args == {"hostaddr": "::1"}


async def test_an_internal_token_url_is_refused(acme, token_server):
    client = acme.connection(
        HttpAuthConnection,
        "Metadata token",
        secrets={"client_secret": "s3"},
        auth="oauth2_client_credentials",
        token_url="http://169.254.169.254/latest/api/token",
        base_url=token_server.url,
        client_id="cid",
    )
    with pytest.raises(StepFailure, match="169.254.169.254 is a link-local address") as caught:
        await client.test_connection()
    assert not caught.value.retryable and token_server.requests == []
