"""Connections: a tenant's credentials for a service, kept as a Prefect block `t-<tenant>-<type>-<name>`
whose secrets are sealed with the tenant's data key before they leave this process, and whose settings
are authenticated with a MAC (blocks.base). Every save here starts from what Flowyard last saved: a
block edited in Prefect is put back to the settings recorded in the platform database, then sealed
again. Who may point a connection elsewhere: changing a setting that decides where its secrets are sent
(a URL or host) keeps the stored secrets only for an admin; anyone else must enter them again."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Protocol, runtime_checkable

from fastapi import Request, Response
from pydantic import SecretStr, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from blocks import oauth, registry
from blocks.base import SETTINGS_MAC, IntegrationBlock
from blocks.connections import block_name, delete_block, prefect_settings, read_block, save_block
from blocks.crypto import TenantCipher, cipher_for
from core.errors import StepFailure
from core.settings import Settings
from platform_api.audit.service import audit
from platform_api.connections import schemas
from platform_api.deps import Caller
from platform_api.pagination import paginate
from platform_api.problems import Problem, not_found
from store import Connection, ConnectionStatus, OAuthState, Role, Workflow, WorkflowVersion, utcnow

MASK = "••••••"
OAUTH_STATE_TTL = timedelta(minutes=15)


def _problem_unavailable(exc: Exception) -> Problem:
    return Problem(
        503,
        "engine-unavailable",
        "Workflow engine unavailable",
        f"Could not store the credentials in the workflow engine: {type(exc).__name__}.",
        hint="Try again in a minute; if it persists, contact your operator.",
        headers={"Retry-After": "30"},
    )


def _read(row: Connection) -> schemas.ConnectionRead:
    return schemas.ConnectionRead(
        id=row.id,
        type=row.type,
        name=row.name,
        block_name=row.block_name,
        config=row.config,
        secrets={name: MASK for name, is_set in row.secrets_set.items() if is_set},
        status=ConnectionStatus(row.status),
        last_error=schemas.ConnectionErrorRead(**row.last_error) if row.last_error else None,
        use_for_alerts=row.use_for_alerts,
        token_expires_at=row.token_expires_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_tested_at=row.last_tested_at,
    )


def _cipher(db: Session, tenant_id: str, settings: Settings) -> TenantCipher:
    return cipher_for(db, tenant_id, settings)


def _block_type(type_: str) -> type[IntegrationBlock]:
    block_type = registry.block_type(type_)
    if block_type is None:
        raise Problem(
            422,
            "unknown-connection-type",
            "Unknown connection type",
            f"There is no connection type '{type_}'.",
            hint=f"Use one of: {', '.join(registry.BLOCK_TYPES)}.",
            errors=[{"path": "type", "message": "unknown type", "hint": ", ".join(registry.BLOCK_TYPES)}],
        )
    return block_type


def _invalid(errors: list[dict[str, Any]]) -> Problem:
    first = errors[0]
    return Problem(
        422,
        "invalid-connection",
        "Invalid connection settings",
        f"{first['path']}: {first['message']}",
        hint=first["hint"],
        errors=errors,
    )


def _unknown_keys(block_type: type[IntegrationBlock], config: dict[str, Any], secret_values: dict[str, Any]) -> None:
    errors = [
        {
            "path": f"config.{k}",
            "message": "unknown setting",
            "hint": f"settings: {', '.join(block_type.config_fields())}",
        }
        for k in config
        if k not in block_type.config_fields()
    ]
    errors += [
        {
            "path": f"secrets.{k}",
            "message": "unknown secret",
            "hint": f"secrets: {', '.join(block_type.secret_fields())}",
        }
        for k in secret_values
        if k not in block_type.secret_fields()
    ]
    if errors:
        raise _invalid(errors)


def _build(block_type: type[IntegrationBlock], fields: dict[str, Any]) -> IntegrationBlock:
    """The block, validated; errors name config.<field> or secrets.<field>, never a value."""
    try:
        return block_type(**fields)
    except ValidationError as exc:
        secret = set(block_type.secret_fields())
        errors: list[dict[str, Any]] = []
        for error in exc.errors(include_input=False, include_url=False):
            name = str(error["loc"][0]) if error["loc"] else ""
            group = "secrets" if name in secret else "config"
            errors.append(
                {
                    "path": f"{group}.{name}" if name else group,
                    "message": error["msg"].removeprefix("Value error, "),
                    "hint": block_type.model_fields[name].description
                    if name in block_type.model_fields
                    else f"see GET /api/v1/connection-types for the {block_type.slug} fields",
                }
            )
        raise _invalid(errors) from None


def _sealed(
    block_type: type[IntegrationBlock], cipher: TenantCipher, name: str, values: Mapping[str, str | None]
) -> dict[str, SecretStr | None]:
    return {
        k: None if v in (None, "") else SecretStr(cipher.seal(v, context=block_type.secret_context(name, k)))
        for k, v in values.items()
    }


def _save(settings: Settings, block: IntegrationBlock, name: str, cipher: TenantCipher) -> None:
    """Authenticate the block (its secrets sealed by `_sealed` or `reseal`) and store it in Prefect."""
    block.attach(cipher, name).seal_settings()
    try:
        save_block(settings, block, name)
    except Exception as exc:
        raise _problem_unavailable(exc) from exc


def _recorded(block: IntegrationBlock) -> dict[str, Any]:
    """The settings as the platform database keeps them: what vouches for the block later."""
    return block.setting_values()


def _status(block: IntegrationBlock) -> str:
    return "needs_auth" if block.oauth_spec and getattr(block, "access_token", None) is None else "untested"


def _cipher_of(block: IntegrationBlock) -> TenantCipher:
    assert block._cipher is not None, "a block read by _load is attached to its tenant's cipher"
    return block._cipher


@runtime_checkable
class _TakesTokens(Protocol):
    """A block of a network that connects through OAuth: it keeps the tokens of the consent."""

    def store_tokens(self, tokens: oauth.Tokens) -> None: ...


def _about(row: Connection, **more: Any) -> dict[str, Any]:
    """An audit row's detail: which connection, never its settings or secrets."""
    return {"type": row.type, "name": row.name, **more}


