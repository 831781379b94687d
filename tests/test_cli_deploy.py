"""`flowyard deploy` and `flowyard export` against the running platform, the CLI invoked in-process."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from flowyard import cli
from flowyard.deploy import summary, workflow_files
from tests.support import Api

WELCOME = """\
key: welcome
name: Welcome
description: Greets a new lead
tags: [onboarding]
graph:
  nodes:
    - {id: start, type: trigger.manual, label: Start, config: {}, position: {x: 0, y: 0}}
    - {id: say, type: util.log, label: Say, config: {message: "hi {{ trigger.name }}"}, position: {x: 200, y: 0}}
  edges:
    - {id: e1, source: start, target: say}
"""

SECOND = """\
{"key": "second", "name": "Second", "graph": {"nodes": [
  {"id": "start", "type": "trigger.manual", "config": {}},
  {"id": "note", "type": "util.log", "config": {"message": "two"}}],
 "edges": [{"id": "e1", "source": "start", "target": "note"}]}}
"""

BROKEN = """\
key: broken
name: Broken
graph:
  nodes:
    - {id: start, type: trigger.manual, config: {}}
    - {id: mail, type: email.sendgrid, config: {connection: Main, subject: Hi, text: Hello}}
  edges:
    - {id: e1, source: start, target: mail}
"""


def flowyard(capsys, *args: str) -> tuple[int, str]:
    """Run `flowyard ARGS` in this process; its exit code and what it printed."""
    with pytest.raises(SystemExit) as exited:
        cli.main(list(args))
    printed = capsys.readouterr()
    return int(exited.value.code or 0), printed.out + printed.err


@pytest.fixture
def workspace(stack) -> tuple[Api, list[str]]:
    """A new workspace, and the CLI's connection arguments with a CI key (role editor, scope deploy)."""
    owner = Api(stack.api_url).signup()
    created = owner.post("/api/v1/api-keys", json={"name": "CI", "role": "editor", "scopes": ["deploy"]})
    assert created.status_code == 201, created.text
    return owner, ["--api", stack.api_url, "--api-key", created.json()["key"]]


def test_deploy_creates_then_changes_nothing_then_updates_and_refuses_a_broken_file(workspace, tmp_path, capsys):
    owner, connect = workspace
    (tmp_path / "nested").mkdir()
    (tmp_path / "welcome.yaml").write_text(WELCOME)
    (tmp_path / "nested" / "second.json").write_text(SECOND)
    (tmp_path / "notes.txt").write_text("not a workflow")

    code, out = flowyard(capsys, "deploy", str(tmp_path), *connect, "--dry-run")
    assert code == 0, out
    assert "welcome.yaml: welcome: would create (2 nodes)" in out and "second: would create" in out
    assert owner.get("/api/v1/workflows").json() == []

    code, out = flowyard(capsys, "deploy", str(tmp_path), *connect, "--publish")
    assert code == 0, out
    assert "welcome.yaml: welcome: create, version 1, published version 1" in out
    assert "2 of 2 workflows deployed" in out
    workflows = {w["name"]: w for w in owner.get("/api/v1/workflows").json()}
    assert sorted(workflows) == ["Second", "Welcome"] and workflows["Welcome"]["status"] == "published"

    code, out = flowyard(capsys, "deploy", str(tmp_path), *connect, "--publish")
    assert code == 0, out
    assert "welcome: unchanged, version 1" in out and "second: unchanged, version 1" in out
    assert "published version" not in out  # already live: not published again

    edited = yaml.safe_load(WELCOME)
    edited["graph"]["nodes"][1]["config"]["message"] = "hello {{ trigger.name }}"
    edited["graph"]["nodes"].append({"id": "bye", "type": "util.log", "config": {"message": "bye"}})
    edited["graph"]["edges"].append({"id": "e2", "source": "say", "target": "bye"})
    edited["tags"] = ["onboarding", "v2"]
    (tmp_path / "welcome.yaml").write_text(yaml.safe_dump(edited, sort_keys=False))
    code, out = flowyard(capsys, "deploy", str(tmp_path), *connect)
    assert code == 0, out
    assert "welcome: would update (nodes 1 added, 1 changed; 1 edges changed; tags changed)" in out
    assert "welcome: update, version 2" in out
    welcome = owner.get(f"/api/v1/workflows/{workflows['Welcome']['id']}").json()
    assert (welcome["version"], welcome["published_version"]) == (2, 1)

    (tmp_path / "broken.yaml").write_text(BROKEN)
    code, out = flowyard(capsys, "deploy", str(tmp_path), *connect, "--publish")
    assert code == 1, out
    assert "broken.yaml: graph.nodes[1].config.to: " in out and "(hint: " in out
    assert "nothing was deployed" in out
    assert owner.get(f"/api/v1/workflows/{workflows['Welcome']['id']}").json()["published_version"] == 1

    code, out = flowyard(capsys, "deploy", str(tmp_path / "missing.yaml"), *connect)
    assert code == 1 and "missing.yaml: no such file or directory" in out


