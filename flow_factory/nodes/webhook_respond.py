"""webhook.respond: the answer a caller waiting for the run gets (a webhook whose trigger says `respond:
when_done`, or `POST /api/v1/workflows/{id}/runs?wait=`). The step's output is the answer; the platform API sends
it as soon as the step has run, and the run goes on. With nobody waiting, the answer is only recorded.

The answer comes from the platform's own address, so it may not set what that address's safety rests on:
cookies, redirects, the security headers. The API adds a sandboxing Content-Security-Policy to every answer."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.errors import Permanent
from flow_factory.nodes.base import ConfigIssue, NodeType, StepContext, fixed_output

MAX_BODY_BYTES = 1_048_576
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}$")
ALLOWED_HEADERS = ("content-type", "cache-control", "content-language", "content-disposition", "retry-after")
_SECURITY_HEADERS = ("x-frame-options", "x-content-type-options")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def header_refused(name: str) -> str | None:
    """Why a response header may not be set (None: it may)."""
    lower = name.lower()
    if not _HEADER_NAME.match(name):
        return "a header name is letters, digits and dashes, at most 64"
    if lower in ALLOWED_HEADERS or (lower.startswith("x-") and lower not in _SECURITY_HEADERS):
        return None
    return f"only {', '.join(ALLOWED_HEADERS)} and X- headers (not X-Frame-Options or X-Content-Type-Options)"


class RespondConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status_code: int = Field(200, ge=200, le=599, description="The HTTP status of the answer (200-299, 400-599).")
    headers: dict[str, str] = Field(
        default_factory=dict,
        max_length=20,
        description="Headers of the answer; values may be templates. Content-Type, Cache-Control, "
        "Content-Language, Content-Disposition, Retry-After and X- headers.",
    )
    body: Any = Field(
        None,
        description="The body: text (a template), or a single {{ expression }} such as {{ steps.lookup.output }} "
        "for JSON. Empty when not set.",
    )

    @field_validator("status_code")
    @classmethod
    def _no_redirect(cls, value: int) -> int:
        if 300 <= value < 400:
            raise ValueError("redirects are not offered: answer with 2xx and a link in the body")
        return value

    @field_validator("headers")
    @classmethod
    def _allowed_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if reason := header_refused(name):
                raise ValueError(f"{name}: {reason}")
        return value


def _content(body: Any, headers: dict[str, str]) -> tuple[str, str]:
    """The body as text, and its content type (the configured one, else JSON or plain text by its kind)."""
    if body is None:
        text, kind = "", "text/plain; charset=utf-8"
    elif isinstance(body, str):
        text, kind = body, "text/plain; charset=utf-8"
    else:
        text, kind = json.dumps(body, ensure_ascii=False, default=str), "application/json"
    given = next((value for name, value in headers.items() if name.lower() == "content-type"), None)
    return text, given or kind


async def run(config: RespondConfig, ctx: StepContext) -> dict[str, Any]:
    for name, value in config.headers.items():
        if _CONTROL.search(value):
            raise Permanent(
                f"config.headers.{name} holds a control character (a line break?) after filling in expressions",
                hint="Header values are one line of text: check the expression feeding it.",
            )
    text, content_type = _content(config.body, config.headers)
    if len(text.encode()) > MAX_BODY_BYTES:
        raise Permanent(
            f"config.body is {len(text.encode())} bytes after filling in expressions; at most {MAX_BODY_BYTES}",
            hint="Answer with less (a summary, or a link to the full result).",
        )
    headers = {name: value for name, value in config.headers.items() if name.lower() != "content-type"}
    return {"status_code": config.status_code, "headers": headers, "content_type": content_type, "body": text}


def check_config(config: dict[str, Any]) -> list[ConfigIssue]:
    """At save: what the model's validators refuse after the expressions are filled in, said before."""
    issues: list[ConfigIssue] = [
        (f"headers.{name}", reason, "remove this header")
        for name in config.get("headers") or {}
        if (reason := header_refused(name))
    ]
    status = config.get("status_code")
    if isinstance(status, int) and 300 <= status < 400:
        issues.append(("status_code", "redirects are not offered", "answer with 2xx and a link in the body"))
    return issues


NODE_TYPE = NodeType(
    type="webhook.respond",
    label="Respond to webhook",
    category="Utilities",
    description="Sends the answer to whoever waits for this run (a webhook set to answer when done, or a run "
    "request with ?wait=): status, headers and body. The run goes on after it.",
    config_model=RespondConfig,
    run=run,
    sample_output={
        "status_code": 200,
        "headers": {},
        "content_type": "application/json",
        "body": '{"order": "1042", "status": "shipped"}',
    },
    output_fields=fixed_output("status_code", "headers", "content_type", "body"),
    check_config=check_config,
)
