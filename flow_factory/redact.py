"""Masks secrets in what we record about a step (inputs, outputs, errors)."""

from __future__ import annotations

import re
from typing import Any

SECRET_KEY = re.compile(r"(authorization|password|passwd|secret|token|api[-_]?key|cookie|credential)", re.I)
MASK = "••••••"


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: MASK if SECRET_KEY.search(str(k)) and v not in (None, "") else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value
