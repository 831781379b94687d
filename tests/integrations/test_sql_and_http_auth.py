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
    basic = acme.connection(HttpAuthConnection, "Basic", secrets={"password": "pw"}, auth="basic", username="u")
    assert await sent_headers(acme, token_server, basic) == {
        "Authorization": "Basic " + base64.b64encode(b"u:pw").decode()
    }
    bearer = acme.connection(HttpAuthConnection, "Bearer", secrets={"token": "tkn"}, auth="bearer")
    assert await sent_headers(acme, token_server, bearer) == {"Authorization": "Bearer tkn"}
    key = acme.connection(HttpAuthConnection, "Key", secrets={"api_key": "k1"}, auth="api_key", header_name="X-API-Key")
    assert await sent_headers(acme, token_server, key) == {"X-API-Key": "k1"}
    client = acme.connection(
        HttpAuthConnection,
        "Client",
        secrets={"client_secret": "s3"},
        auth="oauth2_client_credentials",
        token_url=token_server.url + "/token",
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
        HttpAuthConnection(auth="api_key")
