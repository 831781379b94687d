"""Who may do what: the one table of permissions per role and per API key scope, and the FastAPI
dependency `Allowed(Permission.X)` that routes declare.

A caller's permissions are its role's; an API key's are also limited to its scopes' (the intersection).
Each role holds every permission of the roles below it, so `Caller.require(Role.X)` (a caller needs every
permission of role X) and `Allowed` read the same table. README.md shows it as "Roles and permissions".
"""

from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends

from platform_api.problems import Problem
from store import Role


class Permission(StrEnum):
    CREATE_EDIT = "create_edit"  # workflows, templates, CRM records, webhook secrets
    PUBLISH = "publish"
    RUN = "run"  # start, cancel and retry runs; answer approvals; send events
    MONITOR = "monitor"  # read workflows, runs, reports
    MANAGE_CONNECTIONS = "manage_connections"
    MANAGE_MEMBERS = "manage_members"  # invitations, roles, API keys
    SEE_AUDIT = "see_audit"
    MANAGE_SETTINGS = "manage_settings"  # workspace name, time zone, retention
    MANAGE_KEYS = "manage_keys"  # rotate the workspace's data key
    PRIVACY = "privacy"  # export everything, erase a person, delete the workspace


class Scope(StrEnum):
    """What an API key may be used for, whatever its role."""

    READ = "read"
    RUN = "run"
    DEPLOY = "deploy"
    ADMIN = "admin"


_VIEWER = frozenset({Permission.MONITOR})
_OPERATOR = _VIEWER | {Permission.RUN}
_EDITOR = _OPERATOR | {Permission.CREATE_EDIT, Permission.PUBLISH}
_ADMIN = _EDITOR | {
    Permission.MANAGE_CONNECTIONS,
    Permission.MANAGE_MEMBERS,
    Permission.SEE_AUDIT,
    Permission.MANAGE_SETTINGS,
}
_OWNER = frozenset(Permission)

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: _OWNER,
    Role.ADMIN: _ADMIN,
    Role.EDITOR: _EDITOR,
    Role.OPERATOR: _OPERATOR,
    Role.VIEWER: _VIEWER,
}
SCOPE_PERMISSIONS: dict[Scope, frozenset[Permission]] = {
    Scope.READ: _VIEWER,
    Scope.RUN: _OPERATOR,
    Scope.DEPLOY: _EDITOR,
    Scope.ADMIN: _OWNER,
}


def permissions_of(role: str, scopes: Iterable[str] | None = None) -> frozenset[Permission]:
    """A role's permissions, limited to those of `scopes` when given (an API key's)."""
    granted = ROLE_PERMISSIONS[Role(role)]
    if scopes is None:
        return granted
    allowed_by_scopes = frozenset().union(*(SCOPE_PERMISSIONS[Scope(scope)] for scope in scopes))
    return granted & allowed_by_scopes


def lowest_role_with(permission: Permission) -> Role:
    return next(role for role in reversed(Role) if permission in ROLE_PERMISSIONS[role])


def not_permitted(permission: Permission, *, role: str, scopes: Iterable[str] | None) -> Problem:
    """403 naming the permission, and whether the role or the API key's scopes lack it."""
    if permission in ROLE_PERMISSIONS[Role(role)]:
        shown = ", ".join(scopes or ())
        return Problem(
            403,
            "forbidden",
            "Not allowed",
            f"This API key's scopes ({shown}) do not include the '{permission}' permission.",
            hint="Use an API key with a wider scope (read, run, deploy, admin).",
        )
    needed = lowest_role_with(permission)
    return Problem(
        403,
        "forbidden",
        "Not allowed",
        f"Your role '{role}' does not have the '{permission}' permission.",
        hint=f"Ask an owner or admin for the '{needed}' role or higher.",
    )


def Allowed(permission: Permission) -> Any:  # noqa: N802  (reads as a type annotation's marker)
    """`caller: Annotated[Caller, Allowed(Permission.RUN)]`: the authenticated caller, or 403 problem+json."""
    from platform_api.deps import Caller, get_caller  # deps imports this module's table

    def check(caller: Annotated[Caller, Depends(get_caller)]) -> Caller:
        if permission not in caller.permissions:
            raise not_permitted(permission, role=caller.role, scopes=caller.scopes)
        return caller

    return Depends(check)
