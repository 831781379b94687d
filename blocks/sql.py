"""SQL databases through prefect-sqlalchemy's SqlAlchemyConnector: parameterised queries only.

The query text is fixed when the workflow is saved (templates are refused there); values reach the
database only as bound parameters (`:name`), so data from a trigger can never change the statement.
The URL's host is resolved once and checked by the egress policy (core.egress) before connecting, and the
driver connects to the checked address: no SQL connection reaches an internal or Flowyard's own database.
A test run's statement runs in a transaction that is rolled back: it reads what is there and changes nothing.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import BaseModel, Field, SecretStr
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from blocks.base import Action, ActionContext, ActionInput, FixedField, IntegrationBlock
from blocks.runtime import integration_settings, settings
from core import checks, egress
from core.errors import Permanent, Retryable

MAX_ROWS = 1000


class SqlConnection(IntegrationBlock):
    """A database, reached with a SQLAlchemy URL whose password is sealed."""

    slug: ClassVar[str] = "sql"
    label: ClassVar[str] = "SQL database"

    url: SecretStr = Field(description="SQLAlchemy URL, e.g. postgresql+psycopg://user:password@host:5432/db.")

    def connector(self):
        """The connector to the checked address of the URL's host (blocking: DNS; call it in a thread)."""
        from prefect_sqlalchemy import SqlAlchemyConnector

        raw = self.reveal("url") or ""
        try:
            url = make_url(raw)
        except ArgumentError:
            raise Permanent(
                "The connection's database URL is not a valid SQLAlchemy URL.",
                hint="Use the form dialect+driver://user:password@host:port/database.",
            ) from None
        if url.get_backend_name() == "sqlite":
            if not integration_settings().sql_allow_sqlite:
                raise Permanent(
                    "SQLite files on the workflow server cannot be used.",
                    hint="Connect to a database server (PostgreSQL, MySQL, SQL Server).",
                )
            return SqlAlchemyConnector(connection_info=raw)
        url, connect_args = _pinned(url)
        return SqlAlchemyConnector(connection_info=url.render_as_string(hide_password=False), connect_args=connect_args)

    async def test_connection(self) -> str:
        connector = await asyncio.to_thread(self.connector)
        await asyncio.to_thread(_run, connector, "SELECT 1", {}, 1)
        return "The database accepted the connection."


# Query parameters a driver reads as the server to reach (libpq's host=, a MySQL unix_socket=):
# they would bypass the check of the URL's host.
_ROUTING_PARAMETERS = {"host", "hostaddr", "port", "service", "unix_socket", "unix_sock", "socket", "server"}
_PSYCOPG = {"psycopg", "psycopg2", "psycopg2cffi"}


def _pinned(url: URL) -> tuple[URL, dict[str, Any]]:
    """The URL's host resolved once and checked by the egress policy; the driver then connects to that
    address: libpq through `hostaddr` (the host name stays for TLS checks), others by the address itself."""
    routed = sorted(_ROUTING_PARAMETERS & {key.lower() for key in url.query})
    if routed:
        raise Permanent(
            f"The database URL sets {', '.join(routed)} in its query; the server must be the URL's host.",
            hint="Put the host and port in the URL (user:password@host:port/database) and remove them from the query.",
        )
    if not url.host:
        raise Permanent(
            "The database URL names no host (a local socket on the workflow server).",
            hint="Use the form dialect+driver://user:password@host:port/database.",
        )
    port = url.port or egress.default_port(url.get_backend_name())
    if port is None:
        raise Permanent("The database URL names no port.", hint="Add the port: user:password@host:port/database.")
    try:
        address = egress.policy_for(settings()).check_host(url.host, port)[0]
    except OSError as exc:
        raise Retryable(
            f"Could not resolve the database host {url.host} ({exc}).",
            hint="Check the host name; the step will be retried.",
        ) from None
    if url.get_backend_name() == "postgresql" and url.get_driver_name() in _PSYCOPG:
        return url.set(port=port), {"hostaddr": address}
    return url.set(host=address, port=port), {}


class QueryInput(ActionInput):
    query: str = Field(
        min_length=1,
        max_length=20_000,
        description="One SQL statement; write values as :name and give them in parameters.",
    )
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="Values of the :name placeholders; may hold templates."
    )
    max_rows: int = Field(default=100, ge=1, le=MAX_ROWS, description="Most rows returned.")


class QueryOutput(BaseModel):
    columns: list[str] = Field(description="Column names of the result.")
    rows: list[dict[str, Any]] = Field(description="Rows, as objects keyed by column.")
    row_count: int = Field(description="Rows returned, or rows changed by an INSERT, UPDATE or DELETE.")
    rolled_back: bool = Field(default=False, description="True in test runs: the statement's changes were undone.")


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    return value


def _rows(result: Any, max_rows: int) -> dict[str, Any]:
    if not result.returns_rows:
        return {"columns": [], "rows": [], "row_count": max(result.rowcount, 0)}
    columns = list(result.keys())
    rows = [{c: _plain(v) for c, v in zip(columns, row, strict=True)} for row in result.fetchmany(max_rows)]
    return {"columns": columns, "rows": rows, "row_count": len(rows)}


def _run(connector, query: str, parameters: dict[str, Any], max_rows: int, *, rollback: bool = False) -> dict[str, Any]:
    engine = connector.get_engine()
    try:
        with engine.connect() as connection, connection.begin() as transaction:
            if rollback and connection.dialect.name == "sqlite":
                connection.exec_driver_sql("BEGIN")  # pysqlite starts none before DDL, which would then stay
            output = _rows(connection.execute(text(query), parameters), max_rows)
            if rollback:
                transaction.rollback()
            return output | {"rolled_back": rollback}
    finally:
        engine.dispose()


async def query(block: SqlConnection, data: QueryInput, ctx: ActionContext) -> dict[str, Any]:
    connector = await asyncio.to_thread(block.connector)
    try:
        return await asyncio.to_thread(
            _run, connector, data.query, data.parameters, data.max_rows, rollback=ctx.test_mode
        )
    except DBAPIError as exc:
        said = checks.excerpt(str(exc.orig).splitlines()[0] if exc.orig else exc)
        if exc.connection_invalidated or isinstance(exc.orig, ConnectionError) or "connect" in said.lower():
            raise Retryable(
                f"Could not reach the database: {said}",
                hint="Check the host, port and credentials; the step will be retried.",
            ) from None
        raise Permanent(
            f"The database refused the query: {said}",
            hint="Check the SQL, and that every :name in it has a value in parameters.",
        ) from None
    except SQLAlchemyError as exc:
        raise Permanent(
            f"The query failed: {checks.excerpt(exc)}",
            hint="Check that every :name in the query has a value in parameters.",
        ) from None


QUERY = Action(
    node_type="sql.query",
    effect="SQL statement",
    label="SQL query",
    description="Runs one parameterised SQL statement on a database and outputs the rows.",
    integration="sql",
    input_model=QueryInput,
    output_model=QueryOutput,
    sample_output={"columns": ["id", "email"], "rows": [{"id": 7, "email": "jane@example.com"}], "row_count": 1},
    run=query,
    fixed_fields=(
        FixedField(
            "query",
            "the SQL statement cannot contain templates",
            'write :name where a value goes and map the value in parameters, e.g. {"email": "{{ trigger.email }}"}',
        ),
    ),
)
SqlConnection.actions = (QUERY,)