def get_owned(db: Session, caller: Caller, connection_id: str) -> Connection:
    row = db.scalar(select(Connection).where(Connection.id == connection_id, Connection.tenant_id == caller.tenant_id))
    if row is None:
        raise not_found("connection")
    return row


def create_connection(
    db: Session, *, caller: Caller, data: schemas.ConnectionCreate, settings: Settings, request: Request | None = None
) -> schemas.ConnectionRead:
    caller.require(Role.ADMIN, "manage connections")
    block_type = _block_type(data.type)
    _unknown_keys(block_type, data.config, data.secrets)
    if data.use_for_alerts and data.type != "sendgrid":
        raise _invalid(
            [{"path": "use_for_alerts", "message": "only SendGrid connections send alerts", "hint": "remove it"}]
        )
    cipher = _cipher(db, caller.tenant_id, settings)  # before any write: it may create the tenant's key
    name = block_name(caller.tenant_slug, data.type, data.name)
    taken = db.scalar(
        select(Connection.id).where(
            (Connection.block_name == name)
            | (
                (Connection.tenant_id == caller.tenant_id)
                & (Connection.type == data.type)
                & (Connection.name == data.name)
            )
        )
    )
    if taken:
        raise Problem(
            409,
            "name-taken",
            "Name already used",
            f"You already have a {data.type} connection named like '{data.name}'.",
            hint="Choose another name, or update the existing connection.",
            errors=[{"path": "name", "message": "already used", "hint": "choose another name"}],
        )
    _build(block_type, {**data.config, **{k: SecretStr(v) for k, v in data.secrets.items()}})  # check the plaintext
    block = _build(block_type, {**data.config, **_sealed(block_type, cipher, name, data.secrets)})
    _save(settings, block, name, cipher)
    row = Connection(
        tenant_id=caller.tenant_id,
        type=data.type,
        name=data.name,
        block_name=name,
        config=_recorded(block),
        secrets_set={k: getattr(block, k) is not None for k in block_type.secret_fields()},
        status=_status(block),
        use_for_alerts=data.use_for_alerts,
        created_by=caller.user_id,
    )
    db.add(row)
    db.flush()
    audit(db, caller, "connection.created", f"connection:{row.id}", request=request, detail=_about(row))
    db.commit()
    return _read(row)


def list_connections(
    db: Session,
    *,
    caller: Caller,
    type_: str | None,
    limit: int,
    cursor: str | None,
    request: Request,
    response: Response,
) -> list[schemas.ConnectionRead]:
    query = select(Connection).where(Connection.tenant_id == caller.tenant_id)
    if type_:
        query = query.where(Connection.type == type_)
    order = ((Connection.type, False), (Connection.name, False))
    rows = paginate(
        db, query, order=order, row_id=Connection.id, limit=limit, cursor=cursor, request=request, response=response
    )
    return [_read(row) for row in rows]


def read_connection(db: Session, *, caller: Caller, connection_id: str) -> schemas.ConnectionRead:
    return _read(get_owned(db, caller, connection_id))


