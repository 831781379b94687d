"""The business owner's story on the whole platform (real Prefect and worker, SQLite and PostgreSQL):
instantiate a template, connect its integration, run it in test mode, publish it, customise it; then a
new template version is published (`python -m catalog publish`), the tenant is notified, and the
customised workflow is upgraded through a three-way merge with one conflict — saved as a new draft
while the live version keeps running."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from catalog.loader import TEMPLATES_DIR
from tests.catalog.support import connect, wait_for_runs
from tests.support import Api

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
SLUG = "deal-won-thank-you-onboarding"
SAMPLE = {"deal_id": "d-1", "deal_title": "Wedding cake", "email": "", "first_name": "Ada"}


def _steps(run: dict) -> dict[str, dict]:
    return {step["node_id"]: step for step in run["steps"]}


def _test_run(api: Api, workflow_id: str, payload: dict) -> dict:
    accepted = api.post(f"/api/v1/workflows/{workflow_id}/runs", json={"input": payload, "mode": "test"})
    assert accepted.status_code == 202, accepted.text
    [run] = wait_for_runs(api, [accepted.json()["run_id"]], timeout=180).values()
    assert run["status"] == "completed", json.dumps(run, indent=2)
    return run


def _publish_version_2(stack, tmp_path: Path) -> str:
    """The catalog team ships version 2: a new subject line, a warmer text and a new note step."""
    definition = yaml.safe_load((TEMPLATES_DIR / "sales" / f"{SLUG}.yaml").read_text())
    definition["version"] = 2
    definition["changelog"].append({"version": 2, "date": "2026-12-01", "changes": "Warmer thank-you; note the win."})
    nodes = {n["id"]: n for n in definition["graph"]["nodes"]}
    nodes["thanks"]["config"]["subject"] = "Welcome to the family, {{ trigger.first_name }}!"
    nodes["thanks"]["config"]["text"] = (
        "Hi {{ trigger.first_name }}, thank you! We cannot wait to get started.\n\n${business_name}"
    )
    definition["graph"]["nodes"].append(
        {
            "id": "won_note",
            "type": "crm.log_activity",
            "label": "Note the win",
            "config": {"contact": "{{ trigger.email }}", "body": "Won: {{ trigger.deal_title }}"},
        }
    )
    definition["graph"]["edges"].append("tag -> won_note")
    (tmp_path / "sales").mkdir()
    (tmp_path / "sales" / f"{SLUG}.yaml").write_text(yaml.safe_dump(definition, sort_keys=False))
    url = stack.env.get("FLOWYARD_DATABASE_URL") or f"sqlite:///{stack.home / 'platform.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "catalog", "publish", "--directory", str(tmp_path), "--database-url", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_instantiate_connect_run_publish_upgrade(stack, fake_services, tmp_path):
    alice = Api(stack.api_url).signup("Alice Bakery")
    email = f"ada-{alice.signup_body['tenant']['slug']}@example.com"
    sample = {**SAMPLE, "email": email}

    # 1. customise before deploying: parameters and the trigger's sample; nothing connected yet
    made = alice.post(
        f"/api/v1/templates/{SLUG}/instantiate",
        json={
            "name": "Deal won",
            "parameters": {"business_name": "Alice's Bakery", "customer_tag": "client"},
            "trigger_overrides": {"config": {"sample": sample}},
        },
    )
    assert made.status_code == 201, made.text
    made = made.json()
    workflow_id = made["workflow"]["id"]
    assert made["setup_complete"] is False and made["workflow"]["valid"] is False
    [missing] = [i for i in made["integrations"] if not i["connected"]]
    assert missing["type"] == "sendgrid" and "POST /api/v1/connections" in missing["how_to_connect"]

    # 2. connect the integration, and put it in the workflow's steps
    connection = connect(
        alice,
        {
            "type": "sendgrid",
            "name": "Bakery mail",
            "config": {"from_email": "hi@alice.example.com"},
            "secrets": {"api_key": fake_services.sendgrid.add_key()},
        },
    )
    setup = alice.post(f"/api/v1/workflows/{workflow_id}/setup").json()
    assert setup["setup_complete"] and setup["workflow"]["valid"] and setup["workflow"]["version"] == 2
    thanks = next(n for n in setup["workflow"]["graph"]["nodes"] if n["id"] == "thanks")
    assert thanks["config"]["connection"] == connection

    # 3. test mode: SendGrid's sandbox, the real CRM
    run = _test_run(alice, workflow_id, sample)
    steps = _steps(run)
    assert steps["thanks"]["output"]["sandbox"] is True
    mail = next(m for m in fake_services.sendgrid.sandboxed if m["personalizations"][0]["to"][0]["email"] == email)
    assert mail["subject"] == "Welcome aboard, Ada!" and "Alice's Bakery" in mail["content"][0]["value"]
    [contact] = alice.get("/api/v1/crm/contacts", params={"email": email}).json()
    assert "client" in contact["tags"]

    # 4. publish it, then customise the draft: the subject line, and a label
    published = alice.post(f"/api/v1/workflows/{workflow_id}/publish")
    assert published.status_code == 200, published.text
    assert published.json()["published_version"] == 2
    graph = published.json()["graph"]
    nodes = {n["id"]: n for n in graph["nodes"]}
    nodes["thanks"]["config"]["subject"] = "Thank you from all of us at Alice's, {{ trigger.first_name }}!"
    nodes["task"]["label"] = "Plan onboarding"
    assert alice.put(f"/api/v1/workflows/{workflow_id}", json={"graph": graph}).json()["version"] == 3

    # 5. a new template version: the tenant hears about it
    output = _publish_version_2(stack, tmp_path)
    assert f"published 1 ({SLUG}@2)" in output and "notified 1 tenants" in output, output
    updates = alice.get("/api/v1/templates/updates").json()
    assert [(u["workflow_id"], u["current_version"], u["latest_version"]) for u in updates["updates"]] == [
        (workflow_id, 1, 2)
    ]
    note = next(n for n in updates["notifications"] if n["data"]["template_slug"] == SLUG)
    assert "Deal won" in note["body"] and note["data"]["version"] == 2

    # 6. the upgrade: one conflict (both changed the subject; the tenant's wins), the rest merged
    upgraded = alice.post(f"/api/v1/workflows/{workflow_id}/upgrade")
    assert upgraded.status_code == 200, upgraded.text
    upgraded = upgraded.json()
    [conflict] = upgraded["conflicts"]
    assert conflict["path"] == "nodes.thanks.config.subject" and conflict["resolution"] == "workflow"
    assert conflict["template"] == "Welcome to the family, {{ trigger.first_name }}!"
    assert conflict["base"] == "Welcome aboard, {{ trigger.first_name }}!"
    assert {(c["path"], c["op"]) for c in upgraded["changes"]} == {
        ("nodes.thanks.config.text", "changed"),
        ("nodes.won_note", "added"),
        ("edges.tag-out-won_note", "added"),
    }
    assert (
        upgraded["saved_version"] == 4
        and upgraded["valid"]
        and (upgraded["from_version"], upgraded["to_version"]) == (1, 2)
    )

    workflow = alice.get(f"/api/v1/workflows/{workflow_id}").json()
    assert (workflow["version"], workflow["published_version"]) == (4, 2)  # a new draft; the live version is untouched
    nodes = {n["id"]: n for n in workflow["graph"]["nodes"]}
    assert nodes["thanks"]["config"]["subject"].startswith("Thank you from all of us at Alice's")
    assert nodes["thanks"]["config"]["text"].endswith("We cannot wait to get started.\n\nAlice's Bakery")
    assert nodes["thanks"]["config"]["connection"] == connection and nodes["task"]["label"] == "Plan onboarding"
    assert nodes["tag"]["config"]["tag"] == "client" and "won_note" in nodes
    assert alice.get("/api/v1/templates/updates").json()["updates"] == []

    # 7. the merged draft runs
    steps = _steps(_test_run(alice, workflow_id, sample))
    assert steps["won_note"]["status"] == "completed" and steps["won_note"]["output"]["body"] == "Won: Wedding cake"
