"""The integrations hub through the public API, on `flowyard up` (real Prefect server and worker, SQLite
and PostgreSQL), against the fakes: connections, a workflow that upserts a CRM contact, emails, texts
and posts to two networks; the same in test mode; a run where every service misbehaves; and a search
of everything the platform and Prefect keep for the secrets planted in the connections."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.fakes.base import Delay, json_response
from tests.fakes.fixtures import TIMEOUT_SECONDS
from tests.fakes.sendgrid import rate_limited
from tests.support import Api

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@dataclass
class Hub:
    alice: Api
    mallory: Api
    slug: str
    connections: dict[str, str]  # type -> id
    secrets: list[str]  # planted: must never show up anywhere but the fakes
    x_user: str
    mallory_sendgrid: str
    runs: list[str] = field(default_factory=list)
    workflows: list[str] = field(default_factory=list)
    tweet: str = ""


def _connect(api: Api, body: dict) -> dict:
    response = api.post("/api/v1/connections", json=body)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture(scope="module")
def hub(stack, fake_services) -> Hub:
    anonymous = Api(stack.api_url)
    alice, mallory = anonymous.signup("Alice Bakery"), anonymous.signup("Mallory Ltd")
    sendgrid_key = fake_services.sendgrid.add_key()
    live, test = (
        fake_services.twilio.add_account(numbers=("+14155550100",)),
        fake_services.twilio.add_account(test=True),
    )
    app, token = fake_services.x.add_app(), fake_services.mastodon.add_token("alicebakery")
    ids = {
        "sendgrid": _connect(
            alice,
            {
                "type": "sendgrid",
                "name": "Marketing",
                "use_for_alerts": True,
                "config": {"from_email": "hello@alice-bakery.com", "from_name": "Alice Bakery"},
                "secrets": {"api_key": sendgrid_key},
            },
        )["id"],
        "twilio": _connect(
            alice,
            {
                "type": "twilio",
                "name": "Shop phone",
                "config": {"account_sid": live.sid, "from_number": "+14155550100", "test_account_sid": test.sid},
                "secrets": {"auth_token": live.token, "test_auth_token": test.token},
            },
        )["id"],
        "mastodon": _connect(
            alice,
            {
                "type": "mastodon",
                "name": "Fediverse",
                "config": {"instance_url": fake_services.mastodon.url},
                "secrets": {"access_token": token},
            },
        )["id"],
    }
    x = _connect(
        alice,
        {
            "type": "x",
            "name": "Brand",
            "config": {"client_id": app.client_id},
            "secrets": {"client_secret": app.client_secret},
        },
    )
    assert x["status"] == "needs_auth" and x["secrets"] == {"client_secret": "••••••"}
    ids["x"] = x["id"]
    user = f"alice_{uuid.uuid4().hex[:6]}"
    fake_services.x.expires_in = 30  # the first token expires within the refresh margin: the run refreshes it
    start = alice.post(f"/api/v1/connections/{x['id']}/oauth/start")
    assert start.status_code == 200, start.text
    consent = httpx.get(start.json()["authorize_url"] + f"&login_hint={user}", follow_redirects=False)
    assert consent.status_code == 302
    callback = httpx.get(consent.headers["location"], timeout=60)  # the browser comes back to Flowyard
    assert callback.status_code == 200 and "is connected" in callback.text, callback.text
    fake_services.x.expires_in = 7200
    assert alice.get(f"/api/v1/connections/{x['id']}").json()["status"] == "ok"
    first_tokens = [t for t, (u, _) in fake_services.x.access.items() if u == user]
    first_refresh = [t for t, grant in fake_services.x.refresh.items() if grant.user == user]
    planted = [sendgrid_key, live.token, test.token, app.client_secret, token, *first_tokens, *first_refresh]
    mallory_key = fake_services.sendgrid.add_key()
    theirs = _connect(
        mallory,
        {
            "type": "sendgrid",
            "name": "Theirs",
            "config": {"from_email": "m@mallory.com"},
            "secrets": {"api_key": mallory_key},
        },
    )["id"]
    return Hub(alice, mallory, alice.signup_body["tenant"]["slug"], ids, planted + [mallory_key], user, theirs)


def node(node_id: str, type_: str, config: dict, x: int = 0) -> dict:
    return {"id": node_id, "type": type_, "label": node_id, "config": config, "position": {"x": x, "y": 0}}


def chain(*nodes: dict) -> dict:
    edges = [
        {"id": f"e{i}", "source": a["id"], "target": b["id"]}
        for i, (a, b) in enumerate(zip(nodes, nodes[1:], strict=False))
    ]
    return {"nodes": list(nodes), "edges": edges}


def welcome_graph(hub: Hub) -> dict:
    c = hub.connections
    return chain(
        node("start", "trigger.manual", {}),
        node(
            "upsert",
            "crm.upsert_contact",
            {
                "email": "{{ trigger.email }}",
                "first_name": "{{ trigger.name }}",
                "phone": "{{ trigger.phone }}",
                "tags": ["lead"],
            },
        ),
        node(
            "mail",
            "email.sendgrid",
            {
                "connection": c["sendgrid"],
                "to": "{{ steps.upsert.output.contact.email }}",
                "subject": "Welcome, {{ steps.upsert.output.contact.first_name }}!",
                "text": "Thanks for joining Alice Bakery.",
                "categories": ["welcome"],
            },
        ),
        node(
            "sms",
            "sms.twilio",
            {
                "connection": c["twilio"],
                "to": "{{ steps.upsert.output.contact.phone }}",
                "body": "Welcome {{ trigger.name }}: 10% off your first order.",
            },
        ),
        node("tweet", "social.x.post", {"connection": c["x"], "text": "{{ trigger.announcement }}"}),
        node("toot", "social.mastodon.post", {"connection": c["mastodon"], "status": "{{ trigger.announcement }}"}),
    )


def lead(tag: str) -> dict:
    suffix = uuid.uuid4().hex[:6]
    return {
        "email": f"{tag}-{suffix}@example.com",
        "name": tag.title(),
        "phone": f"+1 415 6{uuid.uuid4().int % 10**6:06d}",
        "announcement": f"Welcome to our newest regular ({suffix})!",
    }


def steps_of(run: dict) -> dict[str, dict]:
    return {step["node_id"]: step for step in run["steps"]}


def start_run(hub: Hub, workflow_id: str, payload: dict, mode: str = "live") -> dict:
    accepted = hub.alice.post(f"/api/v1/workflows/{workflow_id}/runs", json={"input": payload, "mode": mode})
    assert accepted.status_code == 202, accepted.text
    hub.runs.append(accepted.json()["run_id"])
    return hub.alice.wait_for_run(accepted.json()["run_id"], timeout=180)


def test_workflow_reaches_every_service_once(stack, hub, fake_services):
    created = hub.alice.post("/api/v1/workflows", json={"name": "Welcome", "graph": welcome_graph(hub)})
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]
    hub.workflows.append(workflow_id)
    assert hub.alice.post(f"/api/v1/workflows/{workflow_id}/publish").status_code == 200
    payload = lead("ada")
    hub.tweet = payload["announcement"]
    phone = payload["phone"].replace(" ", "")

    run = start_run(hub, workflow_id, payload)

    assert run["status"] == "completed", json.dumps(run, indent=2)
    steps = steps_of(run)
    contact = steps["upsert"]["output"]["contact"]
    assert steps["upsert"]["output"]["created"] and contact["tags"] == ["lead"] and contact["phone"] == phone
    assert steps["mail"]["output"]["status_code"] == 202 and steps["mail"]["output"]["sandbox"] is False
    assert steps["sms"]["output"]["status"] == "queued" and steps["sms"]["output"]["test"] is False
    assert steps["tweet"]["output"]["published"] and steps["toot"]["output"]["published"]
    assert all(step["attempts"] == 1 for step in steps.values())
    [mail] = fake_services.sendgrid.delivered_to(payload["email"])
    assert mail["subject"] == "Welcome, Ada!" and mail["from"]["email"] == "hello@alice-bakery.com"
    assert [m["body"] for m in fake_services.twilio.to(phone)] == ["Welcome Ada: 10% off your first order."]
    assert [p["text"] for p in fake_services.x.posts_by(hub.x_user)] == [payload["announcement"]]
    assert [s["text"] for s in fake_services.mastodon.statuses if s["text"] == payload["announcement"]] == [
        payload["announcement"]
    ]
    crm = hub.alice.get("/api/v1/crm/contacts", params={"email": payload["email"]}).json()
    assert [c["id"] for c in crm] == [contact["id"]]

    x = hub.alice.get(f"/api/v1/connections/{hub.connections['x']}").json()  # refreshed in the task, and saved
    assert datetime.fromisoformat(x["token_expires_at"]) > datetime.now(UTC) + timedelta(hours=1)
    assert any(r.path == "/2/oauth2/token" and b"grant_type=refresh_token" in r.body for r in fake_services.x.requests)
    hub.secrets += [t for t, (u, _) in fake_services.x.access.items() if u == hub.x_user]
    hub.secrets += [t for t, grant in fake_services.x.refresh.items() if grant.user == hub.x_user]

    limit = httpx.get(
        f"{stack.prefect_url}/v2/concurrency_limits/t-{hub.slug}-sendgrid-rate", auth=stack.prefect_auth
    ).json()
    assert limit["slot_decay_per_second"] == 10 and limit["limit"] == 10


def test_test_mode_sends_nothing_and_a_foreign_connection_is_refused(hub, fake_services):
    workflow_id = hub.workflows[0]
    graph = welcome_graph(hub)
    graph["nodes"].append(
        node(
            "theirs",
            "email.sendgrid",
            {"connection": hub.mallory_sendgrid, "to": "x@example.com", "subject": "s", "text": "t"},
        )
    )
    graph["nodes"].append(node("noted", "util.log", {"message": "{{ steps.theirs.error.message }}"}))
    graph["edges"] += [
        {"id": "t1", "source": "start", "target": "theirs"},
        {"id": "t2", "source": "theirs", "source_handle": "error", "target": "noted"},
    ]
    assert hub.alice.put(f"/api/v1/workflows/{workflow_id}", json={"graph": graph}).status_code == 200
    refused = hub.alice.post(f"/api/v1/workflows/{workflow_id}/publish")  # checked at publish ...
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert (
        error["path"] == "graph.nodes[6].config.connection" and "does not exist in your workspace" in error["message"]
    )
    payload = lead("tess")
    before = (
        len(fake_services.sendgrid.sent),
        len(fake_services.twilio.messages),
        len(fake_services.x.posts),
        len(fake_services.mastodon.statuses),
    )

    run = start_run(hub, workflow_id, payload, mode="test")  # ... and again at run time

    assert run["status"] == "completed", json.dumps(run, indent=2)
    steps = steps_of(run)
    assert (
        steps["mail"]["output"]["sandbox"] is True
        and fake_services.sendgrid.sandboxed[-1]["subject"] == "Welcome, Tess!"
    )
    assert steps["mail"]["output"]["debug"]["request"]["json"]["mail_settings"] == {"sandbox_mode": {"enable": True}}
    assert steps["sms"]["output"]["test"] is True and steps["sms"]["output"]["from"] == "+15005550006"
    assert steps["tweet"]["output"]["published"] is False and steps["toot"]["output"]["published"] is False
    assert (
        steps["theirs"]["status"] == "failed"
        and "does not exist in your workspace" in steps["theirs"]["error"]["message"]
    )
    assert steps["noted"]["output"]["message"] == steps["theirs"]["error"]["message"]
    after = (
        len(fake_services.sendgrid.sent),
        len(fake_services.twilio.messages),
        len(fake_services.x.posts),
        len(fake_services.mastodon.statuses),
    )
    assert after == before


def test_misbehaving_services_end_as_documented(hub, fake_services):
    c = hub.connections
    suffix = uuid.uuid4().hex[:6]
    busy, slow = f"busy-{suffix}@example.com", f"slow-{suffix}@example.com"
    down = f"+1212{uuid.uuid4().int % 10**7:07d}"
    fake_services.sendgrid.script(lambda r: busy in r.text(), rate_limited(retry_after=2))
    fake_services.sendgrid.script(lambda r: slow in r.text(), Delay(TIMEOUT_SECONDS + 2))
    fake_services.twilio.script(
        lambda r: down in r.text().replace("%2B", "+"),
        *[
            json_response(
                500,
                {
                    "code": 20500,
                    "message": "Internal Server Error",
                    "status": 500,
                    "more_info": "https://www.twilio.com/docs/errors/20500",
                },
            )
        ]
        * 5,
    )
    mail = {"connection": c["sendgrid"], "subject": "Hello", "text": "Hi"}
    graph = {
        "nodes": [
            node("start", "trigger.manual", {}),
            node("mail_busy", "email.sendgrid", {**mail, "to": "{{ trigger.busy }}"}),
            node("mail_slow", "email.sendgrid", {**mail, "to": "{{ trigger.slow }}"}),
            node("sms_down", "sms.twilio", {"connection": c["twilio"], "to": "{{ trigger.down }}", "body": "Hi"}),
            node("sms_bad", "sms.twilio", {"connection": c["twilio"], "to": "{{ trigger.bad }}", "body": "Hi"}),
            node("tweet_again", "social.x.post", {"connection": c["x"], "text": "{{ trigger.tweet }}"}),
            node("handled", "util.log", {"message": "a step failed and was handled"}),
        ],
        "edges": [
            {"id": f"s-{n}", "source": "start", "target": n}
            for n in ("mail_busy", "mail_slow", "sms_down", "sms_bad", "tweet_again")
        ]
        + [
            {"id": f"x-{n}", "source": n, "source_handle": "error", "target": "handled"}
            for n in ("mail_slow", "sms_down", "sms_bad", "tweet_again")
        ],
    }
    workflow_id = hub.alice.post("/api/v1/workflows", json={"name": "Rough day", "graph": graph}).json()["id"]
    assert hub.alice.post(f"/api/v1/workflows/{workflow_id}/publish").status_code == 200

    run = start_run(
        hub, workflow_id, {"busy": busy, "slow": slow, "down": down, "bad": "555-CALL-NOW", "tweet": hub.tweet}
    )

    assert run["status"] == "completed", json.dumps(run, indent=2)
    steps = steps_of(run)
    assert (steps["mail_busy"]["status"], steps["mail_busy"]["attempts"]) == ("completed", 2)  # waited Retry-After: 2
    assert len(fake_services.sendgrid.delivered_to(busy)) == 1

    slow_step = steps["mail_slow"]
    assert (slow_step["status"], slow_step["attempts"]) == ("failed", 1)
    assert (
        slow_step["error"]["message"]
        == "SendGrid did not answer in time after receiving the request to send the email."
    )
    assert "not sent again" in slow_step["error"]["hint"] and slow_step["error"]["retryable"] is False
    assert len(fake_services.sendgrid.received(lambda r: slow in r.text())) == 1

    down_step = steps["sms_down"]
    assert (down_step["status"], down_step["attempts"]) == ("failed", 3) and down_step["error"]["retryable"]
    assert down_step["error"]["message"] == (
        "Twilio could not send the text message just now (500, error 20500): Internal Server Error"
    )
    assert len(fake_services.twilio.received(lambda r: down in r.text().replace("%2B", "+"))) == 3
    assert fake_services.twilio.to(down) == []

    bad = steps["sms_bad"]
    assert (bad["status"], bad["attempts"]) == ("failed", 1)
    assert "'555-CALL-NOW' is not a phone number in international format" in bad["error"]["message"]

    dup = steps["tweet_again"]
    assert (dup["status"], dup["attempts"]) == ("failed", 1)
    assert "You are not allowed to create a Tweet with duplicate content." in dup["error"]["message"]
    assert steps["handled"]["status"] == "completed"

    # Only the step whose last retry failed is news for the admins; failures handled at once are not.
    alerts = [
        n
        for n in hub.alice.get("/api/v1/notifications").json()
        if n["kind"] == "step_failed" and n["data"]["execution_id"] == run["id"]
    ]
    assert [(a["title"], a["data"]["node_id"]) for a in alerts] == [
        ("'Rough day' failed at step 'sms_down'", "sms_down")
    ]
    assert "Twilio could not send the text message just now" in alerts[0]["body"]
    [mail] = fake_services.sendgrid.delivered_to(hub.alice.signup_body["user"]["email"])
    assert mail["subject"] == "Flowyard: 'Rough day' failed at step 'sms_down'"


def test_connections_api(hub, fake_services):
    alice, c = hub.alice, hub.connections
    listed = alice.get("/api/v1/connections").json()
    assert {row["type"] for row in listed} == {"sendgrid", "twilio", "x", "mastodon"}
    assert all(set(row["secrets"].values()) == {"••••••"} for row in listed)
    assert [r["name"] for r in alice.get("/api/v1/connections", params={"type": "twilio"}).json()] == ["Shop phone"]
    for kind in ("sendgrid", "twilio", "x", "mastodon"):
        tested = alice.post(f"/api/v1/connections/{c[kind]}/test").json()
        assert tested["ok"], (kind, tested)
    assert f"@{hub.x_user}" in alice.post(f"/api/v1/connections/{c['x']}/test").json()["message"]

    stale = _connect(
        alice,
        {
            "type": "sendgrid",
            "name": "Old key",
            "config": {"from_email": "old@alice-bakery.com"},
            "secrets": {"api_key": "SG.revoked"},
        },
    )
    assert stale["block_name"] == f"t-{hub.slug}-sendgrid-old-key"
    failed = alice.post(f"/api/v1/connections/{stale['id']}/test").json()
    assert failed["ok"] is False and failed["message"].startswith("SendGrid rejected the API key (401)")
    assert failed["hint"].startswith("Create a key with Mail Send permission")
    new_key = fake_services.sendgrid.add_key()
    hub.secrets.append(new_key)
    patched = alice.request("PATCH", f"/api/v1/connections/{stale['id']}", json={"secrets": {"api_key": new_key}})
    assert patched.status_code == 200 and patched.json()["status"] == "untested"
    assert alice.post(f"/api/v1/connections/{stale['id']}/test").json()["ok"]
    renamed_sender = {
        "config": {"from_email": "new@alice-bakery.com"},
        "secrets": {"api_key": ""},
    }  # a blank form field
    assert alice.request("PATCH", f"/api/v1/connections/{stale['id']}", json=renamed_sender).status_code == 200
    assert alice.post(f"/api/v1/connections/{stale['id']}/test").json()["ok"]  # the saved key is kept
    assert alice.delete(f"/api/v1/connections/{stale['id']}").status_code == 204
    in_use = alice.delete(f"/api/v1/connections/{c['sendgrid']}")
    assert in_use.status_code == 409 and "Welcome" in in_use.json()["detail"]

    invalid = alice.post(
        "/api/v1/connections",
        json={
            "type": "twilio",
            "name": "Bad",
            "config": {"account_sid": "nope"},
            "secrets": {"auth_token": "t0ken-never-echoed"},
        },
    )
    assert invalid.status_code == 422 and "t0ken-never-echoed" not in invalid.text
    assert {e["path"] for e in invalid.json()["errors"]} >= {"config.account_sid"}
    unknown = alice.post("/api/v1/connections", json={"type": "fax", "name": "x"})
    assert unknown.status_code == 422 and "sendgrid" in unknown.json()["hint"]
    types = {t["type"]: t for t in alice.get("/api/v1/connection-types").json()}
    assert types["x"]["oauth"] and types["sendgrid"]["secret_fields"] == ["api_key"]

    for method, path in [
        ("GET", f"/api/v1/connections/{c['sendgrid']}"),
        ("PATCH", f"/api/v1/connections/{c['sendgrid']}"),
        ("DELETE", f"/api/v1/connections/{c['sendgrid']}"),
        ("POST", f"/api/v1/connections/{c['sendgrid']}/test"),
        ("POST", f"/api/v1/connections/{c['x']}/oauth/start"),
    ]:
        answer = hub.mallory.request(method, path, json={} if method == "PATCH" else None)
        assert answer.status_code == 404, (method, path, answer.text)
    assert [r["name"] for r in hub.mallory.get("/api/v1/connections").json()] == ["Theirs"]


# --- the planted secrets -----------------------------------------------------------------------------


def _api_texts(stack, hub: Hub) -> list[str]:
    texts = []
    for api in (hub.alice, hub.mallory):
        for path in (
            "/api/v1/connections",
            "/api/v1/connection-types",
            "/api/v1/node-types",
            "/api/v1/workflows",
            "/api/v1/runs",
            "/api/v1/crm/contacts",
        ):
            texts.append(api.get(path).text)
        texts += [api.get(f"/api/v1/connections/{row['id']}").text for row in api.get("/api/v1/connections").json()]
    texts += [hub.alice.get(f"/api/v1/runs/{run_id}").text for run_id in hub.runs]
    texts += [hub.alice.get(f"/api/v1/workflows/{wid}").text for wid in hub.workflows]
    return texts


def _prefect_texts(stack) -> list[str]:
    prefect = httpx.Client(base_url=stack.prefect_url, auth=stack.prefect_auth, timeout=30)
    texts = []
    for path in (
        "/logs/filter",
        "/task_runs/filter",
        "/flow_runs/filter",
        "/deployments/filter",
        "/variables/filter",
        "/artifacts/filter",
        "/events/filter",
    ):
        answer = prefect.post(path, json={"limit": 200} if path != "/events/filter" else {})
        texts.append(answer.text)
    blocks = prefect.post("/block_documents/filter", json={"include_secrets": True, "limit": 200})
    assert blocks.status_code == 200 and "fy2." in blocks.text  # even with include_secrets: only our ciphertext
    texts.append(blocks.text)
    return texts


def _database_texts(stack) -> list[str]:
    if "FLOWYARD_DATABASE_URL" not in stack.env:  # SQLite: read the files themselves, free pages included
        files = [stack.home / "platform.db", stack.home / "prefect" / "prefect.db"]
        return [
            Path(f"{path}{suffix}").read_bytes().decode("latin-1")
            for path in files
            for suffix in ("", "-wal")
            if Path(f"{path}{suffix}").exists()
        ]
    texts = []
    for url in (stack.env["FLOWYARD_DATABASE_URL"], stack.env["FLOWYARD_PREFECT__DATABASE_URL"]):
        with psycopg.connect(url.replace("postgresql+asyncpg://", "postgresql://")) as conn:
            tables = conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
            ).fetchall()
            for (table,) in tables:
                rows = conn.execute(f'SELECT t::text FROM "{table}" t').fetchall()
                texts.append("\n".join(row[0] for row in rows))
    return texts


def test_planted_secrets_are_nowhere(stack, hub):
    assert len(hub.runs) >= 3 and len(hub.secrets) >= 8
    places = {
        "API responses": _api_texts(stack, hub),
        "Prefect API (logs, task runs, flow runs, block documents, events)": _prefect_texts(stack),
        "databases": _database_texts(stack),
        "log files": [p.read_text(errors="replace") for p in stack.home.rglob("*.log")],
    }
    dump = "\n".join(places["databases"])
    assert f"t-{hub.slug}-sendgrid-marketing" in dump and "crm.contact.created" in dump  # the search sees the data
    for where, texts in places.items():
        for secret in hub.secrets:
            assert not any(secret in text for text in texts), f"a planted secret ({secret[:6]}…) leaked into {where}"
