"""Logout, sessions, password change and reset, login throttling and the reset link of the CLI, through the
public API on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import uuid

import pytest
from fastapi.testclient import TestClient

from tests.conftest import InProcessApi
from tests.platform_api.test_auth import _problem

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new password"


def _login(client, email: str, password: str = PASSWORD):
    return client.post("/api/v1/auth/login", json={"email": email, "password": password})


def _session(anonymous: InProcessApi, email: str, password: str = PASSWORD) -> InProcessApi:
    response = _login(anonymous.http, email, password)
    assert response.status_code == 200, response.text
    return InProcessApi(anonymous.http, response.json()["token"])


def _from_address(api_app, address: str) -> TestClient:
    """A client whose requests come from `address` (the throttle counts per address)."""
    return TestClient(api_app.app, base_url="http://testserver", client=(address, 50000))


def _unique_address() -> str:
    n = uuid.uuid4().int
    return f"198.51.{n % 250}.{(n >> 8) % 250 + 1}"


def test_logout_revokes_only_that_token(anonymous):
    owner = anonymous.signup()
    email = owner.signup_body["user"]["email"]
    laptop = _session(anonymous, email)
    assert laptop.post("/api/v1/auth/logout").status_code == 204
    _problem(laptop.get("/api/v1/workflows"), 401, "/unauthorized")
    assert owner.get("/api/v1/workflows").status_code == 200


def test_sessions_are_listed_and_one_can_be_ended(anonymous):
    owner = anonymous.signup()
    phone = _session(anonymous, owner.signup_body["user"]["email"])
    sessions = owner.get("/api/v1/auth/sessions").json()
    assert len(sessions) == 2 and [s["current"] for s in sessions].count(True) == 1
    phone_id = next(s["id"] for s in phone.get("/api/v1/auth/sessions").json() if s["current"])
    assert owner.delete(f"/api/v1/auth/sessions/{phone_id}").status_code == 204
    _problem(phone.get("/api/v1/workflows"), 401, "/unauthorized")
    assert [s["current"] for s in owner.get("/api/v1/auth/sessions").json()] == [True]
    stranger = anonymous.signup()
    _problem(stranger.delete(f"/api/v1/auth/sessions/{sessions[0]['id']}"), 404, "/not-found")


def test_an_api_key_is_not_a_person(tenant):
    key = tenant.post("/api/v1/api-keys", json={"name": "ci", "role": "owner"}).json()["key"]
    ci = InProcessApi(tenant.http, key)
    _problem(ci.post("/api/v1/auth/logout"), 403, "/login-required")
    _problem(ci.get("/api/v1/me"), 403, "/login-required")


def test_a_password_change_ends_the_other_sessions(anonymous):
    owner = anonymous.signup()
    email = owner.signup_body["user"]["email"]
    other = _session(anonymous, email)
    wrong = owner.post("/api/v1/auth/password", json={"current": "not my password", "new": NEW_PASSWORD})
    assert _problem(wrong, 403, "/wrong-password")["errors"][0]["path"] == "current"
    short = owner.post("/api/v1/auth/password", json={"current": PASSWORD, "new": "short"})
    assert _problem(short, 422, "/validation-error")["errors"][0]["path"] == "new"

    assert owner.post("/api/v1/auth/password", json={"current": PASSWORD, "new": NEW_PASSWORD}).status_code == 204
    _problem(other.get("/api/v1/workflows"), 401, "/unauthorized")
    assert owner.get("/api/v1/workflows").status_code == 200
    _problem(_login(anonymous.http, email), 401, "/invalid-credentials")
    assert _login(anonymous.http, email, NEW_PASSWORD).status_code == 200


def _reset_link_from(caplog) -> str:
    (link,) = [
        match.group(0)
        for record in caplog.records
        if record.name == "flowyard.accounts"
        for match in [re.search(r"http\S+#/reset-password/\S+", record.getMessage())]
        if match
    ]
    return link


def test_reset_requests_are_throttled_per_email_and_per_address_alike_for_unknown_emails(api_app):
    client = _from_address(api_app, _unique_address())
    email = f"nobody-{uuid.uuid4().hex[:8]}@example.com"  # no account: the answers must not tell
    answers = [client.post("/api/v1/auth/password-reset", json={"email": email}).status_code for _ in range(4)]
    assert answers == [202, 202, 202, 429]
    refused = client.post("/api/v1/auth/password-reset", json={"email": email.upper()})
    assert _problem(refused, 429, "/too-many-reset-requests")["hint"] and int(refused.headers["Retry-After"]) > 0
    others = [f"other-{n}-{uuid.uuid4().hex[:6]}@example.com" for n in range(18)]
    statuses = [client.post("/api/v1/auth/password-reset", json={"email": other}).status_code for other in others]
    assert statuses == [202] * 17 + [429]  # the address asked 20 times in the window (refusals do not count)
    elsewhere = _from_address(api_app, _unique_address())
    assert elsewhere.post("/api/v1/auth/password-reset", json={"email": others[-1]}).status_code == 202


def test_password_reset_through_the_logged_link(anonymous, caplog):
    owner = anonymous.signup()
    email = owner.signup_body["user"]["email"]
    unknown = anonymous.http.post("/api/v1/auth/password-reset", json={"email": f"nobody-{email}"})
    with caplog.at_level(logging.WARNING, logger="flowyard.accounts"):
        known = anonymous.http.post("/api/v1/auth/password-reset", json={"email": email.upper()})
    assert unknown.status_code == known.status_code == 202
    assert unknown.json() == known.json()  # nothing tells whether the email has an account

    token = _reset_link_from(caplog).rsplit("/", 1)[1]
    confirm = {"token": token, "password": NEW_PASSWORD}
    assert anonymous.http.post("/api/v1/auth/password-reset/confirm", json=confirm).status_code == 204
    _problem(owner.get("/api/v1/workflows"), 401, "/unauthorized")  # every session ended
    assert _login(anonymous.http, email, NEW_PASSWORD).status_code == 200
    again = anonymous.http.post("/api/v1/auth/password-reset/confirm", json={**confirm, "password": PASSWORD})
    assert _problem(again, 400, "/invalid-reset-token")["errors"][0]["path"] == "token"
    assert _login(anonymous.http, email, NEW_PASSWORD).status_code == 200


def test_the_cli_prints_a_reset_link_that_works(anonymous, platform_db_url, tmp_path):
    owner = anonymous.signup()
    email = owner.signup_body["user"]["email"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWYARD_", "PREFECT_"))}
    env.update(FLOWYARD_HOME=str(tmp_path), FLOWYARD_DATABASE_URL=platform_db_url)
    command = [sys.executable, "-m", "flowyard.cli", "users", "reset-link"]
    printed = subprocess.run([*command, email], env=env, capture_output=True, text=True, timeout=120)
    assert printed.returncode == 0, printed.stderr
    token = printed.stdout.strip().rsplit("/#/reset-password/", 1)[1]
    confirm = {"token": token, "password": NEW_PASSWORD}
    assert anonymous.http.post("/api/v1/auth/password-reset/confirm", json=confirm).status_code == 204
    assert _login(anonymous.http, email, NEW_PASSWORD).status_code == 200

    missing = subprocess.run([*command, f"x{email}"], env=env, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1 and "no user" in missing.stderr


def test_failed_logins_to_one_account_are_throttled(api_app, anonymous):
    email = anonymous.signup().signup_body["user"]["email"]
    attacker = _from_address(api_app, _unique_address())
    for _ in range(10):  # FLOWYARD_API__LOGIN_FAILURES_PER_ACCOUNT
        _problem(_login(attacker, email, "guessing wrong"), 401, "/invalid-credentials")
    throttled = _problem(_login(attacker, email, PASSWORD), 429, "/too-many-login-attempts")
    assert "account" in throttled["detail"]
    assert int(_login(attacker, email, PASSWORD).headers["retry-after"]) > 0
    # the owner, from elsewhere, is refused too until the window passes; other accounts are not
    _problem(_login(_from_address(api_app, _unique_address()), email), 429, "/too-many-login-attempts")
    other = anonymous.signup().signup_body["user"]["email"]
    assert _login(attacker, other).status_code == 200


@pytest.fixture
def strict_app(platform_db_url, tmp_path):
    """The API with a low per-address limit, on the same database."""
    from core.settings import Settings
    from platform_api.app import create_app

    settings = Settings(
        home=tmp_path,
        database_url=platform_db_url,
        dispatcher={"enabled": False},
        prefect={"api_url": "http://127.0.0.1:9/api"},
        api={"login_failures_per_address": 3},
    )
    with TestClient(create_app(settings), base_url="http://testserver", client=(_unique_address(), 5)) as client:
        yield client


def test_failed_logins_from_one_address_are_throttled(strict_app, anonymous):
    for _ in range(3):
        _problem(_login(strict_app, f"{uuid.uuid4().hex}@example.com", "guess"), 401, "/invalid-credentials")
    email = anonymous.signup().signup_body["user"]["email"]
    throttled = _problem(_login(strict_app, email), 429, "/too-many-login-attempts")
    assert "address" in throttled["detail"]
    assert _login(anonymous.http, email).status_code == 200  # from another address


def test_logins_passwords_and_keys_are_in_the_audit_trail(anonymous, caplog):
    owner = anonymous.signup()
    email, user_id = owner.signup_body["user"]["email"], owner.signup_body["user"]["id"]
    _login(anonymous.http, email, "wrong password!")
    _session(anonymous, email).post("/api/v1/auth/logout")
    owner.post("/api/v1/auth/password", json={"current": PASSWORD, "new": NEW_PASSWORD})
    with caplog.at_level(logging.WARNING, logger="flowyard.accounts"):
        anonymous.http.post("/api/v1/auth/password-reset", json={"email": email})
    token = _reset_link_from(caplog).rsplit("/", 1)[1]
    anonymous.http.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": PASSWORD})
    owner = _session(anonymous, email)
    key_id = owner.post("/api/v1/api-keys", json={"name": "ci", "role": "viewer"}).json()["id"]
    owner.delete(f"/api/v1/api-keys/{key_id}")

    events = owner.get("/api/v1/audit", params={"target": f"user:{user_id}"}).json()
    assert [e["action"] for e in events][::-1] == [
        "auth.login_failed",
        "auth.login",
        "auth.logout",
        "auth.password_changed",
        "auth.password_reset",
        "auth.login",
    ]
    assert events[-1]["actor_user_id"] is None  # nobody was signed in when the login failed
    keys = owner.get("/api/v1/audit", params={"target": f"api_key:{key_id}"}).json()
    assert [e["action"] for e in keys][::-1] == ["api_key.created", "api_key.revoked"]
    assert all(NEW_PASSWORD not in str(e) and PASSWORD not in str(e) for e in events + keys)


def test_the_tenant_role_cannot_read_reset_tokens_or_login_attempts(platform_db_url):
    if not platform_db_url.startswith("postgresql"):
        pytest.skip("database roles are PostgreSQL's")
    from sqlalchemy import text
    from sqlalchemy.exc import ProgrammingError

    from store.db import get_engine

    with get_engine(platform_db_url).connect() as connection:
        for table in ("password_resets", "login_attempts"):
            transaction = connection.begin()
            connection.exec_driver_sql("SET LOCAL ROLE flowyard_tenant")
            with pytest.raises(ProgrammingError, match="permission denied"):
                connection.execute(text(f"SELECT count(*) FROM {table}"))
            transaction.rollback()