def _load(db: Session, settings: Settings, row: Connection) -> IntegrationBlock:
    cipher = _cipher(db, row.tenant_id, settings)
    block_type = _block_type(row.type)
    try:
        block = read_block(settings, block_type, row.block_name)
    except Exception as exc:
        if not isinstance(exc, ValueError) or any(row.secrets_set.values()):  # ValueError: no such block
            raise _problem_unavailable(exc) from exc
        # Imported without its secrets (platform_api.privacy.restore): no block yet; saving one makes it.
        block = block_type.model_construct(**{name: None for name in block_type.secret_fields()}, **row.config)
    return block.attach(cipher, row.block_name, row.id, recorded=row.config, label=row.name)


def _load_for_saving(db: Session, settings: Settings, row: Connection) -> IntegrationBlock:
    """The block as Flowyard last saved it: settings changed in Prefect are put back, secrets sealed again.
    A secret that no longer opens is dropped (the connection then asks for it)."""
    block = _load(db, settings, row)
    block.restore_settings()
    block.reseal()
    return block


def reseal_connection(db: Session, *, row: Connection, settings: Settings) -> list[str]:
    """Seal the connection's stored secrets and settings again with the tenant's current data key (a key
    rotation), the way a save does; the caller commits. Returns the secrets that no longer opened (dropped:
    they must be entered again)."""
    block = _load(db, settings, row)
    block.restore_settings()
    lost = block.reseal()
    _save(settings, block, row.block_name, _cipher_of(block))
    row.config, row.updated_at = _recorded(block), utcnow()  # a new updated_at: workers load the block again
    if lost:
        row.secrets_set = {k: getattr(block, k) is not None for k in block.secret_fields()}
    return lost


def _refuse_redirect(
    caller: Caller, current: IntegrationBlock, changed: IntegrationBlock, data: schemas.ConnectionUpdate
) -> None:
    """Whoever is below admin may change where the secrets are sent only by entering them again."""
    if Role(caller.role).at_least(Role.ADMIN):
        return
    entered = set(data.secrets or {})
    kept = [name for name in changed.secret_fields() if getattr(changed, name) is not None and name not in entered]
    before, after = _destinations(current), _destinations(changed)
    moved = [name for name in after if after[name] != before.get(name)]
    if not (kept and moved):
        return
    again = ", ".join(f"secrets.{name}" for name in kept)
    raise Problem(
        403,
        "secrets-needed-to-redirect",
        "Enter the secrets again to change where they are sent",
        f"Changing {', '.join(moved)} would send the stored secrets ({', '.join(kept)}) somewhere else; "
        f"your role '{caller.role}' may do that only by entering them again.",
        hint=f"Enter {again} again in the same request, or ask an owner or admin to make the change.",
        errors=[
            {
                "path": f"config.{name}",
                "message": "changes where the stored secrets are sent",
                "hint": f"enter {again} again",
            }
            for name in moved
        ],
    )


def _destinations(block: IntegrationBlock) -> dict[str, Any]:
    return block.setting_values(block.destination_fields())


def update_connection(
    db: Session,
    *,
    caller: Caller,
    connection_id: str,
    data: schemas.ConnectionUpdate,
    settings: Settings,
    request: Request | None = None,
) -> schemas.ConnectionRead:
    caller.require(Role.EDITOR, "change connections")
    row = get_owned(db, caller, connection_id)
    block_type = _block_type(row.type)
    _unknown_keys(block_type, data.config or {}, data.secrets or {})
    if data.use_for_alerts is not None:
        caller.require(Role.ADMIN, "choose the connection for alerts")
    current = _load_for_saving(db, settings, row)
    cipher = _cipher_of(current)
    fields = {name: getattr(current, name) for name in block_type.model_fields if name != SETTINGS_MAC}
    fields |= data.config or {}
    if data.secrets:
        _build(block_type, {**fields, **{k: SecretStr(v) if v else None for k, v in data.secrets.items()}})
        fields |= _sealed(block_type, cipher, row.block_name, data.secrets)
    block = _build(block_type, fields)
    _refuse_redirect(caller, current, block, data)
    _save(settings, block, row.block_name, cipher)
    row.config = _recorded(block)
    row.secrets_set = {k: getattr(block, k) is not None for k in block_type.secret_fields()}
    if data.use_for_alerts is not None:
        row.use_for_alerts = data.use_for_alerts and row.type == "sendgrid"
    row.status, row.last_error, row.updated_at = _status(block), None, utcnow()
    changed = sorted(
        {*(data.config or {}), *(data.secrets or {})}
        | ({"use_for_alerts"} if data.use_for_alerts is not None else set())
    )
    audit(
        db, caller, "connection.updated", f"connection:{row.id}", request=request, detail=_about(row, changed=changed)
    )
    db.commit()
    return _read(row)