def test_export_all_then_deploy_changes_nothing(workspace, tmp_path, capsys, minimal_graph):
    owner, connect = workspace
    assert owner.post("/api/v1/workflows", json={"name": "From The Builder", "graph": minimal_graph}).status_code == 201
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "welcome.yaml").write_text(WELCOME)
    assert flowyard(capsys, "deploy", str(tmp_path / "in"), *connect)[0] == 0

    for fmt in ("yaml", "json"):
        out_dir = tmp_path / f"out-{fmt}"
        code, out = flowyard(capsys, "export", "--all", str(out_dir), "--format", fmt, *connect)
        assert code == 0, out
        assert sorted(p.name for p in out_dir.iterdir()) == [f"from-the-builder.{fmt}", f"welcome.{fmt}"]
        code, out = flowyard(capsys, "deploy", str(out_dir), *connect)
        assert code == 0, out
        assert out.count(": unchanged, version 1") == 2, out
    welcome = next(w for w in owner.get("/api/v1/workflows").json() if w["name"] == "Welcome")
    bpmn = owner.get(f"/api/v1/workflows/{welcome['id']}/export", params={"format": "bpmn"})
    (tmp_path / "bpmn").mkdir()
    (tmp_path / "bpmn" / "welcome.bpmn").write_bytes(bpmn.content)
    code, out = flowyard(capsys, "deploy", str(tmp_path / "bpmn"), *connect)
    assert code == 0 and "welcome.bpmn: welcome: unchanged, version 1" in out, out
    assert (tmp_path / "out-yaml" / "welcome.yaml").read_text().startswith("# yaml-language-server: $schema=")
    assert yaml.safe_load((tmp_path / "out-yaml" / "welcome.yaml").read_text())["tags"] == ["onboarding"]


def test_files_are_found_in_directories_and_diffs_summarised(tmp_path):
    (tmp_path / "a").mkdir()
    for name in ("a/one.yml", "a/two.bpmn", "b.json", "c.yaml", "d.txt"):
        Path(tmp_path / name).write_text("{}")
    found, missing = workflow_files([str(tmp_path), str(tmp_path / "c.yaml"), str(tmp_path / "nope")])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a/one.yml", "a/two.bpmn", "b.json", "c.yaml"]
    assert missing == [str(tmp_path / "nope")]
    assert summary({"action": "unchanged", "diff": {"unchanged": True}}) == "unchanged"
    assert summary({"action": "update", "diff": {"nodes_removed": [{}], "trigger": {"change": "replaced"}}}) == (
        "update (nodes 1 removed; trigger replaced)"
    )
    assert summary({"action": "update", "changed": ["name"], "diff": {}}) == "update (name changed)"


def test_where_publishing_needs_approval_deploy_asks_for_it(workspace, tmp_path, capsys):
    owner, connect = workspace  # the CI key is an editor's: it may not publish directly once approval is on
    assert owner.request("PATCH", "/api/v1/tenant", json={"publish_requires_approval": True}).status_code == 200
    (tmp_path / "welcome.yaml").write_text(WELCOME)
    code, out = flowyard(capsys, "deploy", str(tmp_path), *connect, "--publish")
    assert code == 0, out
    assert "welcome.yaml: welcome: create, version 1, publishing awaits approval (publish request " in out
    pending = owner.get("/api/v1/publish-requests", params={"status": "pending"}).json()
    assert [(r["version"], r["status"]) for r in pending] == [(1, "pending")]
    welcome = owner.get("/api/v1/workflows").json()[0]
    assert welcome["status"] == "draft"
