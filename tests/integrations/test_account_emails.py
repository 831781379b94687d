"""Invitation and password-reset emails go out through the workspace's alert SendGrid connection (the fake
SendGrid here), sent by the API after it answered; the links in them work."""

from __future__ import annotations

import json
import re
import uuid

from blocks.sendgrid import SendGridConnection
from platform_api.auth.service import password_hasher
from store import Connection, Membership, User
from tests.conftest import InProcessApi

PASSWORD = "correct horse battery"


def _owner_of(handle, anonymous) -> tuple[str, InProcessApi]:
    email = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    with handle.sessions().begin() as db:
        user = User(email=email, password_hash=password_hasher.hash(PASSWORD))
        db.add(user)
        db.flush()
        db.add(Membership(tenant_id=handle.id, user_id=user.id, role="owner"))
    login = anonymous.http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return email, InProcessApi(anonymous.http, login.json()["token"])


def _alert_connection(handle, fake_services) -> None:
    block = handle.connection(
        SendGridConnection,
        "Alerts",
        secrets={"api_key": fake_services.sendgrid.add_key()},
        from_email="alerts@acme-shop.com",
    )
    with handle.sessions().begin() as db:
        db.get(Connection, block.connection_id).use_for_alerts = True


def test_invitations_and_reset_links_are_emailed(acme, anonymous, fake_services):
    owner_email, owner = _owner_of(acme, anonymous)
    _alert_connection(acme, fake_services)

    invitee = f"new-{uuid.uuid4().hex[:8]}@example.com"
    created = owner.post("/api/v1/invitations", json={"email": invitee, "role": "editor"})
    assert created.status_code == 201, created.text
    [invitation] = fake_services.sendgrid.delivered_to(invitee)
    assert created.json()["url"] in json.dumps(invitation)

    assert anonymous.http.post("/api/v1/auth/password-reset", json={"email": owner_email}).status_code == 202
    [reset] = fake_services.sendgrid.delivered_to(owner_email)
    token = re.search(r"#/reset-password/([A-Za-z0-9_\-]+)", json.dumps(reset)).group(1)
    confirm = {"token": token, "password": "a brand new password"}
    assert anonymous.http.post("/api/v1/auth/password-reset/confirm", json=confirm).status_code == 204
    login = anonymous.http.post("/api/v1/auth/login", json={"email": owner_email, "password": "a brand new password"})
    assert login.status_code == 200
