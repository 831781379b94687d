"""What reaches Prefect about an execution: ids, node ids and types, statuses, timings, error classes and
kinds; never a payload value (the trigger's input, what a step rendered, sent or received).

Prefect keeps three copies of what a run says: its log lines (the `log` table), the message of a failed
run's state (`flow_run_state`, `task_run_state`) and the events about it. The log lines Flowyard writes for
executions name no payload at their source. Exceptions are where payloads slip through (a service's answer
quoted in the message, an SQL error's parameters), so:

- a flow or task body raises `PayloadFreeError.of(exc)` rather than `exc`: Prefect records the class and
  kind, while the platform database keeps the whole error for the tenant;
- `keep_payloads_out_of_prefect_logs` puts `PayloadFreeRecords` on Prefect's API log handler, in case a line
  still carries an exception: its text and traceback are replaced by its class and kind.
"""

from __future__ import annotations

import logging

from prefect.logging.handlers import APILogHandler
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from core.errors import ErrorKind, StepFailure

# The loggers Prefect ships to its API; they share one handler (prefect.logging's logging.yml).
PREFECT_API_LOGGERS = ("prefect.flow_runs", "prefect.task_runs", "prefect.extra")


def failure_class(exc: BaseException) -> str:
    """`Permanent (validation)`: what may be said of a failure outside the platform database."""
    if isinstance(exc, PayloadFreeError):
        return str(exc)
    kind = exc.kind if isinstance(exc, StepFailure) else ErrorKind.INTERNAL
    return f"{type(exc).__name__} ({kind.value})"


class PayloadFreeError(Exception):
    """Raised from a flow or task body in place of an exception whose text may quote payloads."""

    @classmethod
    def of(cls, exc: BaseException) -> PayloadFreeError:
        return exc if isinstance(exc, PayloadFreeError) else cls(failure_class(exc))


class PlatformDatabaseAway(PayloadFreeError):
    """The platform database stopped answering under a step (restarted, failed over, its connection dropped):
    the batch is interrupted, not failed, and its executions resume from their stored steps."""

    def __init__(self) -> None:
        super().__init__("PlatformDatabaseAway (internal)")


def is_database_away(exc: BaseException) -> bool:
    """Whether `exc` says a database could not be reached, rather than that it refused a statement. Nodes turn
    their own databases' errors into step failures (blocks.sql), so one that reaches the interpreter is the
    platform's."""
    if isinstance(exc, PlatformDatabaseAway):
        return True
    return isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
    )


class PayloadFreeRecords(logging.Filter):
    """Replaces an exception in a log record (the message, an argument or `exc_info`) by its class and kind,
    and drops the traceback. The record itself changes, so the handlers after Prefect's (the console, hence
    the worker's log file) get the same line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, BaseException):
            record.msg = failure_class(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(failure_class(a) if isinstance(a, BaseException) else a for a in record.args)
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = f"{record.msg} [{failure_class(record.exc_info[1])}]"
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def keep_payloads_out_of_prefect_logs() -> None:
    """Put `PayloadFreeRecords` on Prefect's API log handler, once. Prefect builds the handler when it sets up
    logging, so a flow calls this when it starts rather than relying on the process that runs it."""
    for name in PREFECT_API_LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, APILogHandler) and not any(
                isinstance(f, PayloadFreeRecords) for f in handler.filters
            ):
                handler.addFilter(PayloadFreeRecords())
