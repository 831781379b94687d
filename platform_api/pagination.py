"""Cursor pagination for the list endpoints: `?limit=&cursor=`, with a maximum page size.

The body keeps its shape (a JSON array, which the builder and clients read as is); the next page's
cursor travels in headers: `X-Next-Cursor: <cursor>` and `Link: <url of the next page>; rel="next"`,
present only when there is a next page. A cursor is the last row's sort value and id (keyset
pagination: stable while rows are added, and as cheap on page 1000 as on page 1)."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query, Request, Response
from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from platform_api.problems import Problem

MAX_PAGE = 200
NEXT_CURSOR_HEADER = "X-Next-Cursor"

Cursor = Annotated[
    str | None,
    Query(max_length=512, description="Where the page starts: the previous page's X-Next-Cursor header."),
]


def limit_query(default: int = 50, most: int = MAX_PAGE) -> Any:
    return Query(default, ge=1, le=most, description=f"Items per page, at most {most}.")


def _bad_cursor() -> Problem:
    return Problem(
        422,
        "invalid-cursor",
        "Invalid cursor",
        "cursor: not a cursor this list gave out",
        hint="Pass the X-Next-Cursor header of the previous page unchanged, or leave cursor out for the first page.",
        errors=[{"path": "cursor", "message": "not a cursor this list gave out", "hint": "use X-Next-Cursor"}],
    )


Order = tuple[tuple[InstrumentedAttribute[Any], bool], ...]  # (column, descending); the row id comes last


def _encode_value(value: Any) -> dict[str, Any]:
    return {"d": value.isoformat()} if isinstance(value, datetime) else {"v": value}


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps([_encode_value(v) for v in values]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, count: int) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != count or not all(isinstance(v, dict) for v in values):
            raise ValueError
        return [datetime.fromisoformat(v["d"]) if "d" in v else v["v"] for v in values]
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError):
        raise _bad_cursor() from None


def _after(keys: Order, values: list[Any]) -> Any:
    """Rows after the cursor's row in the order `keys`: equal on a prefix of the keys, beyond on the next."""
    return or_(
        *(
            and_(
                *(column == value for (column, _), value in zip(keys[:i], values, strict=False)),
                keys[i][0] < values[i] if keys[i][1] else keys[i][0] > values[i],
            )
            for i in range(len(keys))
        )
    )


def paginate(
    db: Session,
    query: Select[Any],
    *,
    order: Order,
    row_id: InstrumentedAttribute[Any],
    limit: int,
    cursor: str | None,
    request: Request,
    response: Response,
    offset: int = 0,
) -> list[Any]:
    """One page of `query`'s rows in `order` (then by `row_id`), after `cursor`; sets the next-page headers."""
    keys: Order = (*order, (row_id, False))
    if cursor:
        query = query.where(_after(keys, decode_cursor(cursor, len(keys))))
    ordering = [column.desc() if descending else column.asc() for column, descending in keys]
    rows = list(db.scalars(query.order_by(*ordering).offset(offset).limit(limit + 1)))
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([getattr(rows[-1], column.key) for column, _ in keys])
        next_url = request.url.remove_query_params("offset").include_query_params(cursor=next_cursor)
        response.headers[NEXT_CURSOR_HEADER] = next_cursor
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    return rows
