"""Tenant-supplied JSON Schemas: refused when unsafe at save time, applied with bounds at run time.

Tenants write the schemas of trigger inputs and payloads, of transform outputs and of template
parameters. Stock jsonschema would let one such schema stall a process for everybody: `pattern`,
`patternProperties` and `additionalProperties` call `re`, which has no timeout and holds the GIL
(`^(a|a)+$` against forty `a`s and a `!` runs for minutes), and a `$ref` to a URL is fetched over the
network. Every validation with a tenant's schema therefore goes through this module:

- patterns run with the `regex` module under a per-search timeout (`limits.regex_timeout_ms`);
  `format: regex` compiles with it too;
- every keyword checks a deadline for the whole validation, so `$ref`s that fan out, `uniqueItems`
  over a long array or a big payload cannot run past the caller's budget;
- references resolve only inside the schema (a registry that retrieves nothing);
- keywords that would still call `re` (`unevaluatedProperties`) are refused when saved and when applied.

A validation that runs out of time or meets a refused schema raises `SchemaRefused`, naming the
schema location and, where it can, the field of the data at fault.
"""

from __future__ import annotations

import contextvars
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import regex
from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import SchemaError, ValidationError
from referencing import Registry
from referencing.exceptions import Unresolvable

from core.settings import get_settings

MAX_PATTERN_CHARS = 1000
MAX_PATTERNS = 200  # pattern and patternProperties keys in one schema
MAX_MATCH_CHARS = 100_000  # longest text a tenant's pattern is searched in
REFUSED_KEYWORDS = {
    "unevaluatedProperties": "use additionalProperties: false (with properties and patternProperties) instead",
}
_NAME_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_DATA_KEYWORDS = ("enum", "const", "default", "examples")
_TRIAL_INSTANCES: tuple[Any, ...] = (None, {}, [], "", 0)

# A schema issue: (path below the schema, message, hint), like flow_factory.nodes.base.ConfigIssue.
SchemaIssue = tuple[str, str, str]


class SchemaRefused(Exception):
    """A tenant's schema could not be applied: unsafe, or it ran out of time on this data."""

    def __init__(self, message: str, *, hint: str, schema_path: str = "", field: tuple[Any, ...] | None = None) -> None:
        super().__init__(message)
        self.message, self.hint, self.schema_path, self.field = message, hint, schema_path, field


@dataclass(frozen=True)
class _Budget:
    deadline: float
    regex_seconds: float
    what: str  # for messages: "the input schema", "the output schema"


_budget: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("schema_budget", default=None)


class _OutOfTime(Exception):
    def __init__(
        self, pattern: str | None = None, text: str | None = None, *, as_key: bool = False, too_long: bool = False
    ) -> None:
        super().__init__(pattern)
        self.pattern, self.text, self.as_key, self.too_long = pattern, text, as_key, too_long


class _Refused(Exception):
    def __init__(self, keyword: str) -> None:
        super().__init__(keyword)
        self.keyword = keyword


# --- bounded keywords ---------------------------------------------------------------------


def _current_budget() -> _Budget:
    budget = _budget.get()
    if budget is None:  # validators built here are only used inside `validate`
        raise RuntimeError("flow_factory.schemas validators run only inside a budget")
    return budget


def _search(pattern: str, text: str, *, as_key: bool = False) -> bool:
    budget = _current_budget()
    if len(text) > MAX_MATCH_CHARS:
        raise _OutOfTime(pattern, text[:80], as_key=as_key, too_long=True)
    remaining = budget.deadline - time.monotonic()
    if remaining <= 0:
        raise _OutOfTime()
    try:
        return regex.search(pattern, text, timeout=min(budget.regex_seconds, remaining)) is not None
    except TimeoutError:
        raise _OutOfTime(pattern, text, as_key=as_key) from None


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator: Any, patterns: dict[str, Any], instance: Any, schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if _search(pattern, key, as_key=True):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


_stock_additional_properties = Draft202012Validator.VALIDATORS["additionalProperties"]


def _additional_properties(validator: Any, additional: Any, instance: Any, schema: Any) -> Iterator[Any]:
    patterns = schema.get("patternProperties") if isinstance(schema, dict) else None
    if patterns and validator.is_type(instance, "object"):
        instance = {k: v for k, v in instance.items() if not any(_search(p, k, as_key=True) for p in patterns)}
        schema = {k: v for k, v in schema.items() if k != "patternProperties"}
    yield from _stock_additional_properties(validator, additional, instance, schema)


def _canonical(value: Any) -> Any:
    """A hashable stand-in that is equal exactly when JSON Schema calls two values equal."""
    if isinstance(value, bool) or value is None:
        return ("literal", value)
    if isinstance(value, (int, float)):
        return ("number", value)  # 1 == 1.0, as JSON Schema wants
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, dict):
        return ("object", frozenset((key, _canonical(item)) for key, item in value.items()))
    if isinstance(value, list):
        return ("array", tuple(_canonical(item) for item in value))
    return ("other", repr(value))


