"""Conditions: rule sets a builder can click together, compiled to CEL (cel-python), or raw CEL.

A rule is `{field, operator, value}`; a group is `{"all": [...]}` (AND) or `{"any": [...]}` (OR),
nested freely. Compiled groups are parenthesised, so a rule set means what it shows; in raw CEL,
CEL's own precedence holds (&& binds tighter than ||). Every evaluation returns a decision record
that says, in words, what was compared and why the result came out as it did.
"""

from __future__ import annotations

import contextvars
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal, cast

import celpy
import regex
from celpy import celtypes
from celpy.evaluation import CELEvalError
from pydantic import BaseModel, ConfigDict, Field

from core.errors import ErrorKind, Permanent
from core.settings import get_settings
from flow_factory.redact import redact

MAX_EXPRESSION_CHARS = 4096
MAX_DATA_DEPTH = 64
CONTEXT_ROOTS = ("trigger", "steps", "execution", "loop", "record", "before")  # record/before: data-change filters
_LIST_MACRO = re.compile(r"\.(map|filter|all|exists|exists_one)\s*\(")
MISSING = "(missing)"
MAX_MATCH_INPUT_CHARS = 100_000
FIELD_PATH = re.compile(r"^(trigger|steps|execution|loop|now)(\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*$")
_REFERENCE = re.compile(
    r"\b(trigger|steps|execution|loop|record|before)((?:\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\]|\[\"[^\"]*\"\])+)"
)
_STEP_REFERENCE = re.compile(r"\bsteps\.([A-Za-z_][A-Za-z0-9_]*)")

Operator = Literal[
    "equals",
    "not_equals",
    "greater_than",
    "greater_or_equal",
    "less_than",
    "less_or_equal",
    "contains",
    "not_contains",
    "starts_with",
    "ends_with",
    "in_list",
    "not_in_list",
    "is_empty",
    "is_not_empty",
    "matches",
    "before",
    "after",
    "older_than_days",
    "newer_than_days",
    "weekday_in",
    "within_hours",
]
WORDS = {
    "equals": "equals",
    "not_equals": "does not equal",
    "greater_than": "is greater than",
    "greater_or_equal": "is at least",
    "less_than": "is less than",
    "less_or_equal": "is at most",
    "contains": "contains",
    "not_contains": "does not contain",
    "starts_with": "starts with",
    "ends_with": "ends with",
    "in_list": "is one of",
    "not_in_list": "is not one of",
    "is_empty": "is empty",
    "is_not_empty": "is not empty",
    "matches": "matches the pattern",
    "before": "is before",
    "after": "is after",
    "older_than_days": "is more days ago than",
    "newer_than_days": "is fewer days ago than",
    "weekday_in": "falls on one of the weekdays",
    "within_hours": "is within the hours",
}
WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


class ConditionError(Permanent):
    """A condition that cannot be evaluated: a missing field, a type mismatch, a bad pattern."""

    default_kind = ErrorKind.EXPRESSION


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: str = Field(
        description="What to test: trigger.<field>, steps.<node_id>.output.<field>, or `now` for time rules.",
        pattern=FIELD_PATH.pattern,
    )
    operator: Operator = Field(description="How to compare.")
    value: Any = Field(
        None,
        description="What to compare with (a list for in_list / weekday_in, "
        "[start, end] hours like ['09:00', '17:00'] for within_hours).",
    )


class AllOf(BaseModel):
    model_config = ConfigDict(extra="forbid")
    all: list[Condition] = Field(min_length=1, description="Every condition must hold (AND).")


class AnyOf(BaseModel):
    model_config = ConfigDict(extra="forbid")
    any: list[Condition] = Field(min_length=1, description="At least one condition must hold (OR).")


Condition = AllOf | AnyOf | Rule
AllOf.model_rebuild()
AnyOf.model_rebuild()


# --- compiling rules to CEL -----------------------------------------------------------------


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_literal(item) for item in value) + "]"
    return json.dumps(str(value))


