"""Customise before deploying: a template + parameters (+ trigger overrides) -> a new draft workflow
of the tenant, with its lineage; and the guided setup that puts the tenant's connections in its steps."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import definition as defs
from catalog import params
from flow_factory.nodes import get_node_type
from platform_api.deps import Caller
from platform_api.problems import Problem
from platform_api.templates import schemas
from platform_api.templates.service import get_template_version, get_visible, integration_statuses
from platform_api.workflows import schemas as workflow_schemas
from platform_api.workflows.service import (
    create_workflow,
    get_owned_workflow,
    get_version,
    graph_errors,
    invalid_graph,
    read_workflow,
    update_workflow,
)
from store import Connection, Role, Workflow, WorkflowLineage


def template_outdated(errors: list[dict[str, str]]) -> Problem:
    return Problem(
        422,
        "template-outdated",
        "Template needs an update",
        f"{errors[0]['message']}: this template cannot be used until it is updated.",
        hint=errors[0]["hint"],
        errors=errors,
    )


def invalid_parameters(exc: params.ParameterError) -> Problem:
    first = exc.errors[0]
    more = f" (and {len(exc.errors) - 1} more)" if len(exc.errors) > 1 else ""
    return Problem(
        422,
        "invalid-parameters",
        "Invalid parameters",
        f"{first['path']}: {first['message']}{more}",
        hint=first["hint"],
        errors=exc.errors,
    )


def _check_trigger_overrides(overrides: schemas.TriggerOverrides | None) -> None:
    if overrides and overrides.type:
        spec = get_node_type(overrides.type)
        if spec is None or not spec.is_trigger:
            raise Problem(
                422,
                "invalid-trigger",
                "Not a trigger",
                f"'{overrides.type}' is not a trigger node type.",
                hint="GET /api/v1/node-types lists them (is_trigger: true).",
                errors=[
                    {
                        "path": "trigger_overrides.type",
                        "message": "not a trigger node type",
                        "hint": "use a trigger node type, e.g. trigger.manual",
                    }
                ],
            )


# --- connections in steps ---------------------------------------------------------------------------


def _chosen_connections(db: Session, caller: Caller, chosen: dict[str, str], needed: set[str]) -> dict[str, str]:
    errors = []
    for kind, connection_id in chosen.items():
        row = db.scalar(
            select(Connection).where(Connection.id == connection_id, Connection.tenant_id == caller.tenant_id)
        )
        if kind not in needed:
            errors.append(
                {
                    "path": f"connections.{kind}",
                    "message": f"no step of this workflow needs a {kind} connection",
                    "hint": f"it needs: {', '.join(sorted(needed)) or 'none'}",
                }
            )
        elif row is None or row.type != kind:
            errors.append(
                {
                    "path": f"connections.{kind}",
                    "message": f"'{connection_id}' is not one of your {kind} connections",
                    "hint": f"GET /api/v1/connections?type={kind} lists them",
                }
            )
    if errors:
        raise Problem(
            422,
            "invalid-connections",
            "Invalid connections",
            f"{errors[0]['path']}: {errors[0]['message']}",
            hint=errors[0]["hint"],
            errors=errors,
        )
    return chosen


def bind_connections(
    db: Session, caller: Caller, graph: dict[str, Any], chosen: dict[str, str], preferred: dict[str, str] | None = None
) -> tuple[dict[str, Any], list[schemas.StepNeedingConnection]]:
    """Put connections in the steps that need one: the chosen one of its type (every step of it), else for
    steps without one the preferred one, else the tenant's only connection of the type. Returns the graph
    and the steps left without a connection."""
    graph = copy.deepcopy(graph)
    slots = defs.connection_slots(graph)
    chosen = _chosen_connections(db, caller, chosen, {kind for _, kind in slots})
    rows = db.execute(
        select(Connection.type, Connection.id).where(
            Connection.tenant_id == caller.tenant_id, Connection.type.in_({kind for _, kind in slots})
        )
    ).all()
    by_type: dict[str, list[str]] = {}
    for kind, connection_id in rows:
        by_type.setdefault(kind, []).append(connection_id)
    only = {kind: ids[0] for kind, ids in by_type.items() if len(ids) == 1}
    unbound = []
    for index, kind in slots:
        node = graph["nodes"][index]
        config = node.setdefault("config", {})
        if kind in chosen:
            config["connection"] = chosen[kind]
        elif not config.get("connection"):
            connection = (preferred or {}).get(kind) or only.get(kind)
            if connection:
                config["connection"] = connection
            else:
                unbound.append(schemas.StepNeedingConnection(node_id=node["id"], connection_type=kind))
    return graph, unbound


def connections_in(graph: dict[str, Any]) -> dict[str, str]:
    """The connection each type's steps use in a graph (the first found)."""
    found: dict[str, str] = {}
    for index, kind in defs.connection_slots(graph):
        connection = graph["nodes"][index].get("config", {}).get("connection")
        if connection:
            found.setdefault(kind, connection)
    return found


