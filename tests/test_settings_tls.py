"""TLS settings (docs/encryption.md, In transit): the API's certificate and key go together, and production
refuses a PostgreSQL platform database it cannot verify and a Prefect API reached over plain http outside
this host and the allow-list. Development accepts all of it as before."""

from __future__ import annotations

import base64
import re

import pytest
from pydantic import ValidationError
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from core.settings import Settings
from store.db import normalise_url

STRONG_KEY = base64.b64encode(b"k" * 32).decode()
POSTGRES = "postgresql://flowyard:p%40ss@db.internal:5432/flowyard"
CA = "/etc/flowyard/db-ca.pem"


def production(**settings) -> Settings:
    prefect = {"auth_string": "ops:secret", **settings.pop("prefect", {})}
    return Settings(environment="production", master_key=STRONG_KEY, prefect=prefect, **settings)


def refused(problem: str, **settings) -> None:
    with pytest.raises(ValidationError, match=re.escape(problem)):
        production(**settings)


# --- the platform API over HTTPS --------------------------------------------------------------------


@pytest.mark.parametrize("given", [{"tls_cert": "server.pem"}, {"tls_key": "server.key"}])
def test_the_api_certificate_and_key_go_together(given):
    with pytest.raises(ValidationError, match="FLOWYARD_API__TLS_CERT and FLOWYARD_API__TLS_KEY go together"):
        Settings(api=given)


def test_with_a_certificate_the_api_is_announced_over_https():
    settings = Settings(api={"tls_cert": "server.pem", "tls_key": "server.key", "port": 8443})
    assert settings.api_public_url == "https://127.0.0.1:8443"
    assert Settings(api={"port": 8443}).api_public_url == "http://127.0.0.1:8443"
    with pytest.raises(ValidationError, match=re.escape("FLOWYARD_API__PUBLIC_URL must be an https:// URL")):
        Settings(api={"tls_cert": "server.pem", "tls_key": "server.key", "public_url": "http://flowyard.example"})


# --- PostgreSQL ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, problem",
    [
        ("", "FLOWYARD_DATABASE_URL has no sslmode: in production PostgreSQL must be reached over TLS"),
        ("?sslmode=require", "FLOWYARD_DATABASE_URL has sslmode=require"),
        (f"?sslmode=verify-ca&sslrootcert={CA}", "FLOWYARD_DATABASE_URL has sslmode=verify-ca"),
        ("?sslmode=verify-full", "sslmode=verify-full but no CA: set FLOWYARD_DATABASE_CA"),
    ],
)
def test_production_refuses_a_postgresql_database_it_cannot_verify(query, problem):
    with pytest.raises(ValidationError, match=re.escape(problem)) as error:
        production(database_url=POSTGRES + query)
    assert "p%40ss" not in error.value.errors()[0]["msg"]  # the message names the setting, never the password


def test_production_accepts_verify_full_with_the_ca_in_the_url_or_in_its_setting():
    in_url = f"{POSTGRES}?sslmode=verify-full&sslrootcert={CA}"
    assert production(database_url=in_url).platform_database_url == in_url

    url = production(database_url=POSTGRES, database_ca=CA).platform_database_url
    assert make_url(url).query == {"sslmode": "verify-full", "sslrootcert": CA}
    engine = create_engine(normalise_url(url))  # what reaches libpq through psycopg
    _, connect = engine.dialect.create_connect_args(engine.url)
    assert (connect["sslmode"], connect["sslrootcert"], connect["password"]) == ("verify-full", CA, "p@ss")


def test_the_database_ca_is_given_once():
    with pytest.raises(ValidationError, match="FLOWYARD_DATABASE_URL names an sslrootcert and FLOWYARD_DATABASE_CA"):
        Settings(database_url=f"{POSTGRES}?sslrootcert=/other-ca.pem", database_ca=CA)


def test_a_sqlite_platform_database_is_a_local_file_and_needs_no_tls():
    assert production().platform_database_url.startswith("sqlite:///")


# --- Prefect ---------------------------------------------------------------------------------------


def test_production_refuses_plain_http_to_a_prefect_api_outside_the_allow_list():
    refused(
        "FLOWYARD_PREFECT__API_URL is plain http to prefect.example.com: in production the Prefect API and its "
        "auth string must travel over TLS; use an https URL, or, if that host is reached only inside the "
        "cluster, name it in FLOWYARD_PREFECT__INTERNAL_HOSTS",
        prefect={"api_url": "http://prefect.example.com/api", "internal_hosts": ["prefect-server.flowyard.svc"]},
    )


@pytest.mark.parametrize(
    "api_url, internal_hosts",
    [
        ("https://prefect.example.com/api", []),
        ("http://prefect-server.flowyard.svc:4200/api", ["prefect-server.flowyard.svc"]),
        ("http://Prefect-Server.flowyard.svc:4200/api", ["prefect-server.FLOWYARD.svc"]),
        ("http://127.0.0.1:4200/api", []),  # `flowyard up`'s own Prefect server: never leaves the host
        ("http://localhost:4200/api", []),
        ("http://[::1]:4200/api", []),
    ],
)
def test_production_accepts_https_the_allow_list_and_this_host(api_url, internal_hosts):
    assert production(prefect={"api_url": api_url, "internal_hosts": internal_hosts}).prefect_api_url == api_url


def test_the_allow_list_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("FLOWYARD_PREFECT__INTERNAL_HOSTS", '["prefect-server.flowyard.svc"]')
    monkeypatch.setenv("FLOWYARD_PREFECT__API_URL", "http://prefect-server.flowyard.svc:4200/api")
    assert production().prefect.internal_hosts == ["prefect-server.flowyard.svc"]


# --- development -----------------------------------------------------------------------------------


def test_development_is_unchanged():
    settings = Settings(database_url=POSTGRES, prefect={"api_url": "http://prefect.example.com/api"})
    assert settings.platform_database_url == POSTGRES
    assert settings.prefect_api_url == "http://prefect.example.com/api"