def _hours(value: Any) -> tuple[int, int]:
    start, end = value
    return int(str(start).split(":")[0]), int(str(end).split(":")[0])


def _weekdays(value: Any) -> list[int]:
    return [WEEKDAYS.index(day) if day in WEEKDAYS else int(day) for day in value or []]


def _days(value: Any) -> str:
    return f'duration("{float(value or 0) * 86400:.0f}s")'


_COMPILERS = {
    "equals": lambda f, v, w, tz: f"{f} == {_literal(v)}",
    "not_equals": lambda f, v, w, tz: f"{f} != {_literal(v)}",
    "greater_than": lambda f, v, w, tz: f"{f} > {_literal(v)}",
    "greater_or_equal": lambda f, v, w, tz: f"{f} >= {_literal(v)}",
    "less_than": lambda f, v, w, tz: f"{f} < {_literal(v)}",
    "less_or_equal": lambda f, v, w, tz: f"{f} <= {_literal(v)}",
    "contains": lambda f, v, w, tz: f"{f}.contains({_literal(v)})" if isinstance(v, str) else f"{_literal(v)} in {f}",
    "not_contains": lambda f, v, w, tz: f"!{f}.contains({_literal(v)})"
    if isinstance(v, str)
    else f"!({_literal(v)} in {f})",
    "starts_with": lambda f, v, w, tz: f"{f}.startsWith({_literal(v)})",
    "ends_with": lambda f, v, w, tz: f"{f}.endsWith({_literal(v)})",
    "in_list": lambda f, v, w, tz: f"{f} in {_literal(v)}",
    "not_in_list": lambda f, v, w, tz: f"!({f} in {_literal(v)})",
    "is_empty": lambda f, v, w, tz: f"size({f}) == 0",
    "is_not_empty": lambda f, v, w, tz: f"size({f}) > 0",
    "matches": lambda f, v, w, tz: f"{f}.matches({_literal(v)})",
    "before": lambda f, v, w, tz: f"{w} < timestamp({_literal(v)})",
    "after": lambda f, v, w, tz: f"{w} > timestamp({_literal(v)})",
    "older_than_days": lambda f, v, w, tz: f"now - {w} > {_days(v)}",
    "newer_than_days": lambda f, v, w, tz: f"now - {w} < {_days(v)}",
    "weekday_in": lambda f, v, w, tz: f"{w}.getDayOfWeek({tz}) in {_literal(_weekdays(v))}",
    "within_hours": lambda f,
    v,
    w,
    tz: f"({w}.getHours({tz}) >= {_hours(v)[0]} && {w}.getHours({tz}) < {_hours(v)[1]})",
}


def compile_rule(rule: Rule, time_zone: str) -> str:
    when = "now" if rule.field == "now" else f"timestamp({rule.field})"
    try:
        return _COMPILERS[rule.operator](rule.field, rule.value, when, json.dumps(time_zone))
    except (TypeError, ValueError, IndexError) as exc:
        raise ValueError(f"the value does not fit the operator '{rule.operator}': {exc}") from None


def compile_condition(condition: Condition, time_zone: str) -> str:
    if isinstance(condition, AllOf):
        return "(" + " && ".join(compile_condition(c, time_zone) for c in condition.all) + ")"
    if isinstance(condition, AnyOf):
        return "(" + " || ".join(compile_condition(c, time_zone) for c in condition.any) + ")"
    return compile_rule(condition, time_zone)


# --- evaluating CEL -----------------------------------------------------------------------


@dataclass
class _MatchBudget:
    """What one evaluation may spend in matches(): CEL turns a raised error into a value that `||`
    can swallow, so a timeout is also recorded here, where `evaluate` finds it."""

    deadline: float
    regex_seconds: float
    exhausted: str | None = None


_match_budget: contextvars.ContextVar[_MatchBudget | None] = contextvars.ContextVar("match_budget", default=None)


