"""Keyset pagination with opaque cursors.

A cursor is base64url(JSON) of the sort key of the last item returned. It is opaque to
clients but not secret: tampering with it only moves the starting point inside what the
caller is allowed to see anyway, because tenancy is enforced by the query itself.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Query
from fastapi.responses import JSONResponse

from app.errors import Unprocessable
from app.kit.schemas import to_utc

T = TypeVar("T")

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

LimitParam = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description="Items per page (1 to 1000, default 100).")
]
CursorParam = Annotated[
    str | None,
    Query(max_length=512, description="Opaque cursor from a previous page's next_cursor."),
]


def encode_cursor(key: list[Any]) -> str:
    """Make an opaque cursor from a sort key."""
    raw = json.dumps(key, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, *, arity: int) -> list[Any]:
    """Read a cursor back into its sort key; anything malformed is a 422 on `cursor`."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError) as exc:
        raise _invalid_cursor() from exc
    if not isinstance(key, list) or len(key) != arity:
        raise _invalid_cursor()
    return key


def _invalid_cursor() -> Unprocessable:
    return Unprocessable(
        "Invalid cursor", errors=[{"field": "cursor", "message": "not a valid cursor"}]
    )


def encode_time_id_cursor(at: datetime, item_id: uuid.UUID) -> str:
    """Cursor for lists ordered by (created timestamp, uuid)."""
    return encode_cursor([at.isoformat(), str(item_id)])


def decode_time_id_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """Read a (timestamp, uuid) cursor; None when there is no cursor."""
    if not cursor:
        return None
    ts, item_id = decode_cursor(cursor, arity=2)
    try:
        at = datetime.fromisoformat(str(ts))
        if at.tzinfo is None:
            raise ValueError("naive")
        return to_utc(at), uuid.UUID(str(item_id))
    except ValueError as exc:
        raise _invalid_cursor() from exc


def keyset_page(
    rows: list[T], limit: int, key: Callable[[T], tuple[datetime, uuid.UUID]]
) -> tuple[list[T], str | None]:
    """Trim rows fetched with limit + 1 to a page and make the cursor of the next one."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_time_id_cursor(*key(rows[-1]))


def page_response(items: list[Any], next_cursor: str | None) -> JSONResponse:
    """A page of already-serialised items as the `{items, next_cursor}` every list returns."""
    return JSONResponse({"items": items, "next_cursor": next_cursor})


def decode_seq_cursor(cursor: str | None) -> int:
    """Read a cursor over a bigint sequence (e.g. audit seq); 0 when there is no cursor."""
    if not cursor:
        return 0
    (after,) = decode_cursor(cursor, arity=1)
    if not isinstance(after, int) or not 0 <= after < 2**63:
        raise _invalid_cursor()
    return after


def seq_page(rows: list[T], limit: int, seq: Callable[[T], int]) -> tuple[list[T], str | None]:
    """Trim rows fetched with limit + 1 to a page and make the sequence cursor of the next."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor([seq(rows[-1])])
