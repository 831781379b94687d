"""Members, invitations, workspaces, roles, permissions and API key scopes, through the public API on
SQLite and PostgreSQL."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from tests.conftest import InProcessApi
from tests.platform_api.test_auth import _problem

PASSWORD = "correct horse battery"


def _email() -> str:
    return f"{uuid.uuid4().hex[:10]}@example.com"


def _invite(owner: InProcessApi, email: str, role: str) -> str:
    response = owner.post("/api/v1/invitations", json={"email": email, "role": role})
    assert response.status_code == 201, response.text
    url = response.json()["url"]
    assert "/#/invite/" in url
    return url.rsplit("/", 1)[1]


def _join(owner: InProcessApi, role: str, name: str = "Sam") -> InProcessApi:
    """A new person invited with `role` who accepts; their API."""
    token = _invite(owner, _email(), role)
    accepted = owner.http.post(f"/api/v1/invitations/{token}/accept", json={"password": PASSWORD, "name": name})
    assert accepted.status_code == 200, accepted.text
    return InProcessApi(owner.http, accepted.json()["token"])


def _user_id(api: InProcessApi) -> str:
    return api.get("/api/v1/me").json()["user"]["id"]


def test_an_invited_person_accepts_and_is_listed_with_their_role(tenant):
    email = _email()
    token = _invite(tenant, email, "editor")
    assert [i["email"] for i in tenant.get("/api/v1/invitations").json()] == [email]

    accepted = tenant.http.post(f"/api/v1/invitations/{token}/accept", json={"password": PASSWORD, "name": "Sam"})
    assert accepted.status_code == 200, accepted.text
    sam = InProcessApi(tenant.http, accepted.json()["token"])
    me = sam.get("/api/v1/me").json()
    assert me["user"]["email"] == email and me["user"]["name"] == "Sam" and me["role"] == "editor"
    assert me["tenant"]["id"] == tenant.signup_body["tenant"]["id"]
    assert "create_edit" in me["permissions"] and "manage_members" not in me["permissions"]

    members = {m["email"]: m["role"] for m in tenant.get("/api/v1/members").json()}
    assert members == {tenant.signup_body["user"]["email"]: "owner", email: "editor"}
    assert tenant.get("/api/v1/invitations").json() == []
    # one-time: the link does not work twice
    again = tenant.http.post(f"/api/v1/invitations/{token}/accept", json={"password": PASSWORD, "name": "Eve"})
    _problem(again, 404, "/invitation-invalid")
    login = tenant.http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200 and login.json()["role"] == "editor"


def test_an_existing_user_accepts_signed_in_and_switches_between_workspaces(anonymous):
    owner, other = anonymous.signup("Acme"), anonymous.signup("Other Co")
    token = _invite(owner, other.signup_body["user"]["email"], "viewer")
    anonymous_accept = anonymous.http.post(f"/api/v1/invitations/{token}/accept", json={"password": PASSWORD})
    _problem(anonymous_accept, 409, "/login-required")

    accepted = other.post(f"/api/v1/invitations/{token}/accept", json={})
    assert accepted.status_code == 200, accepted.text
    in_acme = InProcessApi(anonymous.http, accepted.json()["token"])
    me = in_acme.get("/api/v1/me").json()
    assert me["tenant"]["name"] == "Acme" and me["role"] == "viewer"
    assert sorted((m["tenant"]["name"], m["role"]) for m in me["memberships"]) == [
        ("Acme", "viewer"),
        ("Other Co", "owner"),
    ]

    switched = in_acme.post("/api/v1/auth/switch", json={"tenant_id": other.signup_body["tenant"]["id"]})
    assert switched.status_code == 200, switched.text
    assert switched.json()["tenant"]["name"] == "Other Co" and switched.json()["role"] == "owner"
    back_home = InProcessApi(anonymous.http, switched.json()["token"])
    assert back_home.get("/api/v1/me").json()["role"] == "owner"

    stranger = anonymous.signup("Stranger")
    _problem(
        in_acme.post("/api/v1/auth/switch", json={"tenant_id": stranger.signup_body["tenant"]["id"]}), 404, "/not-found"
    )


def test_an_invitation_for_someone_else_cannot_be_taken_with_another_login(anonymous):
    owner, intruder = anonymous.signup(), anonymous.signup()
    token = _invite(owner, _email(), "admin")
    _problem(intruder.post(f"/api/v1/invitations/{token}/accept", json={}), 403, "/invitation-for-someone-else")
    _problem(
        anonymous.http.post(f"/api/v1/invitations/{token}/accept", json={"name": "No password"}),
        422,
        "/validation-error",
    )


def test_only_admins_invite_and_never_above_their_own_role(tenant):
    editor = _join(tenant, "editor")
    body = _problem(editor.post("/api/v1/invitations", json={"email": _email(), "role": "viewer"}), 403, "/forbidden")
    assert "manage_members" in body["detail"]
    admin = _join(tenant, "admin")
    body = _problem(admin.post("/api/v1/invitations", json={"email": _email(), "role": "owner"}), 403, "/role-too-high")
    assert body["errors"][0]["path"] == "role"
    bad = _problem(tenant.post("/api/v1/invitations", json={"email": "nope", "role": "boss"}), 422, "/validation-error")
    assert {e["path"] for e in bad["errors"]} == {"email", "role"}
    owner_email = tenant.signup_body["user"]["email"]
    _problem(tenant.post("/api/v1/invitations", json={"email": owner_email, "role": "viewer"}), 409, "/already-member")


def test_roles_change_and_the_last_owner_stays(tenant):
    member = _join(tenant, "admin")
    member_id, owner_id = _user_id(member), tenant.signup_body["user"]["id"]
    changed = tenant.request("PATCH", f"/api/v1/members/{member_id}", json={"role": "editor"})
    assert changed.status_code == 200 and changed.json()["role"] == "editor"
    assert member.get("/api/v1/me").json()["role"] == "editor"  # at once, on the token already issued
    _problem(member.post("/api/v1/invitations", json={"email": _email(), "role": "viewer"}), 403, "/forbidden")

    _problem(tenant.request("PATCH", f"/api/v1/members/{owner_id}", json={"role": "admin"}), 409, "/last-owner")
    _problem(tenant.delete(f"/api/v1/members/{owner_id}"), 409, "/last-owner")
    assert tenant.request("PATCH", f"/api/v1/members/{member_id}", json={"role": "owner"}).status_code == 200
    assert member.request("PATCH", f"/api/v1/members/{owner_id}", json={"role": "viewer"}).status_code == 200
    _problem(member.delete(f"/api/v1/members/{member_id}"), 409, "/last-owner")  # now the only owner
    _problem(tenant.request("PATCH", f"/api/v1/members/{owner_id}", json={"role": "owner"}), 403, "/forbidden")
    _problem(tenant.request("PATCH", f"/api/v1/members/{uuid.uuid4()}", json={"role": "viewer"}), 403, "/forbidden")
    _problem(member.request("PATCH", f"/api/v1/members/{uuid.uuid4()}", json={"role": "viewer"}), 404, "/not-found")


def test_an_admin_cannot_touch_an_owner(tenant):
    admin = _join(tenant, "admin")
    owner_id = tenant.signup_body["user"]["id"]
    _problem(admin.request("PATCH", f"/api/v1/members/{owner_id}", json={"role": "viewer"}), 403, "/role-too-high")
    _problem(admin.delete(f"/api/v1/members/{owner_id}"), 403, "/role-too-high")


def test_a_removed_member_token_and_api_keys_answer_401_at_once(tenant):
    member = _join(tenant, "admin")
    member_id = _user_id(member)
    created = member.post("/api/v1/api-keys", json={"name": "their script", "role": "editor"})
    assert created.status_code == 201, created.text
    script = InProcessApi(member.http, created.json()["key"])
    owners_key = InProcessApi(
        tenant.http, tenant.post("/api/v1/api-keys", json={"name": "ci", "role": "viewer"}).json()["key"]
    )
    assert member.get("/api/v1/workflows").status_code == 200 and script.get("/api/v1/workflows").status_code == 200
    assert tenant.delete(f"/api/v1/members/{member_id}").status_code == 204
    _problem(member.get("/api/v1/workflows"), 401, "/unauthorized")
    _problem(script.get("/api/v1/workflows"), 401, "/unauthorized")  # their key went with them
    assert owners_key.get("/api/v1/workflows").status_code == 200  # nobody else's
    _problem(member.get("/api/v1/me"), 401, "/unauthorized")
    assert member_id not in {m["user_id"] for m in tenant.get("/api/v1/members").json()}


def test_members_of_another_workspace_are_out_of_reach(anonymous):
    alice, bob = anonymous.signup(), anonymous.signup()
    bob_member = _join(bob, "editor")
    _problem(alice.delete(f"/api/v1/members/{_user_id(bob_member)}"), 404, "/not-found")
    assert {m["email"] for m in alice.get("/api/v1/members").json()} == {alice.signup_body["user"]["email"]}


def test_member_changes_are_in_the_audit_trail(tenant):
    member = _join(tenant, "operator")
    member_id = _user_id(member)
    tenant.request("PATCH", f"/api/v1/members/{member_id}", json={"role": "viewer"})
    tenant.delete(f"/api/v1/members/{member_id}")
    response = tenant.get("/api/v1/audit", params={"target": f"member:{member_id}"})
    assert response.status_code == 200, response.text
    events = response.json()
    assert {e["action"] for e in events} == {"member.joined", "member.role_changed", "member.removed"}
    invited = tenant.get("/api/v1/audit", params={"action": "member.invited"}).json()
    assert [e["detail"] for e in invited] == [{"role": "operator"}]
    assert all("@" not in str(e) for e in events + invited)  # no email addresses in the trail


# Writes any member may make about themselves, and the public doors (their own secrets guard them).
NOT_ROLE_GATED = {
    ("POST", "/api/v1/signup"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/auth/switch"),
    ("POST", "/api/v1/auth/password"),
    ("DELETE", "/api/v1/auth/sessions/{session_id}"),
    ("POST", "/api/v1/auth/password-reset"),
    ("POST", "/api/v1/auth/password-reset/confirm"),
    ("POST", "/api/v1/invitations/{token}/accept"),
    ("POST", "/api/v1/graphs/validate"),  # computes an answer, stores nothing
    ("POST", "/api/v1/notifications/{notification_id}/read"),  # the member's own notifications
    ("POST", "/api/v1/notifications/read"),
    ("PUT", "/api/v1/notifications/preferences"),  # the member's own email preferences
    ("POST", "/approvals/{token}"),  # a single-use approval link
    # a step's named approvers answer whatever their role (operators and above answer any approval)
    ("POST", "/api/v1/runs/{run_id}/approvals/{node_id}"),
    ("POST", "/api/v1/runs/{run_id}/approvals/{node_id}/link"),
    ("POST", "/hooks/{endpoint_id}"),  # webhook ingress, signed per endpoint
}


def test_a_viewer_is_refused_on_every_write(api_app, tenant):
    viewer = _join(tenant, "viewer")
    writes = [
        (method.upper(), path)
        for path, operations in api_app.app.openapi()["paths"].items()
        for method in operations
        if method in ("post", "put", "patch", "delete")
    ]
    assert len(writes) > 40
    answers = {}
    for method, path in writes:
        if (method, path) not in NOT_ROLE_GATED:
            response = viewer.request(method, re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path), json={})
            answers[f"{method} {path}"] = (response.status_code, response.json().get("type", "").rsplit("/", 1)[-1])
    assert {call: answer for call, answer in answers.items() if answer != (403, "forbidden")} == {}


def test_the_readme_shows_the_permissions_that_are_enforced():
    from platform_api.permissions import ROLE_PERMISSIONS, Permission
    from store import ROLES

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    rows = [line.split("|")[1:-1] for line in readme.splitlines() if re.match(r"\| [a-z_]+: ", line)]
    shown = {cells[0].split(":")[0].strip(): [cell.strip() == "yes" for cell in cells[1:]] for cells in rows}
    assert shown == {p.value: [p in ROLE_PERMISSIONS[role] for role in ROLES] for p in Permission}
    # each role holds every permission of the roles below it, so `Caller.require(Role.X)` reads the same table
    assert all(ROLE_PERMISSIONS[a] >= ROLE_PERMISSIONS[b] for a, b in zip(ROLES, ROLES[1:], strict=False))