def _bounded_matches(text: Any, pattern: Any) -> celtypes.BoolType:
    """CEL's matches() with the `regex` module and a time limit: tenants write the patterns."""
    if len(str(text)) > MAX_MATCH_INPUT_CHARS:
        raise ValueError(f"text to match is longer than {MAX_MATCH_INPUT_CHARS} characters")
    budget = _match_budget.get() or _MatchBudget(time.monotonic() + 60, _regex_seconds())
    remaining = budget.deadline - time.monotonic()
    if budget.exhausted or remaining <= 0:
        budget.exhausted = budget.exhausted or "the condition ran out of time"
        raise ValueError(budget.exhausted)
    try:
        found = regex.search(str(pattern), str(text), timeout=min(budget.regex_seconds, remaining))
    except TimeoutError:
        budget.exhausted = (
            f"the pattern {_clip(str(pattern))!r} in matches() took longer than "
            f"{budget.regex_seconds * 1000:g} ms; simplify it (avoid nested or overlapping repetition)"
        )
        raise ValueError(budget.exhausted) from None
    except regex.error as exc:
        raise ValueError(f"the pattern {_clip(str(pattern))!r} is not a valid regular expression: {exc}") from None
    return celtypes.BoolType(found is not None)


def _regex_seconds() -> float:
    return get_settings().limits.regex_timeout_ms / 1000


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _short_repr(error: CELEvalError) -> str:
    return f"CELEvalError({_clip(str(error.args[0]) if error.args else '')!r})"


# cel-python's `||` and `&&` put the repr of an error operand, with its arguments, into the next error:
# the quoting doubles at each step, so `items.exists(x, x.missing == 1)` over 25 items took 9 s and
# over 30 items hours. A short repr keeps every error's text bounded (our messages come from
# `Decision.error`, never from this repr).
CELEvalError.__repr__ = _short_repr  # type: ignore[method-assign]


@lru_cache(maxsize=2048)
def _program(expression: str) -> Any:
    environment = celpy.Environment()
    return environment.program(environment.compile(expression), functions={"matches": _bounded_matches})


def syntax_error(expression: str) -> str | None:
    """None when the expression parses; else the parser's message with the position marked."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        return f"the expression is longer than {MAX_EXPRESSION_CHARS} characters"
    if len(_LIST_MACRO.findall(expression)) > 1:  # nested list macros multiply: n² work on a long list
        return "a condition may use at most one of map/filter/all/exists/exists_one"
    try:
        celpy.Environment().compile(expression)
    except Exception as exc:
        line, column = getattr(exc, "line", None), getattr(exc, "column", None)
        where = f" at character {column}" if column else ""
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid syntax"
        return f"syntax error{where} (line {line or 1}): {first}"
    return None


def referenced_steps(expression: str) -> set[str]:
    return set(_STEP_REFERENCE.findall(expression))


def _depth(value: Any, limit: int = MAX_DATA_DEPTH) -> int:
    """How deeply lists and objects nest, counted without recursion and stopping past `limit`."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level > limit:
            break
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, level + 1) for child in children)
    return deepest


def _activation(context: dict[str, Any], now: datetime) -> dict[str, Any]:
    if _depth(context) > MAX_DATA_DEPTH:
        raise ValueError(f"the data is nested more than {MAX_DATA_DEPTH} levels deep")
    values = {name: celpy.json_to_cel(context.get(name)) for name in CONTEXT_ROOTS if context.get(name) is not None}
    values["now"] = celtypes.TimestampType(now)
    return values


def _read_values(expression: str, context: dict[str, Any]) -> dict[str, Any]:
    """The values the expression reads, for the decision log (secrets masked)."""
    values: dict[str, Any] = {}
    for match in _REFERENCE.finditer(expression):
        root, rest = match.group(1), match.group(2)
        if expression[match.end() : match.end() + 1] == "(":  # trigger.email.endsWith(...): drop the method
            rest = rest.rsplit(".", 1)[0]
        parts = re.findall(r"\.([A-Za-z_]\w*)|\[(\d+)\]|\[\"([^\"]*)\"\]", rest)
        values[root + rest] = _lookup(context.get(root), parts)
    return cast(dict[str, Any], redact(values))  # a dict stays a dict


