"""`flowyard deploy` and `flowyard export`: workflow files in and out of a workspace through the platform API
(docs/workflow-files.md).

`deploy` first sends every file as a dry run, which validates it and says what would change; when any file is
invalid (or a call fails) it prints every problem, with its file, path and hint, and writes nothing. Then it
imports each file by its key (create, update or unchanged: running it twice changes nothing) and, with
`--publish`, publishes what is not live yet. Exit code 0 when all went well, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

SUFFIXES = {
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".json": "application/json",
    ".bpmn": "application/xml",  # BPMN 2.0: imported with format=bpmn, the key being the process id
}
KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")  # platform_api.workflows.file_schemas.KEY_PATTERN
TIMEOUT_SECONDS = 60


def add_commands(commands: Any) -> None:
    deploy = commands.add_parser("deploy", help="import workflow files (YAML, JSON, BPMN) into a workspace, by key")
    deploy.add_argument("paths", nargs="+", metavar="PATH", help="workflow files, or directories to search")
    _connection_arguments(deploy)
    deploy.add_argument("--dry-run", action="store_true", help="validate and show what would change; write nothing")
    deploy.add_argument("--publish", action="store_true", help="publish each workflow whose latest version is not live")
    deploy.set_defaults(handler=cmd_deploy)
    export = commands.add_parser("export", help="write every workflow of a workspace to files named by key")
    export.add_argument("--all", dest="directory", required=True, metavar="DIR", help="the directory to write to")
    export.add_argument("--format", choices=("yaml", "json"), default="yaml", help="file format (default yaml)")
    _connection_arguments(export)
    export.set_defaults(handler=cmd_export)


def _connection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--api",
        default=os.environ.get("FLOWYARD_API_URL"),
        metavar="URL",
        help="the platform's URL, e.g. https://flowyard.example.com (default: $FLOWYARD_API_URL)",
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("FLOWYARD_API_KEY"),
        metavar="KEY",
        help="an API key with the deploy scope (default: $FLOWYARD_API_KEY; prefer it to keep the key out of "
        "process listings)",
    )


def _client(args: argparse.Namespace, console: Console) -> httpx.Client | None:
    if not args.api or not args.api_key:
        console.print("flowyard: give --api and --api-key (or FLOWYARD_API_URL and FLOWYARD_API_KEY)")
        return None
    return httpx.Client(
        base_url=args.api.rstrip("/"),
        headers={"Authorization": f"Bearer {args.api_key}", "User-Agent": "flowyard-cli"},
        timeout=TIMEOUT_SECONDS,
    )


# --- deploy ----------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One file's answers: its dry run, then its import and publish."""

    path: Path
    problems: list[str] = field(default_factory=list)
    preview: dict[str, Any] | None = None
    result: dict[str, Any] | None = None


def workflow_files(paths: list[str]) -> tuple[list[Path], list[str]]:
    """The files to deploy, directories walked in name order; and the paths that are neither."""
    found, missing = [], []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
        elif path.is_file():
            found.append(path)
        else:
            missing.append(name)
    return list(dict.fromkeys(found)), missing


