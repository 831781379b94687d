"""The one way a step fails, whoever raises it (a node, an integration, the ledger, an expression).

The class says what may happen next: a `Retryable` failure did not reach the service or was refused for
now (timeouts before sending, 429, 5xx) and is tried again; a `MaybeSent` one may have reached a service
that cannot recognise a repeat, so it is never sent again by itself; a `Permanent` one (4xx, bad
config, a refused rule) fails at once and takes the step's error path if it has one.
"""

from __future__ import annotations

from typing import Any, ClassVar


class StepFailure(Exception):
    retryable: ClassVar[bool] = False
    maybe_sent: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        retry_after: float | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.retry_after = retry_after
        self.details = details or {}

    def as_dict(self) -> dict[str, Any]:
        """As a step's stored `error`."""
        return {
            "message": self.message,
            "hint": self.hint,
            "retryable": self.retryable,
            **({"details": self.details} if self.details else {}),
        }


class Retryable(StepFailure):
    """Safe to try again, after `retry_after` seconds when the service said so."""

    retryable = True


class MaybeSent(StepFailure):
    """The service may have acted (its answer was lost): never repeated without a person deciding."""

    maybe_sent = True


class Permanent(StepFailure):
    """Trying again would fail the same way."""