def _setup_state(
    db: Session, caller: Caller, graph: dict[str, Any], unbound: list[schemas.StepNeedingConnection]
) -> dict[str, Any]:
    statuses = integration_statuses(db, caller.tenant_id, defs.required_integrations(graph))
    next_steps = [f"Connect {s.label}: {s.how_to_connect}" for s in statuses if not s.connected]
    if unbound and not next_steps:
        kinds = sorted({step.connection_type for step in unbound})
        next_steps.append(
            f"Choose which connection to use for {', '.join(kinds)}: POST /api/v1/workflows/{{id}}/setup "
            f'with {{"connections": {{"{kinds[0]}": "<connection id>"}}}}.'
        )
    next_steps.append("Try it: POST /api/v1/workflows/{id}/runs with mode 'test' (nothing is really sent).")
    next_steps.append("Publish it: POST /api/v1/workflows/{id}/publish.")
    return {"integrations": statuses, "unbound_steps": unbound, "setup_complete": not unbound, "next_steps": next_steps}


def _unexpected_errors(graph: dict[str, Any], unbound: list[schemas.StepNeedingConnection]) -> list[dict[str, str]]:
    """Graph errors other than the missing connections that setup will fill in."""
    waiting = {node["id"] for node in graph["nodes"]} & {step.node_id for step in unbound}
    missing = {f"graph.nodes[{i}].config.connection" for i, n in enumerate(graph["nodes"]) if n["id"] in waiting}
    return [e for e in graph_errors(graph) if e["path"] not in missing]


# --- instantiate ----------------------------------------------------------------------------------


def instantiate(db: Session, *, caller: Caller, slug: str, data: schemas.InstantiateCreate) -> schemas.InstantiateRead:
    caller.require(Role.EDITOR, "create workflows")
    template = get_visible(db, caller, slug)
    definition = get_template_version(db, template, template.latest_version).definition
    outdated = defs.unknown_node_types(definition["graph"])
    if outdated:
        raise template_outdated(outdated)
    try:
        values = params.resolve(definition["parameters"], data.parameters)
    except params.ParameterError as exc:
        raise invalid_parameters(exc) from None
    _check_trigger_overrides(data.trigger_overrides)
    overrides = data.trigger_overrides.model_dump(exclude_none=True) if data.trigger_overrides else None
    graph, unbound = bind_connections(db, caller, defs.render(definition, values, overrides), data.connections)
    errors = _unexpected_errors(graph, unbound)
    if errors:
        raise invalid_graph(errors)
    workflow = create_workflow(
        db,
        caller=caller,
        data=workflow_schemas.WorkflowCreate(
            name=data.name,
            description=data.description if data.description is not None else template.description,
            graph=graph,
            allow_invalid=bool(unbound),
        ),
    )
    try:
        db.add(
            WorkflowLineage(
                workflow_id=workflow.id,
                tenant_id=caller.tenant_id,
                template_id=template.id,
                template_slug=template.slug,
                template_version=template.latest_version,
                parameters=values,
                trigger_overrides=overrides,
            )
        )
        db.commit()
    except Exception:
        db.rollback()
        db.delete(db.get(Workflow, workflow.id))  # nothing half-made stays behind
        db.commit()
        raise
    return schemas.InstantiateRead(
        workflow=workflow,
        template={"slug": template.slug, "version": template.latest_version},
        **_setup_state(db, caller, graph, unbound),
    )


# --- guided setup -----------------------------------------------------------------------------------


def _unbound(graph: dict[str, Any]) -> list[schemas.StepNeedingConnection]:
    return [
        schemas.StepNeedingConnection(node_id=graph["nodes"][i]["id"], connection_type=kind)
        for i, kind in defs.connection_slots(graph)
        if not graph["nodes"][i].get("config", {}).get("connection")
    ]


def setup_state(db: Session, *, caller: Caller, workflow_id: str) -> schemas.SetupRead:
    workflow = get_owned_workflow(db, caller, workflow_id)
    graph = get_version(db, workflow, workflow.latest_version).graph
    return schemas.SetupRead(
        workflow=read_workflow(db, caller=caller, workflow_id=workflow_id),
        **_setup_state(db, caller, graph, _unbound(graph)),
    )


def setup(db: Session, *, caller: Caller, workflow_id: str, data: schemas.SetupCreate) -> schemas.SetupRead:
    """Puts the tenant's connections in the steps that need one and saves that as a new draft version."""
    caller.require(Role.EDITOR, "edit workflows")
    workflow = get_owned_workflow(db, caller, workflow_id)
    graph = get_version(db, workflow, workflow.latest_version).graph
    bound, unbound = bind_connections(db, caller, graph, data.connections)
    if bound != graph:
        read = update_workflow(
            db,
            caller=caller,
            workflow_id=workflow_id,
            data=workflow_schemas.WorkflowUpdate(graph=bound, allow_invalid=True),
        )
    else:
        read = read_workflow(db, caller=caller, workflow_id=workflow_id)
    return schemas.SetupRead(workflow=read, **_setup_state(db, caller, bound, unbound))