def cmd_deploy(_settings_loader: Any, args: argparse.Namespace) -> int:
    console = Console(highlight=False, soft_wrap=True)
    files, missing = workflow_files(args.paths)
    for name in missing:
        console.print(f"{escape(name)}: no such file or directory")
    if not files and not missing:
        console.print("flowyard deploy: no workflow files (*.yaml, *.yml, *.json, *.bpmn) found")
    client = _client(args, console)
    if client is None or not files:
        return 1
    with client:
        outcomes = [Outcome(path) for path in files]
        with Progress(console=console, transient=True, disable=not console.is_terminal) as progress:
            task = progress.add_task("Checking", total=len(outcomes))
            for outcome in outcomes:
                outcome.preview = _import(client, outcome, dry_run=True)
                progress.advance(task)
        _duplicate_keys(outcomes)
        failed = [o for o in outcomes if o.problems]
        for outcome in outcomes:
            _report(console, outcome, outcome.preview, dry_run=True)
        if failed or args.dry_run:
            if failed:
                console.print(f"{len(failed)} of {len(outcomes)} files have problems: nothing was deployed")
            return 1 if failed else 0
        with Progress(console=console, transient=True, disable=not console.is_terminal) as progress:
            task = progress.add_task("Deploying", total=len(outcomes))
            for outcome in outcomes:
                outcome.result = _import(client, outcome, dry_run=False)
                if outcome.result is not None and args.publish:
                    _publish(client, outcome)
                progress.advance(task)
        for outcome in outcomes:
            _report_done(console, outcome)
    failed = [o for o in outcomes if o.problems]
    console.print(
        f"{len(outcomes) - len(failed)} of {len(outcomes)} workflows deployed"
        + (f", {len(failed)} failed" if failed else "")
    )
    return 1 if failed else 0


def _import(client: httpx.Client, outcome: Outcome, *, dry_run: bool) -> dict[str, Any] | None:
    try:
        body = outcome.path.read_bytes()
    except OSError as exc:
        outcome.problems.append(f"cannot read it: {exc.strerror}")
        return None
    content_type = SUFFIXES.get(outcome.path.suffix.lower(), "application/yaml")
    try:
        response = client.post(
            "/api/v1/workflows/import",
            params={"dry_run": "true" if dry_run else "false"}
            | ({"format": "bpmn"} if content_type == "application/xml" else {}),
            content=body,
            headers={"Content-Type": content_type},
        )
    except httpx.HTTPError as exc:
        outcome.problems.append(f"the platform could not be reached: {exc}")
        return None
    if response.status_code in (200, 201):
        answer: dict[str, Any] = response.json()
        return answer
    outcome.problems += _problems(response)
    return None


def _problems(response: httpx.Response) -> list[str]:
    """Each error of a problem+json answer as `path: message (hint: ...)`."""
    try:
        body = response.json()
    except ValueError:
        return [f"HTTP {response.status_code}: {response.text[:200]}"]
    errors = body.get("errors") if isinstance(body, dict) else None
    if not errors:
        hint = f" (hint: {body['hint']})" if isinstance(body, dict) and body.get("hint") else ""
        detail = body.get("detail") if isinstance(body, dict) else None
        return [f"HTTP {response.status_code}: {detail or response.reason_phrase}{hint}"]
    return [
        f"{error.get('path') or 'body'}: {error.get('message')}"
        + (f" (hint: {error['hint']})" if error.get("hint") else "")
        for error in errors
    ]


def _duplicate_keys(outcomes: list[Outcome]) -> None:
    first: dict[str, Path] = {}
    for outcome in outcomes:
        key = (outcome.preview or {}).get("key")
        if key is None:
            continue
        if key in first:
            outcome.problems.append(
                f"key: '{key}' is also the key of {first[key]} (hint: give each workflow its own key)"
            )
            outcome.preview = None
        first.setdefault(key, outcome.path)


def _publish(client: httpx.Client, outcome: Outcome) -> None:
    result = outcome.result or {}
    workflow_id = result.get("workflow_id")
    if not workflow_id:
        return
    if result.get("action") == "unchanged":
        current = client.get(f"/api/v1/workflows/{workflow_id}")
        if current.status_code == 200 and current.json().get("published_version") == current.json().get("version"):
            return
    try:
        response = client.post(f"/api/v1/workflows/{workflow_id}/publish")
    except httpx.HTTPError as exc:
        outcome.problems.append(f"publishing failed: {exc}")
        return
    if response.status_code == 200:
        result["published"] = response.json().get("published_version")
    elif response.status_code == 202:  # the workspace requires approval: an owner or admin publishes it
        result["awaiting_approval"] = response.json().get("request_id")
    else:
        outcome.problems += [f"publishing: {problem}" for problem in _problems(response)]