def _step_using(graph: dict[str, Any] | None, connection_id: str) -> tuple[int, str] | None:
    """The index and label of the first step of `graph` whose connection is `connection_id`."""
    nodes = (graph or {}).get("nodes")
    for index, node in enumerate(nodes if isinstance(nodes, list) else []):
        if isinstance(node, dict) and (node.get("config") or {}).get("connection") == connection_id:
            return index, str(node.get("label") or node.get("id"))
    return None


def _users_of(db: Session, tenant_id: str, connection_id: str) -> list[dict[str, str]]:
    """One error per workflow whose latest or published version has a step on the connection, by workflow name."""
    rows = db.execute(
        select(Workflow.id, Workflow.name, WorkflowVersion.graph)
        .join(WorkflowVersion, WorkflowVersion.workflow_id == Workflow.id)
        .where(
            Workflow.tenant_id == tenant_id,
            WorkflowVersion.version.in_([Workflow.published_version, Workflow.latest_version]),
        )
        .order_by(Workflow.name, WorkflowVersion.version.desc())
    ).all()
    users: dict[str, dict[str, str]] = {}
    for workflow_id, name, graph in rows:
        step = _step_using(graph, connection_id)
        if step is None or workflow_id in users:
            continue
        index, label = step
        users[workflow_id] = {
            "path": f"graph.nodes[{index}].config.connection",
            "message": f"step '{label}' of '{name}' uses it",
            "hint": "Open the workflow and choose another connection in that step, or remove the step.",
            "workflow_id": workflow_id,
            "workflow_name": name,
        }
    return list(users.values())


def delete_connection(
    db: Session, *, caller: Caller, connection_id: str, settings: Settings, request: Request | None = None
) -> None:
    caller.require(Role.ADMIN, "manage connections")
    row = get_owned(db, caller, connection_id)
    users = _users_of(db, caller.tenant_id, row.id)
    if users:
        names = ", ".join(user["workflow_name"] for user in users)
        raise Problem(
            409,
            "connection-in-use",
            "Connection in use",
            f"Workflows use this connection: {names}.",
            hint="Switch those workflows' steps to another connection first.",
            errors=users,
        )
    try:
        delete_block(settings, _block_type(row.type), row.block_name)
    except Exception as exc:
        raise _problem_unavailable(exc) from exc
    audit(db, caller, "connection.deleted", f"connection:{row.id}", request=request, detail=_about(row))
    db.delete(row)
    db.commit()


def test_connection(
    db: Session, *, caller: Caller, connection_id: str, settings: Settings, request: Request | None = None
) -> schemas.ConnectionTestRead:
    caller.require(Role.EDITOR, "test connections")
    row = get_owned(db, caller, connection_id)
    block = _load(db, settings, row)
    try:
        block.verify_settings()
        with prefect_settings(settings):
            message = asyncio.run(block.test_connection())
        result = schemas.ConnectionTestRead(ok=True, message=message)
        row.status, row.last_error = "ok", None
    except StepFailure as exc:
        result = schemas.ConnectionTestRead(ok=False, message=exc.message, hint=exc.hint)
        row.status, row.last_error = "failed", {"message": exc.message, "hint": exc.hint}
    row.last_tested_at = utcnow()
    audit(db, caller, "connection.tested", f"connection:{row.id}", request=request, detail=_about(row, ok=result.ok))
    db.commit()
    return result


# --- OAuth ----------------------------------------------------------------------------------------


def redirect_uri(settings: Settings) -> str:
    return (
        settings.integrations.oauth_redirect_url
        or f"{settings.api_public_url.rstrip('/')}/api/v1/connections/oauth/callback"
    )


def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def verifier_context(state_hash: str) -> str:
    """Where a pending authorisation's PKCE verifier is sealed (its associated data)."""
    return f"oauth:{state_hash}"


