"""Templates in node configs: `{{ trigger.email }}`, `{{ steps.fetch.output.body.id }}`.

Rendered by a sandboxed Jinja2 environment with bounds on everything a template can
grow: output size, range(), string and list arithmetic, expanding filters and loop
iterations. Tenants write these templates, so none of them may reach Python internals
or tie up a worker. Statements that can hide unbounded work (macros, block `set`,
`filter` blocks, recursive loops, includes) are not part of the language.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from functools import lru_cache
from typing import Any, cast

from jinja2 import (
    StrictUndefined,
    TemplateError,
    TemplateSyntaxError,
    Undefined,
    nodes,
    pass_eval_context,
)
from jinja2.compiler import CodeGenerator, Frame
from jinja2.filters import FILTERS
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.utils import missing

from core.errors import ErrorKind, Permanent

MAX_TEMPLATE_CHARS = 64 * 1024
MAX_OUTPUT_CHARS = 1024 * 1024
MAX_RANGE = 10_000
MAX_LOOP_ITERATIONS = 100_000  # per rendered string, over all its loops
MAX_WIDTH = 10_000  # width-like arguments of filters (center, batch, tojson indent ...)
MAX_INT_BITS = 100_000

REFERENCE_HINT = (
    "references look like trigger.<field>, steps.<node_id>.output.<field> or "
    "execution.id; a step's output exists only when that step ran before this one"
)
SYNTAX_HINT = "write values as {{ trigger.field }}; close every {{ with }} and every {% if %} with {% endif %}"
_MARKERS = ("{{", "{%", "{#")
_SINGLE_EXPRESSION = re.compile(r"\s*\{\{[-+]?(?P<expr>.*?)[-+]?\}\}\s*", re.DOTALL)
_PERCENT_WIDTH = re.compile(r"%[-+ #0]*(\d{7,}|\d*\.\d{7,})")
_UNSUPPORTED_TAGS = {
    nodes.Macro: "macro",
    nodes.CallBlock: "call",
    nodes.FilterBlock: "filter",
    nodes.AssignBlock: "set ... endset",
    nodes.Extends: "extends",
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "from ... import",
    nodes.Block: "block",
}


class ExpressionError(Permanent):
    """A template could not be rendered: bad syntax, a missing reference, a sandbox
    violation or a size bound. Never retryable: the same input fails the same way."""

    default_kind = ErrorKind.EXPRESSION

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)


# --- bounds ---------------------------------------------------------------------------

_loop_budget: ContextVar[list[int] | None] = ContextVar("flowyard_loop_budget", default=None)


def _too_big(what: str, size: int) -> ExpressionError:
    return ExpressionError(
        f"{what} would be {size:,} characters or items; the limit is {MAX_OUTPUT_CHARS:,}",
        hint="templates are for shaping data, not generating bulk text; reduce the size",
    )


def _check_size(what: str, size: int) -> None:
    if size > MAX_OUTPUT_CHARS:
        raise _too_big(what, size)


def bounded_range(*args: int) -> range:
    items = range(*args)
    if len(items) > MAX_RANGE:
        raise ExpressionError(
            f"range() is limited to {MAX_RANGE:,} items; this one has {len(items):,}",
            hint="loop over fewer items, or over the list itself",
        )
    return items


def _counted(iterable: Iterable[Any]) -> Iterator[Any]:
    """Wraps every `{% for %}` iterable: spends one unit of the render's loop budget per item."""
    budget = _loop_budget.get()
    for item in iterable:
        if budget is not None:
            budget[0] -= 1
            if budget[0] < 0:
                raise ExpressionError(
                    f"the template's loops ran more than {MAX_LOOP_ITERATIONS:,} times",
                    hint="loop over fewer items; nested loops multiply",
                )
        yield item


def _sized_len(value: Any) -> int | None:
    return len(value) if isinstance(value, (str, list, tuple)) else None


