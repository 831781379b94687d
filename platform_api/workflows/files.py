"""Workflow files: a workflow exported as a self-describing document (JSON, YAML) and imported back by its key,
into the same workspace or another. See docs/workflow-files.md.

- Connections cross workspaces by type and name: the exported graph names a step's connection, an import maps
  the name to the workspace's connection of that type, and reports a missing one as a setup step (the step
  keeps the name until the connection exists and the file is imported again; publishing refuses it before).
- Config values under secret-looking keys (`flow_factory.redact.SECRET_KEY`) are exported empty. Importing an
  empty one keeps the value the workflow already has at that place; with none, it is a setup step.
- An import validates the whole document first and writes nothing when anything is wrong (a 422 listing every
  problem with its path and a hint); a dry run never writes.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml
from fastapi import Request
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from blocks.registry import connection_type_of
from catalog.index import visible
from flow_factory.diff import diff_graphs
from flow_factory.graph import MAX_NODES, Graph
from flow_factory.redact import SECRET_KEY
from platform_api.audit.service import audit
from platform_api.auth.service import slugify
from platform_api.deps import Caller
from platform_api.problems import Problem, validation_problem
from platform_api.workflows import bpmn
from platform_api.workflows import file_schemas as fs
from platform_api.workflows.service import get_owned_workflow, get_version, graph_errors, invalid_graph
from store import CatalogTemplate, Connection, Role, Workflow, WorkflowLineage, WorkflowVersion, utcnow

Format = Literal["flowyard", "yaml"]
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
IMPORTED = "Imported from a workflow file"
Path = tuple[str, ...]


# --- export -------------------------------------------------------------------------------------------------


def export_workflow(
    db: Session, *, caller: Caller, workflow_id: str, schema_url: str, request: Request | None = None
) -> dict[str, Any]:
    """The workflow's document (a key is given to it first if it has none)."""
    workflow = get_owned_workflow(db, caller, workflow_id)
    document = _document(db, caller, workflow, schema_url, request)
    _commit(db)  # the key given to it, if any
    return document


def export_workspace(db: Session, *, caller: Caller, schema_url: str, request: Request | None = None) -> dict[str, Any]:
    workflows = db.scalars(
        select(Workflow)
        .where(Workflow.tenant_id == caller.tenant_id, Workflow.deleted_at.is_(None))
        .order_by(Workflow.name)
    ).all()
    documents = [_document(db, caller, workflow, schema_url, request) for workflow in workflows]
    _commit(db)
    return {"format": fs.WORKSPACE_FORMAT, "format_version": fs.FORMAT_VERSION, "workflows": documents}


def _document(
    db: Session, caller: Caller, workflow: Workflow, schema_url: str, request: Request | None
) -> dict[str, Any]:
    if workflow.key is None:
        workflow.key = _free_key(db, caller.tenant_id, workflow.name)
        detail = {"changed": ["key"], "exported_as": workflow.key}
        audit(db, caller, "workflow.updated", f"workflow:{workflow.id}", request=request, detail=detail)
        db.flush()
    graph, connections = _portable(db, caller.tenant_id, get_version(db, workflow, workflow.latest_version).graph)
    lineage = db.get(WorkflowLineage, workflow.id)
    template = (
        fs.FileTemplate(slug=lineage.template_slug, version=lineage.template_version, parameters=lineage.parameters)
        if lineage is not None
        else None
    )
    document = fs.WorkflowFile(
        schema_=schema_url,
        key=workflow.key,
        name=workflow.name,
        description=workflow.description,
        tags=list(workflow.tags or []),
        graph=graph,
        settings=fs.FileSettings(
            conflict_policy=workflow.conflict_policy,  # type: ignore[arg-type]  # a ConflictPolicy value
            max_parallel=workflow.max_parallel,
        ),
        template=template,
        connections=connections,
    )
    return document.model_dump(by_alias=True, mode="json")


def _free_key(db: Session, tenant_id: str, name: str) -> str:
    """The slug of the name, made unique among the workspace's keys (deleted workflows' included)."""
    base = slugify(name, max_length=60)
    taken = set(db.scalars(select(Workflow.key).where(Workflow.tenant_id == tenant_id, Workflow.key.is_not(None))))
    key, number = base, 2
    while key in taken:
        key, number = f"{base}-{number}", number + 1
    return key