def start_oauth(db: Session, *, caller: Caller, connection_id: str, settings: Settings) -> schemas.OAuthStartRead:
    caller.require(Role.ADMIN, "manage connections")
    row = get_owned(db, caller, connection_id)
    block_type = _block_type(row.type)
    if block_type.oauth_spec is None:
        raise Problem(
            409,
            "no-oauth",
            "Nothing to connect",
            f"{row.type} connections use the credentials you entered.",
            hint="Update the connection's secrets instead.",
        )
    cipher = _cipher(db, caller.tenant_id, settings)
    verifier, challenge = oauth.pkce_pair()
    state = secrets.token_urlsafe(32)
    pending = OAuthState(
        tenant_id=caller.tenant_id,
        connection_id=row.id,
        state_hash=_state_hash(state),
        sealed_verifier=cipher.seal(verifier, context=verifier_context(_state_hash(state))),
        expires_at=utcnow() + OAUTH_STATE_TTL,
    )
    db.add(pending)
    db.commit()
    url = oauth.authorize_url(
        block_type.oauth_spec,
        client_id=row.config["client_id"],
        redirect_uri=redirect_uri(settings),
        state=state,
        challenge=challenge,
    )
    return schemas.OAuthStartRead(authorize_url=url, expires_at=pending.expires_at)


def finish_oauth(db: Session, *, state: str, code: str | None, error: str | None, settings: Settings) -> str:
    """The network redirected back: trade the code for tokens and keep them. Returns a message for the page."""
    pending = db.scalar(select(OAuthState).where(OAuthState.state_hash == _state_hash(state or "")))
    if pending is None or pending.expires_at <= utcnow():
        raise Problem(
            400,
            "oauth-state-invalid",
            "Link expired",
            "This sign-in link is unknown or has expired.",
            hint="Go back to Flowyard and press Connect again.",
        )
    db.delete(pending)
    db.commit()  # one use only
    if error or not code:
        raise Problem(
            400,
            "oauth-denied",
            "Access not granted",
            f"The network did not grant access ({error or 'no code'}).",
            hint="Press Connect again and allow Flowyard to post for you.",
        )
    row = db.get(Connection, pending.connection_id)
    if row is None:
        raise not_found("connection")  # deleted while its account was being connected
    block = _load_for_saving(db, settings, row)
    if not isinstance(block, _TakesTokens):
        raise Problem(
            409,
            "no-oauth",
            "Nothing to connect",
            f"{row.type} connections use the credentials you entered.",
            hint="Update the connection's secrets instead.",
        )
    verifier = _cipher_of(block).unseal(pending.sealed_verifier, context=verifier_context(pending.state_hash))
    try:
        tokens = oauth.exchange_code(
            block.oauth_spec,
            client_id=row.config["client_id"],
            client_secret=block.reveal("client_secret"),
            code=code,
            verifier=verifier,
            redirect_uri=redirect_uri(settings),
        )
    except StepFailure as exc:
        row.status, row.last_error = "failed", {"message": exc.message, "hint": exc.hint}
        db.commit()
        raise Problem(502, "oauth-exchange-failed", "Could not finish connecting", exc.message, hint=exc.hint) from None
    block.store_tokens(tokens)
    _save(settings, block, row.block_name, _cipher_of(block))
    row.config = _recorded(block)
    row.secrets_set = {k: getattr(block, k) is not None for k in block.secret_fields()}
    row.status, row.last_error, row.token_expires_at, row.updated_at = "ok", None, tokens.expires_at, utcnow()
    detail = _about(row, changed=["oauth_account"])
    audit(db, None, "connection.updated", f"connection:{row.id}", detail=detail, tenant_id=row.tenant_id)
    db.commit()
    return f"Your {row.type} account is connected to '{row.name}'. You can close this window."


# --- publish-time check -------------------------------------------------------------------------------


def check_connections(db: Session, *, tenant_id: str, graph: dict[str, Any]) -> list[dict[str, str]]:
    """Every step's connection must be one of this tenant's, of the kind the step needs, and connected."""
    errors = []
    nodes = graph.get("nodes") if isinstance(graph, dict) else None
    for index, node in enumerate(nodes if isinstance(nodes, list) else []):
        wanted = registry.connection_type_of(str(node.get("type")))
        connection_id = (node.get("config") or {}).get("connection") if wanted else None
        if not isinstance(connection_id, str):
            continue
        path = f"graph.nodes[{index}].config.connection"
        row = db.scalar(select(Connection).where(Connection.id == connection_id, Connection.tenant_id == tenant_id))
        if row is None:
            errors.append(
                {
                    "path": path,
                    "message": f"connection '{connection_id}' does not exist in your workspace",
                    "hint": f"choose one of your {wanted} connections (GET /api/v1/connections?type={wanted})",
                }
            )
        elif row.type != wanted:
            errors.append(
                {
                    "path": path,
                    "message": f"'{row.name}' is a {row.type} connection; this step needs {wanted}",
                    "hint": f"choose one of your {wanted} connections",
                }
            )
        elif row.status == "needs_auth":
            errors.append(
                {
                    "path": path,
                    "message": f"connection '{row.name}' is not connected to an account yet",
                    "hint": "press Connect on it in Settings → Connections",
                }
            )
    return errors