def _check_binop(operator: str, left: Any, right: Any) -> None:
    if operator == "*":
        for seq, count in ((left, right), (right, left)):
            if _sized_len(seq) is not None and isinstance(count, int):
                _check_size("this repetition", len(seq) * count)
        if isinstance(left, int) and isinstance(right, int):
            _check_int_bits(left.bit_length() + right.bit_length())
    elif operator == "+" and _sized_len(left) is not None and _sized_len(right) is not None:
        _check_size("this sum", len(left) + len(right))
    elif operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
        _check_int_bits(right * max(abs(left).bit_length() - 1, 0))
    elif operator == "%" and isinstance(left, str) and _PERCENT_WIDTH.search(left):
        raise ExpressionError("a format width or precision is too large", hint="use at most 6 digits")


def _check_int_bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise ExpressionError(
            "this number would be too large to compute",
            hint=f"numbers in templates are limited to {MAX_INT_BITS:,} bits",
        )


def _estimate_replace(text: str, old: str, new: str, *rest: Any) -> int:
    occurrences = text.count(old) if old else len(text) + 1
    return len(text) + occurrences * max(len(new) - len(old), 0)


def _estimate_join(separator: str, items: list[Any]) -> int:
    return sum(len(str(item)) for item in items) + len(separator) * max(len(items) - 1, 0)


