"""Sign-up, login, API keys and roles, through the public API on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

from tests.conftest import InProcessApi


def _problem(response, status: int, type_suffix: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"].endswith(type_suffix), body
    assert body["detail"] and body["status"] == status
    return body


def test_signup_creates_tenant_owner_and_a_working_token(anonymous):
    email = f"{uuid.uuid4().hex[:8]}@Example.com"
    response = anonymous.http.post(
        "/api/v1/signup", json={"tenant_name": "Rosa's Flowers", "email": email, "password": "a long enough password"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["tenant"]["slug"].startswith("rosa-s-flowers")
    assert body["user"]["email"] == email.lower()
    me = InProcessApi(anonymous.http, body["token"])
    assert me.get("/api/v1/workflows").status_code == 200


def test_signup_with_a_taken_email_answers_as_a_new_one_and_opens_nothing(anonymous):
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    body = {"tenant_name": "One", "email": email, "password": "a long enough password"}
    first = anonymous.http.post("/api/v1/signup", json=body)
    someone_else = anonymous.http.post(
        "/api/v1/signup", json={**body, "tenant_name": "Two", "password": "somebody else's password"}
    )
    assert first.status_code == someone_else.status_code == 201, someone_else.text
    assert someone_else.json().keys() == first.json().keys()
    assert someone_else.json()["user"]["email"] == email and someone_else.json()["tenant"]["name"] == "Two"
    _problem(InProcessApi(anonymous.http, someone_else.json()["token"]).get("/api/v1/workflows"), 401, "/unauthorized")

    # the account holder, with their own password, gets a second workspace of their own
    second = anonymous.http.post("/api/v1/signup", json={**body, "tenant_name": "Three"})
    assert second.status_code == 201 and second.json()["user"]["id"] == first.json()["user"]["id"]
    me = InProcessApi(anonymous.http, second.json()["token"]).get("/api/v1/me").json()
    assert sorted(m["tenant"]["name"] for m in me["memberships"]) == ["One", "Three"]

    login = anonymous.http.post("/api/v1/auth/login", json={"email": email, "password": "a long enough password"})
    assert login.status_code == 200
    assert login.json()["role"] == "owner" and login.json()["token"].startswith("fy_s_")
    _problem(
        anonymous.http.post("/api/v1/auth/login", json={"email": email, "password": "somebody else's password"}),
        401,
        "/invalid-credentials",
    )
    _problem(
        anonymous.http.post("/api/v1/auth/login", json={"email": "nobody@example.com", "password": "x"}),
        401,
        "/invalid-credentials",
    )


def test_bad_signup_input_names_the_fields(anonymous):
    body = _problem(
        anonymous.http.post(
            "/api/v1/signup", json={"tenant_name": "", "email": "not-an-email", "password": "short", "colour": "red"}
        ),
        422,
        "/validation-error",
    )
    paths = {e["path"] for e in body["errors"]}
    assert {"tenant_name", "email", "password", "colour"} <= paths
    assert all(e["hint"] for e in body["errors"])


def test_malformed_json_gets_a_problem(anonymous):
    response = anonymous.http.post(
        "/api/v1/signup", content=b'{"tenant_name": ', headers={"content-type": "application/json"}
    )
    body = _problem(response, 422, "/validation-error")
    assert "JSON" in body["hint"]


def test_missing_and_unknown_tokens_are_401(anonymous):
    _problem(anonymous.http.get("/api/v1/workflows"), 401, "/unauthorized")
    _problem(
        anonymous.http.get("/api/v1/workflows", headers={"Authorization": "Bearer fy_k_nonsense"}), 401, "/unauthorized"
    )


def test_api_key_is_shown_once_works_and_stops_working_when_revoked(tenant):
    created = tenant.post("/api/v1/api-keys", json={"name": "CI", "role": "editor"})
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith("fy_k_")
    listed = tenant.get("/api/v1/api-keys").json()
    assert [k["name"] for k in listed] == ["CI"] and "key" not in listed[0]

    ci = InProcessApi(tenant.http, key)
    assert ci.get("/api/v1/workflows").status_code == 200
    assert tenant.delete(f"/api/v1/api-keys/{created.json()['id']}").status_code == 204
    body = _problem(ci.get("/api/v1/workflows"), 401, "/unauthorized")
    assert "revoked" in body["detail"]


def test_roles_gate_writes(tenant, minimal_graph):
    viewer = InProcessApi(
        tenant.http, tenant.post("/api/v1/api-keys", json={"name": "v", "role": "viewer"}).json()["key"]
    )
    operator = InProcessApi(
        tenant.http, tenant.post("/api/v1/api-keys", json={"name": "o", "role": "operator"}).json()["key"]
    )
    editor = InProcessApi(
        tenant.http, tenant.post("/api/v1/api-keys", json={"name": "e", "role": "editor"}).json()["key"]
    )

    _problem(viewer.post("/api/v1/workflows", json={"name": "x", "graph": minimal_graph}), 403, "/forbidden")
    _problem(operator.post("/api/v1/workflows", json={"name": "x", "graph": minimal_graph}), 403, "/forbidden")
    workflow = editor.post("/api/v1/workflows", json={"name": "x", "graph": minimal_graph})
    assert workflow.status_code == 201
    _problem(
        viewer.post(f"/api/v1/workflows/{workflow.json()['id']}/runs", json={"input": {}, "mode": "test"}),
        403,
        "/forbidden",
    )
    assert viewer.get(f"/api/v1/workflows/{workflow.json()['id']}").status_code == 200
    _problem(editor.post("/api/v1/api-keys", json={"name": "sneaky", "role": "owner"}), 403, "/forbidden")


def test_an_admin_cannot_mint_a_key_above_its_role(tenant):
    admin = InProcessApi(
        tenant.http, tenant.post("/api/v1/api-keys", json={"name": "a", "role": "admin"}).json()["key"]
    )
    body = _problem(admin.post("/api/v1/api-keys", json={"name": "up", "role": "owner"}), 403, "/role-too-high")
    assert body["errors"][0]["path"] == "role"


def test_api_keys_of_another_tenant_are_invisible(anonymous):
    alice, bob = anonymous.signup(), anonymous.signup()
    key_id = alice.post("/api/v1/api-keys", json={"name": "mine", "role": "viewer"}).json()["id"]
    _problem(bob.delete(f"/api/v1/api-keys/{key_id}"), 404, "/not-found")
    assert bob.get("/api/v1/api-keys").json() == []


def test_api_key_scopes_limit_what_a_key_may_do(tenant, minimal_graph):
    def key(scopes: list[str]) -> InProcessApi:
        created = tenant.post("/api/v1/api-keys", json={"name": "+".join(scopes), "role": "owner", "scopes": scopes})
        assert created.status_code == 201, created.text
        assert created.json()["scopes"] == sorted(scopes)
        return InProcessApi(tenant.http, created.json()["key"])

    reader, runner, deployer, admin = key(["read"]), key(["run"]), key(["deploy"]), key(["admin"])
    workflow = {"name": "x", "graph": minimal_graph}
    assert reader.get("/api/v1/workflows").status_code == 200
    body = _problem(reader.post("/api/v1/workflows", json=workflow), 403, "/forbidden")
    assert "scopes (read)" in body["detail"] and "create_edit" in body["detail"]
    _problem(runner.post("/api/v1/workflows", json=workflow), 403, "/forbidden")
    workflow_id = deployer.post("/api/v1/workflows", json=workflow).json()["id"]
    _problem(
        reader.post(f"/api/v1/workflows/{workflow_id}/runs", json={"input": {}, "mode": "test"}), 403, "/forbidden"
    )
    started = runner.post(f"/api/v1/workflows/{workflow_id}/runs", json={"input": {}, "mode": "test"})
    assert started.status_code != 403, started.text  # past the gate (no engine runs in these tests)
    _problem(deployer.post("/api/v1/api-keys", json={"name": "more", "role": "viewer"}), 403, "/forbidden")
    _problem(deployer.request("PATCH", "/api/v1/tenant", json={"name": "Mine now"}), 403, "/forbidden")
    assert admin.post("/api/v1/api-keys", json={"name": "more", "role": "viewer"}).status_code == 201

    listed = {k["name"]: k for k in tenant.get("/api/v1/api-keys").json()}
    assert listed["read"]["scopes"] == ["read"] and listed["read"]["last_used_at"] is not None
    assert listed["more"]["scopes"] == ["admin"] and listed["more"]["last_used_at"] is None
    bad = _problem(
        tenant.post("/api/v1/api-keys", json={"name": "x", "scopes": ["everything"]}), 422, "/validation-error"
    )
    assert bad["errors"][0]["path"] == "scopes[0]"