def summary(answer: dict[str, Any]) -> str:
    """`create`, `unchanged`, or `update` with what changed (nodes added, removed, changed, moved...)."""
    action = answer.get("action", "?")
    diff = answer.get("diff") or {}
    counts = [
        (len(diff.get("nodes_added") or []), "added"),
        (len(diff.get("nodes_removed") or []), "removed"),
        (len(diff.get("nodes_changed") or []), "changed"),
        (len(diff.get("nodes_moved") or []), "moved"),
    ]
    if action == "create":
        return f"create ({len(diff.get('nodes_added') or [])} nodes)"
    if action != "update":
        return str(action)
    parts = [f"nodes {', '.join(f'{n} {word}' for n, word in counts if n)}"] if any(n for n, _ in counts) else []
    edges = (
        len(diff.get("edges_added") or []) + len(diff.get("edges_removed") or []) + len(diff.get("edges_changed") or [])
    )
    parts += [f"{edges} edges changed"] if edges else []
    parts += ["trigger " + diff["trigger"]["change"]] if diff.get("trigger") else []
    others = [name for name in answer.get("changed") or [] if name != "graph"]
    parts += [f"{', '.join(others)} changed"] if others else []
    return f"update ({'; '.join(parts)})" if parts else "update"


def _report(console: Console, outcome: Outcome, answer: dict[str, Any] | None, *, dry_run: bool) -> None:
    name = escape(str(outcome.path))
    for problem in outcome.problems:
        console.print(f"{name}: {escape(problem)}")
    if answer is None:
        return
    would = "would " if dry_run and answer.get("action") != "unchanged" else ""
    console.print(f"{name}: {answer.get('key')}: {would}{escape(summary(answer))}")
    for step in answer.get("setup") or []:
        what = "secret" if step.get("type") == "secret" else f"{step.get('type')} connection"
        console.print(
            f"  setup: {escape(what)} {escape(str(step.get('name')))} (hint: {escape(str(step.get('hint')))})"
        )


def _report_done(console: Console, outcome: Outcome) -> None:
    name = escape(str(outcome.path))
    result = outcome.result
    if result is not None:
        published = f", published version {result['published']}" if result.get("published") else ""
        if result.get("awaiting_approval"):
            published = f", publishing awaits approval (publish request {result['awaiting_approval']})"
        console.print(
            f"{name}: {result.get('key')}: {result.get('action')}, version {result.get('version')}{published}"
        )
    for problem in outcome.problems:
        console.print(f"{name}: {escape(problem)}")


# --- export ----------------------------------------------------------------------------------------------------


def cmd_export(_settings_loader: Any, args: argparse.Namespace) -> int:
    console = Console(highlight=False, soft_wrap=True)
    client = _client(args, console)
    if client is None:
        return 1
    with client:
        try:
            response = client.get("/api/v1/workspace/export")
        except httpx.HTTPError as exc:
            console.print(f"flowyard export: the platform could not be reached: {escape(str(exc))}")
            return 1
    if response.status_code != 200:
        for problem in _problems(response):
            console.print(f"flowyard export: {escape(problem)}")
        return 1
    directory = Path(args.directory)
    directory.mkdir(parents=True, exist_ok=True)
    failed = 0
    for document in response.json().get("workflows", []):
        key = str(document.get("key"))
        if not KEY.match(key):  # a file name: never a path
            console.print(f"flowyard export: skipped a workflow with the unusable key {escape(key)!r}")
            failed += 1
            continue
        path = directory / f"{key}.{args.format}"
        path.write_text(_render(document, args.format), encoding="utf-8")
        console.print(f"{escape(str(path))}: {escape(str(document.get('name')))}")
    return 1 if failed else 0


def _render(document: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    header = f"# yaml-language-server: $schema={document['$schema']}\n" if document.get("$schema") else ""
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