def _lookup(value: Any, parts: list[tuple[str, str, str]]) -> Any:
    for name, index, quoted in parts:
        key = name or quoted
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif index and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        else:
            return MISSING
    return value


@dataclass(frozen=True)
class Decision:
    expression: str
    values: dict[str, Any]
    result: bool | None
    error: str | None = None
    exhausted: bool = False  # a pattern or the evaluation ran out of time: the step fails, whatever on_error says

    def as_dict(self, *, branch: str, explanation: str) -> dict[str, Any]:
        return {
            "expression": self.expression,
            "values": self.values,
            "result": self.result,
            "error": self.error,
            "branch": branch,
            "explanation": explanation,
        }


def evaluate(
    expression: str, context: dict[str, Any], *, now: datetime | None = None, seconds: float | None = None
) -> Decision:
    """Evaluate to a boolean. Errors (missing fields, wrong types) become a Decision with `error`;
    a matches() pattern that runs too long, or an evaluation past `seconds` of matching (default
    `limits.step_cpu_seconds`), a Decision that is also `exhausted`."""
    values = _read_values(expression, context)
    problem = syntax_error(expression)
    if problem:
        return Decision(expression, values, None, problem)
    budget = _MatchBudget(
        time.monotonic() + (seconds if seconds is not None else get_settings().limits.step_cpu_seconds),
        _regex_seconds(),
    )
    token = _match_budget.set(budget)
    try:
        result = _program(expression).evaluate(_activation(context, now or datetime.now(UTC)))
    except ValueError as exc:  # our own bounds, raised before evaluation
        return Decision(expression, values, None, str(exc))
    except Exception as exc:  # CELEvalError and friends: the condition cannot be decided
        if budget.exhausted:
            return Decision(expression, values, None, budget.exhausted, exhausted=True)
        missing = [path for path, value in values.items() if value == MISSING]
        reason = f"the field '{missing[0]}' is missing from the data" if missing else _plain_error(exc)
        return Decision(expression, values, None, reason)
    finally:
        _match_budget.reset(token)
    if budget.exhausted:  # swallowed by || or && inside CEL: still a failure
        return Decision(expression, values, None, budget.exhausted, exhausted=True)
    if not isinstance(result, (bool, celtypes.BoolType)):
        return Decision(expression, values, None, f"the condition gave {type(result).__name__}, not true or false")
    return Decision(expression, values, bool(result))


def _plain_error(exc: Exception) -> str:
    text = str(exc.args[0]) if exc.args else str(exc)
    if len(exc.args) == 3 and exc.args[1] is ValueError and exc.args[2]:  # our own bound, e.g. in matches()
        return str(exc.args[2][0])
    match = re.search(r"no such member in mapping: '([^']+)'", text)
    if match:
        return f"the field '{match.group(1)}' is missing from the data"
    if "overload" in text or "TypeError" in text:
        return "the values have types that cannot be compared (e.g. text with a number)"
    return text[:300]


# --- explaining a decision to a person ----------------------------------------------------


def explain_rules(condition: Condition, values: dict[str, Any]) -> str:
    if isinstance(condition, AllOf):
        return "all of: " + "; ".join(explain_rules(c, values) for c in condition.all)
    if isinstance(condition, AnyOf):
        return "any of: " + "; ".join(explain_rules(c, values) for c in condition.any)
    shown = (
        "the current time" if condition.field == "now" else f"{condition.field} ({_shown(values.get(condition.field))})"
    )
    target = "" if condition.operator in ("is_empty", "is_not_empty") else f" {_shown(condition.value)}"
    return f"{shown} {WORDS[condition.operator]}{target}"


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 80 else text[:77] + "..."


def explain(decision: Decision, *, rules: Condition | None, branch: str) -> str:
    if decision.error:
        return f"The condition could not be checked ({decision.error}), so the run took the '{branch}' path."
    verdict = "true" if decision.result else "false"
    what = explain_rules(rules, decision.values) if rules else f"the expression {decision.expression}"
    return f"Checked whether {what}: {verdict}, so the run took the '{branch}' path."