def _portable(db: Session, tenant_id: str, graph: dict[str, Any]) -> tuple[dict[str, Any], list[fs.FileConnection]]:
    """The graph as it leaves the workspace: connections by name, secret-looking values empty."""
    graph = copy.deepcopy(graph)
    slots = _connection_slots(graph)
    ids = {value for _, _, value in slots}
    rows = {
        row.id: row
        for row in db.scalars(select(Connection).where(Connection.tenant_id == tenant_id, Connection.id.in_(ids)))
    }
    used: dict[tuple[str, str], fs.FileConnection] = {}
    for node, kind, value in slots:
        row = rows.get(value)
        if row is not None and row.type == kind:
            node["config"]["connection"] = row.name
            used.setdefault((row.type, row.name), fs.FileConnection(type=row.type, name=row.name))
    for node in _nodes(graph):
        for path, _value in _secret_values(node.get("config")):
            _set(node["config"], path, "")
    return graph, list(used.values())


def _nodes(graph: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = graph.get("nodes")
    return [node for node in nodes if isinstance(node, dict)] if isinstance(nodes, list) else []


def _connection_slots(graph: dict[str, Any]) -> list[tuple[dict[str, Any], str, str]]:
    """(node, connection type, value) of every step that names a connection."""
    slots = []
    for node in _nodes(graph):
        kind = connection_type_of(str(node.get("type")))
        config = node.get("config")
        value = config.get("connection") if isinstance(config, dict) else None
        if kind and isinstance(value, str) and value:
            slots.append((node, kind, value))
    return slots


def _secret_values(value: Any, path: Path = ()) -> list[tuple[Path, Any]]:
    """(path, value) of every value under a secret-looking key, empty ones included."""
    found: list[tuple[Path, Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if SECRET_KEY.search(str(key)):
                found.append(((*path, str(key)), item))
            else:
                found += _secret_values(item, (*path, str(key)))
    return found


def _set(config: dict[str, Any], path: Path, value: Any) -> None:
    for key in path[:-1]:
        config = config[key]
    config[path[-1]] = value


def _get(config: Any, path: Path) -> Any:
    for key in path:
        if not isinstance(config, dict):
            return None
        config = config.get(key)
    return config


def render_yaml(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def render_bpmn(document: dict[str, Any]) -> str:
    """The document's graph as BPMN 2.0 (platform_api.workflows.bpmn), its process id the key. BPMN carries the
    graph only: the description, tags and settings stay out (an import of it keeps the workflow's own)."""
    return bpmn.to_bpmn(document["graph"], process_id=document["key"], name=document["name"])


def document_from_bpmn(
    db: Session, *, caller: Caller, body: bytes, key: str | None, name: str | None
) -> tuple[dict[str, Any], list[str]]:
    """A workflow document made from a BPMN 2.0 body, and what of it has no Flowyard meaning. The key is `key`,
    else the process id (an export's is its key), else the slug of the process name; the name is `name`, else the
    process name. What BPMN does not carry (description, tags, settings) is the workflow's own when it exists."""
    try:
        imported = bpmn.from_bpmn(body)
    except ValueError as exc:  # bpmn.BpmnError: hostile, not XML, not BPMN
        raise _unreadable(str(exc), "send a BPMN 2.0 document (bpmn:definitions with a process)") from None
    process_id, process_name = imported.process_id, imported.process_name
    if key is None:
        candidate = process_id.removeprefix("_")  # to_bpmn puts a _ before an id that starts with a digit
        key = candidate if re.match(fs.KEY_PATTERN, candidate) else slugify(process_name or process_id, max_length=60)
    document: dict[str, Any] = {"key": key, "name": name or process_name or key, "graph": imported.graph}
    existing = db.scalar(select(Workflow).where(Workflow.tenant_id == caller.tenant_id, Workflow.key == key))
    if existing is not None:
        document |= {
            "description": existing.description,
            "tags": list(existing.tags or []),
            "settings": {"conflict_policy": existing.conflict_policy, "max_parallel": existing.max_parallel},
        }
    return document, imported.unmapped


# --- reading a body ------------------------------------------------------------------------------------------


class _NoAliases(yaml.SafeLoader):
    """YAML without anchors' aliases: a few kilobytes of nested aliases would expand to billions of values."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.MarkedYAMLError(None, None, "aliases (*name) are not accepted", mark)
        return super().compose_node(parent, index)


# dates stay text, as in JSON
_NoAliases.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _unreadable(message: str, hint: str) -> Problem:
    return Problem(
        422,
        "invalid-workflow-file",
        "Invalid workflow file",
        f"body: {message}",
        hint=hint,
        errors=[{"path": "body", "message": message, "hint": hint}],
    )


def parse_body(body: bytes, *, fmt: Format, content_type: str) -> Any:
    """The document in a request body: YAML with format=yaml or a YAML content type, else JSON (BPMN: see
    document_from_bpmn)."""
    as_yaml = fmt == "yaml" or content_type.split(";")[0].strip().lower() in YAML_TYPES
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _unreadable("not UTF-8 text", "save the file as UTF-8") from None
    try:
        document = yaml.load(text, Loader=_NoAliases) if as_yaml else json.loads(text)  # noqa: S506  (a SafeLoader)
        return json.loads(json.dumps(document, allow_nan=False))  # JSON values only, keys as text
    except (TypeError, ValueError) as exc:
        if not isinstance(exc, json.JSONDecodeError):
            hint = "use only text, numbers, true/false, null, lists and mappings (no !!tags, NaN or Infinity)"
            raise _unreadable(f"not a JSON value: {exc}", hint) from None
        hint = "send JSON, or YAML with Content-Type: application/yaml (or format=yaml)"
        raise _unreadable(f"not valid JSON: {exc}", hint) from None
    except yaml.YAMLError as exc:
        raise _unreadable(f"not valid YAML: {exc}", "check the file with a YAML linter") from None
    except RecursionError:
        raise _unreadable("nested too deeply", "a workflow file is nested a few levels deep, not hundreds") from None


# --- import --------------------------------------------------------------------------------------------------


@dataclass
class Plan:
    """What importing one document would do; `apply` does it."""

    file: fs.WorkflowFile
    graph: dict[str, Any]  # the document's graph with the workspace's connections put in
    workflow: Workflow | None  # the workflow with the file's key; None: it is created
    action: Literal["create", "update", "unchanged"]
    changed: list[str]
    diff: Any
    setup: list[fs.SetupStep] = field(default_factory=list)
    template: CatalogTemplate | None = None


def _invalid(errors: list[dict[str, str]]) -> Problem:
    return invalid_graph(errors, slug="invalid-workflow-file", title="Invalid workflow file")


def check_document(document: Any, *, prefix: str = "") -> tuple[fs.WorkflowFile | None, list[dict[str, str]]]:
    """The document read as a workflow file, and every problem with it (paths from the body's root)."""

    def at(path: str) -> str:
        return ".".join(part for part in (prefix.rstrip("."), path) if part)

    if not isinstance(document, dict):
        return None, [{"path": at("") or "body", "message": "not an object", "hint": "send a workflow document"}]
    errors: list[dict[str, str]] = []
    try:
        file = fs.WorkflowFile.model_validate(document)
    except ValidationError as exc:
        for item in validation_problem([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]).errors:
            hint = fs.KEY_HINT if item["path"] == "key" else item["hint"]
            errors.append({"path": at(item["path"]), "message": item["message"], "hint": hint})
        file = None
    graph = document.get("graph")
    if isinstance(graph, dict):
        nodes = graph.get("nodes")
        if isinstance(nodes, list) and len(nodes) > MAX_NODES:
            errors.append({"path": at("graph.nodes"), "message": f"more than {MAX_NODES} nodes", "hint": "split it"})
        else:
            errors += graph_errors(graph, prefix=at("graph"))
            if not errors:
                try:
                    Graph.model_validate(graph)
                except ValidationError:  # graph_errors reports what the model refuses; this is a safety net
                    errors.append(
                        {"path": at("graph"), "message": "not a valid graph", "hint": "see /api/v1/schema/graph"}
                    )
    return (file if not errors else None), errors


def plan_import(db: Session, *, caller: Caller, file: fs.WorkflowFile, prefix: str = "") -> Plan:
    """What importing `file` would do, with no write; 409 when its name is another workflow's."""
    workflow = db.scalar(select(Workflow).where(Workflow.tenant_id == caller.tenant_id, Workflow.key == file.key))
    if workflow is not None and workflow.deleted_at is not None:
        raise Problem(
            409,
            "key-in-trash",
            "Workflow in the trash",
            f"The workflow with key '{file.key}' is in the trash.",
            hint=f"Restore it (POST /api/v1/workflows/{workflow.id}/restore) and import again, or use another key.",
            errors=[{"path": f"{prefix}key", "message": "a deleted workflow has it", "hint": "restore it"}],
        )
    clash = db.scalar(
        select(Workflow).where(
            Workflow.tenant_id == caller.tenant_id,
            Workflow.name == file.name,
            Workflow.id != (workflow.id if workflow else ""),
        )
    )
    if clash is not None:
        raise Problem(
            409,
            "name-taken",
            "Name already used",
            f"Another workflow of your workspace is named '{file.name}'"
            + (f" (its key is '{clash.key}')." if clash.key else " (it has no key yet)."),
            hint="Rename one of them; or, if it is the same workflow, export it (GET /api/v1/workflows/"
            f"{clash.id}/export) and use its key in the file.",
            errors=[{"path": f"{prefix}name", "message": "another workflow has this name", "hint": "rename one"}],
        )
    before = get_version(db, workflow, workflow.latest_version).graph if workflow else None
    graph, setup = _resolve(db, caller.tenant_id, file, before, prefix)
    diff = diff_graphs(before, graph)
    changed = [] if workflow is None else _changed(workflow, file, graph_changed=not diff.unchanged)
    action: Literal["create", "update", "unchanged"] = (
        "create" if workflow is None else ("update" if changed else "unchanged")
    )
    template = None
    if file.template is not None:
        template = db.scalar(
            select(CatalogTemplate).where(CatalogTemplate.slug == file.template.slug, visible(caller.tenant_id))
        )
    return Plan(file, graph, workflow, action, changed, diff, setup, template)


def _changed(workflow: Workflow, file: fs.WorkflowFile, *, graph_changed: bool) -> list[str]:
    current = {
        "name": workflow.name,
        "description": workflow.description,
        "tags": list(workflow.tags or []),
        "conflict_policy": workflow.conflict_policy,
        "max_parallel": workflow.max_parallel,
    }
    wanted = {
        "name": file.name,
        "description": file.description,
        "tags": file.tags,
        "conflict_policy": file.settings.conflict_policy,
        "max_parallel": file.settings.max_parallel,
    }
    return (["graph"] if graph_changed else []) + [name for name in current if current[name] != wanted[name]]


def _resolve(
    db: Session, tenant_id: str, file: fs.WorkflowFile, before: dict[str, Any] | None, prefix: str
) -> tuple[dict[str, Any], list[fs.SetupStep]]:
    """The file's graph with the workspace's connections put in and secrets it left empty kept from `before`;
    and what the workspace has to set up."""
    graph = copy.deepcopy(file.graph)
    slots = _connection_slots(graph)
    kinds = {kind for _, kind, _ in slots} | {c.type for c in file.connections}
    rows = db.execute(
        select(Connection.id, Connection.type, Connection.name).where(
            Connection.tenant_id == tenant_id, Connection.type.in_(kinds)
        )
    ).all()
    by_name = {(kind, name): connection_id for connection_id, kind, name in rows}
    by_id = {connection_id: kind for connection_id, kind, _ in rows}
    missing: dict[tuple[str, str], fs.SetupStep] = {}

    def lacking(kind: str, name: str) -> None:
        missing.setdefault(
            (kind, name),
            fs.SetupStep(
                type=kind,
                name=name,
                hint=f"add a {kind} connection named '{name}' in Settings → Connections (POST /api/v1/connections), "
                "then import the file again to use it",
            ),
        )

    for node, kind, value in slots:
        if (kind, value) in by_name:
            node["config"]["connection"] = by_name[(kind, value)]
        elif by_id.get(value) != kind:  # an id of the workspace's own connection stays as it is
            lacking(kind, value)
    for connection in file.connections:
        if (connection.type, connection.name) not in by_name:
            lacking(connection.type, connection.name)
    setup = list(missing.values())
    old_nodes = {node.get("id"): node for node in _nodes(before or {})}
    for index, node in enumerate(_nodes(graph)):
        for path, value in _secret_values(node.get("config")):
            if value not in (None, ""):
                continue
            kept = _get((old_nodes.get(node.get("id")) or {}).get("config"), path)
            if kept not in (None, ""):
                _set(node["config"], path, kept)
            else:
                where = f"{prefix}graph.nodes[{index}].config.{'.'.join(path)}"
                hint = f"fill in '{path[-1]}' of step '{node.get('label') or node.get('id')}' in the builder"
                setup.append(fs.SetupStep(type="secret", name=where, hint=hint))
    return graph, setup


def apply(db: Session, *, caller: Caller, plan: Plan, request: Request | None = None) -> Workflow:
    """Write what `plan` says (not committed)."""
    file, workflow = plan.file, plan.workflow
    if workflow is None:
        workflow = Workflow(
            tenant_id=caller.tenant_id,
            name=file.name,
            slug=f"{slugify(file.name)}-{secrets.token_hex(3)}",
            latest_version=1,
            key=file.key,
        )
        _set_metadata(workflow, file)
        db.add(workflow)
        db.flush()
        db.add(_version(caller, workflow, plan.graph))
        if plan.template is not None and file.template is not None:
            db.add(
                WorkflowLineage(
                    workflow_id=workflow.id,
                    tenant_id=caller.tenant_id,
                    template_id=plan.template.id,
                    template_slug=plan.template.slug,
                    template_version=file.template.version,
                    parameters=file.template.parameters,
                )
            )
        detail: dict[str, Any] = {"name": file.name, "from_file": file.key}
        audit(db, caller, "workflow.created", f"workflow:{workflow.id}", request=request, detail=detail)
        return workflow
    if plan.action == "unchanged":
        return workflow
    if "graph" in plan.changed:
        workflow.latest_version += 1
        db.add(_version(caller, workflow, plan.graph))
    _set_metadata(workflow, file)
    workflow.updated_at = utcnow()
    detail = {"version": workflow.latest_version, "changed": plan.changed, "from_file": file.key}
    audit(db, caller, "workflow.updated", f"workflow:{workflow.id}", request=request, detail=detail)
    return workflow


def _set_metadata(workflow: Workflow, file: fs.WorkflowFile) -> None:
    workflow.name, workflow.description, workflow.tags = file.name, file.description, list(dict.fromkeys(file.tags))
    workflow.conflict_policy, workflow.max_parallel = file.settings.conflict_policy, file.settings.max_parallel


def _version(caller: Caller, workflow: Workflow, graph: dict[str, Any]) -> WorkflowVersion:
    return WorkflowVersion(
        tenant_id=caller.tenant_id,
        workflow_id=workflow.id,
        version=workflow.latest_version,
        graph=graph,
        valid=True,
        created_by=caller.user_id,
        message=IMPORTED,
    )


def _result(plan: Plan, workflow: Workflow | None, *, dry_run: bool) -> fs.ImportResult:
    if workflow is not None and not dry_run:
        version: int | None = workflow.latest_version
    elif plan.workflow is None:
        version = 1
    else:
        version = plan.workflow.latest_version + (1 if "graph" in plan.changed else 0)
    return fs.ImportResult(
        key=plan.file.key,
        action=plan.action,
        dry_run=dry_run,
        workflow_id=workflow.id if workflow is not None else None,
        version=version,
        diff=plan.diff,
        changed=plan.changed,
        setup=plan.setup,
    )


def _commit(db: Session) -> None:
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise Problem(
            409,
            "changed-meanwhile",
            "Changed at the same time",
            "Another change to these workflows (a key or a name) happened at the same time.",
            hint="Send the request again.",
        ) from None


def import_workflow(
    db: Session,
    *,
    caller: Caller,
    document: Any,
    dry_run: bool,
    request: Request | None = None,
    unmapped: list[str] | None = None,
) -> fs.ImportResult:
    caller.require(Role.EDITOR, "import workflows")
    file, errors = check_document(document)
    if file is None:
        raise _invalid(errors)
    plan = plan_import(db, caller=caller, file=file)
    if dry_run:
        result = _result(plan, plan.workflow, dry_run=True)
    else:
        workflow = apply(db, caller=caller, plan=plan, request=request)
        _commit(db)
        result = _result(plan, workflow, dry_run=False)
    result.unmapped = unmapped or []
    return result


def import_workspace(
    db: Session, *, caller: Caller, document: Any, dry_run: bool, request: Request | None = None
) -> fs.WorkspaceImportResult:
    """Every workflow of a workspace file, all checked before any is written, in one transaction."""
    caller.require(Role.EDITOR, "import workflows")
    try:
        bundle = fs.WorkspaceFile.model_validate(document)
    except ValidationError as exc:
        raise _invalid(validation_problem([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]).errors) from None
    files, errors = [], []
    seen: dict[str, dict[str, int]] = {"key": {}, "name": {}}
    for index, item in enumerate(bundle.workflows):
        file, problems = check_document(item, prefix=f"workflows[{index}].")
        errors += problems
        if file is None:
            continue
        for what, value in (("key", file.key), ("name", file.name)):
            if value in seen[what]:
                errors.append(
                    {
                        "path": f"workflows[{index}].{what}",
                        "message": f"also the {what} of workflows[{seen[what][value]}]",
                        "hint": f"give each workflow its own {what}",
                    }
                )
            seen[what].setdefault(value, index)
        files.append((index, file))
    if errors:
        raise _invalid(errors)
    plans = [plan_import(db, caller=caller, file=file, prefix=f"workflows[{index}].") for index, file in files]
    if dry_run:
        return fs.WorkspaceImportResult(results=[_result(plan, plan.workflow, dry_run=True) for plan in plans])
    written = [apply(db, caller=caller, plan=plan, request=request) for plan in plans]
    _commit(db)
    return fs.WorkspaceImportResult(
        results=[_result(plan, workflow, dry_run=False) for plan, workflow in zip(plans, written, strict=True)]
    )