def _unique_items(validator: Any, unique: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    """In linear time: the stock keyword compares every pair of objects."""
    if unique and validator.is_type(instance, "array"):
        if len({_canonical(item) for item in instance}) != len(instance):
            yield ValidationError(f"{_short(instance)} has non-unique elements")


def _refused(keyword: str) -> Callable[..., Iterator[Any]]:
    def keyword_function(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[Any]:
        raise _Refused(keyword)
        yield  # a generator, like every keyword

    return keyword_function


def _timed(keyword: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    def checked(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[Any]:
        if time.monotonic() > _current_budget().deadline:
            raise _OutOfTime()
        yield from keyword(validator, value, instance, schema)

    return checked


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


_OVERRIDES: dict[str, Callable[..., Iterator[Any]]] = {
    "pattern": _pattern,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
    "uniqueItems": _unique_items,
    **{keyword: _refused(keyword) for keyword in REFUSED_KEYWORDS},
}
BoundedValidator: Any = validators.extend(
    Draft202012Validator,
    {name: _timed(_OVERRIDES.get(name, keyword)) for name, keyword in Draft202012Validator.VALIDATORS.items()},
)

FORMAT_CHECKER = FormatChecker()


def _is_regex(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    if len(instance) > MAX_PATTERN_CHARS:
        raise ValueError(f"longer than {MAX_PATTERN_CHARS} characters")
    regex.compile(instance)
    return True


FORMAT_CHECKER.checks("regex", raises=(regex.error, ValueError))(_is_regex)


_NO_RETRIEVAL: Registry[Any] = Registry()  # resolving a URL that is not in the schema fails: nothing is fetched


# --- save time: is the schema acceptable ------------------------------------------------------


def schema_issues(schema: Any) -> list[SchemaIssue]:
    """Why a tenant's schema cannot be saved, as (path below the schema, message, hint); empty when it can."""
    if not isinstance(schema, (dict, bool)):
        return [("", "a JSON Schema must be an object (or true/false)", "see json-schema.org")]
    return list(_cached_issues(json.dumps(schema, sort_keys=True, default=str)))


@lru_cache(maxsize=512)
def _cached_issues(text: str) -> tuple[SchemaIssue, ...]:
    limit = get_settings().limits.schema_max_bytes
    if len(text.encode()) > limit:
        return (("", f"the schema is larger than {limit} bytes", "split it, or describe less of the data"),)
    schema = json.loads(text)
    issues = _keyword_issues(schema)
    if issues:
        return tuple(issues)
    try:
        BoundedValidator.check_schema(schema, format_checker=FORMAT_CHECKER)
    except SchemaError as error:
        return ((_join(error.absolute_path), f"not a valid JSON Schema: {error.message}", "fix it (draft 2020-12)"),)
    return tuple(_trial_issues(schema))


def _keyword_issues(schema: Any) -> list[SchemaIssue]:
    issues: list[SchemaIssue] = []
    patterns = 0
    for path, node in _subschemas(schema):
        for keyword, hint in REFUSED_KEYWORDS.items():
            if keyword in node:
                issues.append((_join([*path, keyword]), f"'{keyword}' is not supported", hint))
        for keyword in ("$ref", "$dynamicRef"):
            reference = node.get(keyword)
            if isinstance(reference, str) and not reference.startswith("#"):
                issues.append(
                    (
                        _join([*path, keyword]),
                        f"{keyword} '{_clip(reference)}' points outside the schema; schemas are never fetched",
                        "put the referenced schema under $defs and refer to it as #/$defs/<name>",
                    )
                )
        for pattern_path, pattern in _patterns(path, node):
            patterns += 1
            problem = _pattern_problem(pattern)
            if problem:
                issues.append((_join(pattern_path), problem, "write a simpler regular expression"))
    if patterns > MAX_PATTERNS:
        issues.append(("", f"the schema has {patterns} patterns; at most {MAX_PATTERNS}", "use fewer patterns"))
    return issues


def _subschemas(schema: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Every object in the schema that may act as a schema (a `$ref` can point at any of them)."""
    stack: list[tuple[tuple[Any, ...], Any]] = [(path, schema)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, list):
            stack.extend(((*where, index), item) for index, item in enumerate(node))
            continue
        if not isinstance(node, dict):
            continue
        yield where, node
        for key, value in node.items():
            if key in _DATA_KEYWORDS:
                continue
            if key in _NAME_MAPS and isinstance(value, dict):
                stack.extend(((*where, key, name), item) for name, item in value.items())
            else:
                stack.append(((*where, key), value))


def _patterns(path: tuple[Any, ...], node: dict[str, Any]) -> Iterator[tuple[list[Any], str]]:
    if isinstance(node.get("pattern"), str):
        yield [*path, "pattern"], node["pattern"]
    if isinstance(node.get("patternProperties"), dict):
        for pattern in node["patternProperties"]:
            yield [*path, "patternProperties", pattern], pattern


def _pattern_problem(pattern: str) -> str | None:
    if len(pattern) > MAX_PATTERN_CHARS:
        return f"the pattern is longer than {MAX_PATTERN_CHARS} characters"
    try:
        regex.compile(pattern)
    except regex.error as error:
        return f"not a valid regular expression: {error}"
    return None


def _trial_issues(schema: Any) -> list[SchemaIssue]:
    """Apply the schema to a few small values: a `$ref` cycle or an unresolvable reference shows here."""
    for instance in _TRIAL_INSTANCES:
        try:
            _errors(schema, instance, seconds=1.0, what="the schema", format_checker=None)
        except SchemaRefused as refused:
            if refused.field is None:  # out of time on a trial value: the schema itself is the problem
                return [(refused.schema_path, refused.message, refused.hint)]
    return []


# --- run time: applying a schema to data ------------------------------------------------------


def validate(
    schema: Any,
    instance: Any,
    *,
    what: str,
    seconds: float,
    formats: bool = True,
) -> list[ValidationError]:
    """Every way `instance` breaks `schema`, best first as jsonschema orders them.

    Raises SchemaRefused when the schema is not acceptable (see `schema_issues`) or when checking
    takes longer than `seconds`, or one pattern search longer than `limits.regex_timeout_ms`.
    `what` names the schema in messages ("the trigger's input schema").
    """
    issues = schema_issues(schema)
    if issues:
        path, message, hint = issues[0]
        raise SchemaRefused(f"{what} is not accepted: {_at(path)}{message}", hint=hint, schema_path=path)
    return _errors(schema, instance, seconds=seconds, what=what, format_checker=FORMAT_CHECKER if formats else None)


def _errors(schema: Any, instance: Any, *, seconds: float, what: str, format_checker: Any) -> list[ValidationError]:
    regex_seconds = get_settings().limits.regex_timeout_ms / 1000
    token = _budget.set(_Budget(time.monotonic() + seconds, regex_seconds, what))
    try:
        validator = BoundedValidator(schema, registry=_NO_RETRIEVAL, format_checker=format_checker)
        return list(validator.iter_errors(instance))
    except _OutOfTime as exc:
        raise _out_of_time(exc, schema, instance, what=what, seconds=seconds, regex_seconds=regex_seconds) from None
    except _Refused as exc:
        raise SchemaRefused(
            f"{what} uses '{exc.keyword}', which is not supported", hint=REFUSED_KEYWORDS[exc.keyword]
        ) from None
    except Unresolvable as exc:
        raise SchemaRefused(
            f"{what} has a reference that does not resolve inside it: {_clip(str(exc))}",
            hint="refer only to #/$defs/<name> inside the same schema",
        ) from None
    except RecursionError:
        raise SchemaRefused(
            f"{what} refers to itself without end (a $ref cycle), or the data is nested too deeply",
            hint="make every $ref cycle pass through properties or items",
        ) from None
    finally:
        _budget.reset(token)


def _out_of_time(
    exc: _OutOfTime, schema: Any, instance: Any, *, what: str, seconds: float, regex_seconds: float
) -> SchemaRefused:
    if exc.pattern is None:
        return SchemaRefused(
            f"checking the data against {what} took longer than {seconds:g}s",
            hint="simplify the schema (fewer nested references and alternatives) or send less data",
        )
    field = _locate(instance, exc.text or "", as_key=exc.as_key)
    schema_path = next((_join(path) for path, pattern in _all_patterns(schema) if pattern == exc.pattern), "")
    where = f"the pattern {_clip(exc.pattern)!r} ({schema_path or what})"
    target = "property name" if exc.as_key else "value"
    if exc.too_long:
        return SchemaRefused(
            f"this {target} is longer than {MAX_MATCH_CHARS} characters, too long to check against {where}",
            hint="send a shorter value, or add a maxLength before the pattern",
            schema_path=schema_path,
            field=field,
        )
    return SchemaRefused(
        f"{where} took longer than {regex_seconds * 1000:g} ms on this {target}",
        hint="simplify the pattern: avoid nested or overlapping repetition such as (a|a)+ or (a+)+",
        schema_path=schema_path,
        field=field,
    )


def _all_patterns(schema: Any) -> Iterator[tuple[list[Any], str]]:
    for path, node in _subschemas(schema):
        yield from _patterns(path, node)


def _locate(instance: Any, text: str, *, as_key: bool, limit: int = 100_000) -> tuple[Any, ...] | None:
    """Where in the data the string `text` (a value, or a property name) first appears."""
    stack: list[tuple[tuple[Any, ...], Any]] = [((), instance)]
    seen = 0
    while stack and seen < limit:
        path, value = stack.pop()
        seen += 1
        if not as_key and isinstance(value, str) and value.startswith(text):
            return path
        if isinstance(value, dict):
            if text in value:  # a property name (propertyNames applies `pattern` to names too)
                return (*path, text)
            stack.extend(((*path, key), item) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend(((*path, index), item) for index, item in reversed(list(enumerate(value))))
    return None


def _join(parts: Any) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts).lstrip(".")


def _at(path: str) -> str:
    return f"{path}: " if path else ""


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
