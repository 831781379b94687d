"""The one way a step fails, whoever raises it (a node, an integration, the ledger, an expression).

The class says what may happen next: a `Retryable` failure did not reach the service or was refused for
now (timeouts before sending, 429, 5xx) and is tried again; a `MaybeSent` one may have reached a service
that cannot recognise a repeat, so it is never sent again by itself; a `Permanent` one (4xx, bad
config, a refused rule) fails at once and takes the step's error path if it has one.

Apart from what happens next, each failure has a kind (`ErrorKind`) for the person reading it: from the
service's status when there is one, else named where it is raised, else its class's default.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

from core.settings import get_settings

ERRORS_DOCS = "/help/errors"  # the page of every kind (docs/errors.md); the links stored before the help site


class ErrorKind(StrEnum):
    """What kind of failure it is, for people: each has a section in docs/errors.md with what to do, and a
    page of the help site of its own (errors/<kind>/, made from that section)."""

    AUTH = "auth"  # the service rejected the credentials
    PERMISSION = "permission"  # the credentials may not do this
    VALIDATION = "validation"  # the service refused what was sent
    RATE_LIMITED = "rate_limited"
    UPSTREAM_DOWN = "upstream_down"  # the service failed or could not be reached
    TIMEOUT = "timeout"
    EXPRESSION = "expression"  # a template or condition of the workflow failed
    CONFIGURATION = "configuration"  # the step's or the connection's settings are wrong or missing
    INTERNAL = "internal"  # a fault in Flowyard


def kind_of_status(status: int) -> ErrorKind:
    """The kind of an HTTP error status a service answered."""
    if status == 401:
        return ErrorKind.AUTH
    if status == 403:
        return ErrorKind.PERMISSION
    if status == 429:
        return ErrorKind.RATE_LIMITED
    if status in (408, 504):
        return ErrorKind.TIMEOUT
    return ErrorKind.UPSTREAM_DOWN if status >= 500 else ErrorKind.VALIDATION


def help_url(path: str) -> str:
    """A page of the help site (FLOWYARD_HELP__BASE_URL, by default the platform's own /help/)."""
    return get_settings().help.base_url + path


def kind_anchor(kind: ErrorKind) -> str:
    """Its anchor in docs/errors.md and the name of its page: `rate-limited`."""
    return kind.value.replace("_", "-")


def docs_url(kind: ErrorKind) -> str:
    return help_url(f"errors/{kind_anchor(kind)}/")


class StepFailure(Exception):
    retryable: ClassVar[bool] = False
    maybe_sent: ClassVar[bool] = False
    default_kind: ClassVar[ErrorKind] = ErrorKind.CONFIGURATION

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        retry_after: float | None = None,
        details: dict[str, Any] | None = None,
        kind: ErrorKind | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.retry_after = retry_after
        self.details = details or {}
        status = self.details.get("status_code")
        self.kind = kind or (kind_of_status(status) if isinstance(status, int) else self.default_kind)

    def as_dict(self) -> dict[str, Any]:
        """As a step's stored `error`."""
        return {
            "message": self.message,
            "hint": self.hint,
            "retryable": self.retryable,
            "kind": self.kind.value,
            "docs_url": docs_url(self.kind),
            **({"maybe_sent": True} if self.maybe_sent else {}),
            **({"details": self.details} if self.details else {}),
        }


class Retryable(StepFailure):
    """Safe to try again, after `retry_after` seconds when the service said so."""

    retryable = True
    default_kind = ErrorKind.UPSTREAM_DOWN


class MaybeSent(StepFailure):
    """The service may have acted (its answer was lost): never repeated without a person deciding."""

    maybe_sent = True
    default_kind = ErrorKind.TIMEOUT


class Permanent(StepFailure):
    """Trying again would fail the same way."""