def _check_str_method(method: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Checks calls like 'x'.ljust(10**9) and returns the (possibly materialised) args."""
    text, name = getattr(method, "__self__", None), getattr(method, "__name__", "")
    if not isinstance(text, str):
        return args
    if name in {"ljust", "rjust", "center", "zfill"} and args and isinstance(args[0], int):
        _check_size(f"str.{name}()", args[0])
    elif name == "expandtabs" and args and isinstance(args[0], int):
        _check_size("str.expandtabs()", len(text) * args[0])
    elif name == "replace" and len(args) >= 2 and all(isinstance(a, str) for a in args[:2]):
        _check_size("str.replace()", _estimate_replace(text, *args))
    elif name == "join" and args:
        items = list(args[0])
        _check_size("str.join()", _estimate_join(text, items))
        return (items, *args[1:])
    return args


def _check_width(filter_name: str, args: Iterable[Any]) -> None:
    for arg in args:
        if isinstance(arg, int) and not isinstance(arg, bool) and arg > MAX_WIDTH:
            raise ExpressionError(
                f"the {filter_name} filter's argument {arg:,} is over the limit of {MAX_WIDTH:,}",
                hint="use a smaller number",
            )


def _width_bounded(name: str) -> Callable[..., Any]:
    """Wraps a builtin filter whose int arguments say how much it produces."""
    builtin = FILTERS[name]
    leading = 2 if getattr(builtin, "jinja_pass_arg", None) else 1  # (eval_ctx,) value

    def bounded(*args: Any, **kwargs: Any) -> Any:
        _check_width(name, (*args[leading:], *kwargs.values()))
        return builtin(*args, **kwargs)

    if leading == 2:
        bounded = pass_eval_context(bounded)
    return bounded


@pass_eval_context
def _replace_filter(eval_ctx: Any, text: Any, old: str, new: str, count: int | None = None) -> Any:
    _check_size("the replace filter", _estimate_replace(str(text), str(old), str(new)))
    return FILTERS["replace"](eval_ctx, text, old, new, count)


@pass_eval_context
def _join_filter(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
    items = list(value)
    _check_size("the join filter", _estimate_join(d, items))
    return cast(str, FILTERS["join"](eval_ctx, items, d, attribute))


def _indent_filter(text: Any, width: int | str = 4, *args: Any, **kwargs: Any) -> str:
    _check_width("indent", [width])
    prefix_length = len(width) if isinstance(width, str) else width
    _check_size("the indent filter", len(str(text)) + prefix_length * (str(text).count("\n") + 1))
    return cast(str, FILTERS["indent"](text, width, *args, **kwargs))


def _format_filter(value: Any, *args: Any, **kwargs: Any) -> str:
    _check_binop("%", value, args)
    return cast(str, FILTERS["format"](value, *args, **kwargs))


def bounded_concat(parts: Iterable[Any]) -> str:
    """Replaces Jinja's `~` operator, which cannot be intercepted like other binops."""
    texts = [str(part) for part in parts]
    _check_size("this concatenation", sum(map(len, texts)))
    return "".join(texts)


class _BoundedCodeGenerator(CodeGenerator):
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _MissingReference(StrictUndefined):
    """Fails on any use, with a message that says what was missing and what exists."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        if self._undefined_hint:
            return self._undefined_hint
        name, owner = self._undefined_name, self._undefined_obj
        if owner is missing:
            return f"'{name}' is not defined (available: trigger, steps, execution)"
        if isinstance(owner, dict):
            keys = ", ".join(map(str, list(owner)[:20])) or "none"
            return f"'{name}' is not there (available keys: {keys})"
        return f"'{name}' is not there ({type(owner).__name__} value)"


class _FlowyardEnvironment(ImmutableSandboxedEnvironment):
    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self) -> None:
        super().__init__(undefined=_MissingReference, autoescape=False)
        self.bounded_concat = bounded_concat
        self.globals["range"] = bounded_range
        del self.globals["lipsum"]
        self.filters.update(
            replace=_replace_filter,
            join=_join_filter,
            indent=_indent_filter,
            format=_format_filter,
            **{name: _width_bounded(name) for name in ("center", "batch", "slice", "tojson")},
        )
        self.filters["_counted"] = _counted

    def wrap_str_format(self, value: Any) -> None:
        return None  # no str.format: its width specs are unbounded; ~ and |format are not

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and attr in {"format", "format_map"}:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def getattr(self, obj: Any, attribute: str) -> Any:
        # Data first: a payload key named "items" or "count" must win over dict methods.
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        return super().call(context, obj, *_check_str_method(obj, args), **kwargs)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for node in tree.find_all(tuple(_UNSUPPORTED_TAGS)):
            tag = _UNSUPPORTED_TAGS[type(node)]
            raise TemplateSyntaxError(f"{{% {tag} %}} is not supported in templates", node.lineno)
        for loop in tree.find_all(nodes.For):
            if loop.recursive:
                raise TemplateSyntaxError("recursive loops are not supported", loop.lineno)
            loop.iter = nodes.Filter(loop.iter, "_counted", [], [], None, None, lineno=loop.lineno)
        return tree


_env = _FlowyardEnvironment()


# --- rendering ------------------------------------------------------------------------


def make_context(
    *,
    trigger: dict[str, Any],
    steps: dict[str, dict[str, Any]],
    execution_id: str,
    mode: str,
    loop: tuple[int, Any] | None = None,
) -> dict[str, Any]:
    """The names a template or condition can read. `steps` maps a node id to its `{"output": ...}` (and
    `"error"` when it failed); `loop` is the (index, item) inside a loop body."""
    context: dict[str, Any] = {"trigger": trigger, "steps": steps, "execution": {"id": execution_id, "mode": mode}}
    if loop is not None:
        context["loop"] = {"index": loop[0], "item": loop[1]}
    return context


def render_value(value: Any, context: dict[str, Any]) -> Any:
    """Renders every string inside dicts and lists; other values pass through.

    A string that is exactly one `{{ expr }}` keeps the expression's native value
    (a number stays a number, a dict a dict); anything else renders to a string.
    """
    if isinstance(value, str):
        return render_string(value, context)
    if isinstance(value, dict):
        return {key: render_value(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [render_value(item, context) for item in value]
    return value


def render_string(source: str, context: dict[str, Any]) -> Any:
    if not has_template(source):
        return source
    _check_template_length(source)
    budget_token = _loop_budget.set([MAX_LOOP_ITERATIONS])
    try:
        expression = _single_expression(source)
        if expression is not None:
            result = _compile_expression(expression)(**context)
            _reject_undefined(result)
        else:
            result = _render_bounded(_compile_template(source), context)
    except ExpressionError:
        raise
    except Exception as exc:
        raise _as_expression_error(exc, source) from exc
    finally:
        _loop_budget.reset(budget_token)
    if isinstance(result, str):
        _check_size("the rendered text", len(result))
    return result


def has_template(text: str) -> bool:
    return any(marker in text for marker in _MARKERS)


def _single_expression(source: str) -> str | None:
    match = _SINGLE_EXPRESSION.fullmatch(source)
    if match is None or "{{" in match["expr"] or "}}" in match["expr"]:
        return None
    return match["expr"]


def _check_template_length(source: str) -> None:
    if len(source) > MAX_TEMPLATE_CHARS:
        raise ExpressionError(
            f"template is {len(source):,} characters; the limit is {MAX_TEMPLATE_CHARS:,}",
            hint="shorten the text, or build it in a data.transform step from smaller parts",
        )


@lru_cache(maxsize=4096)
def _compile_template(source: str) -> Any:
    return _env.from_string(source)


@lru_cache(maxsize=4096)
def _compile_expression(expression: str) -> Any:
    return _env.compile_expression(expression, undefined_to_none=False)


def _render_bounded(template: Any, context: dict[str, Any]) -> str:
    chunks, size = [], 0
    for chunk in template.generate(**context):
        size += len(chunk)
        _check_size("the rendered text", size)
        chunks.append(chunk)
    return "".join(chunks)


def _reject_undefined(value: Any) -> None:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    elif isinstance(value, (list, tuple)):
        for item in value:
            _reject_undefined(item)
    elif isinstance(value, dict):
        for item in value.values():
            _reject_undefined(item)


def _as_expression_error(exc: Exception, source: str) -> ExpressionError:
    shown = source if len(source) <= 200 else source[:200] + "…"
    if isinstance(exc, SecurityError):
        return ExpressionError(
            f"blocked by the template sandbox in `{shown}`: {exc}",
            hint="templates can read trigger, steps and execution data, not Python internals",
        )
    if isinstance(exc, TemplateSyntaxError):
        return ExpressionError(f"template syntax error in `{shown}`: {exc.message}", hint=SYNTAX_HINT)
    if isinstance(exc, TemplateError):  # UndefinedError and friends
        return ExpressionError(f"unknown reference in `{shown}`: {exc.message}", hint=REFERENCE_HINT)
    return ExpressionError(
        f"template `{shown}` failed: {type(exc).__name__}: {exc}",
        hint="check the values the template works on (types, division by zero, ...)",
    )


# --- static checks (save time) ------------------------------------------------------------


def iter_template_strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Yields (path suffix, string) for every string holding a template marker."""
    if isinstance(value, str):
        if has_template(value):
            yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from iter_template_strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from iter_template_strings(item, f"{path}[{index}]")


@lru_cache(maxsize=4096)
def _parsed(source: str) -> nodes.Template | TemplateSyntaxError:
    """The syntax tree of a template, or why it has none (cached: graphs are re-validated often)."""
    if len(source) > MAX_TEMPLATE_CHARS:
        return TemplateSyntaxError(f"template is {len(source):,} characters; the limit is {MAX_TEMPLATE_CHARS:,}", 1)
    try:
        return _env.parse(source)
    except TemplateSyntaxError as exc:
        return exc


def template_syntax_errors(value: Any) -> list[tuple[str, str]]:
    """(path suffix, message) for every string in `value` that is not a valid template."""
    errors = []
    for path, source in iter_template_strings(value):
        tree = _parsed(source)
        if isinstance(tree, TemplateSyntaxError):
            errors.append((path, f"line {tree.lineno}: {tree.message}"))
    return errors


def referenced_steps(value: Any) -> set[str]:
    """Node ids named as `steps.<id>` or `steps['<id>']` in the templates inside `value`.

    Strings that do not parse are skipped (template_syntax_errors reports them).
    """
    found: set[str] = set()
    for _, source in iter_template_strings(value):
        tree = _parsed(source)
        if isinstance(tree, TemplateSyntaxError):
            continue
        for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
            if not isinstance(node, (nodes.Getattr, nodes.Getitem)):  # never: narrows find_all's Expr
                continue
            if not (isinstance(node.node, nodes.Name) and node.node.name == "steps"):
                continue
            if isinstance(node, nodes.Getattr):
                found.add(node.attr)
            elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                found.add(node.arg.value)
    return found
