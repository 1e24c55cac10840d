"""Sentry-style cursor pagination over one sort column, with the row id breaking ties.

A cursor is `<value>:<offset>:<is_prev>`, as in Sentry: `value` is the sort column's
value at the page boundary (µs since the epoch for dates), `offset` how many rows
holding exactly that value to skip, and `is_prev` whether the page lies before the
boundary. `0:<n>:0` is a plain offset from the start. Cursors are exact with ties
because rows with equal values are always ordered by id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from tracehound.api.errors import ApiError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
MAX_OFFSET = 1_000_000
INT64_MAX = 2**63 - 1
CURSOR = re.compile(r"(-?[0-9]{1,19}):([0-9]{1,7}):([01])")


@dataclass(frozen=True)
class Cursor:
    value: int
    offset: int
    is_prev: bool

    def __str__(self) -> str:
        return f"{self.value}:{self.offset}:{int(self.is_prev)}"


@dataclass(frozen=True)
class SortKey:
    """One sortable column; pages run from the highest value down."""

    field: str
    is_date: bool

    def value(self, row: Model) -> int:
        raw = getattr(row, self.field)
        return (raw - EPOCH) // MICROSECOND if self.is_date else int(raw)

    def column(self, value: int) -> Any:
        if not self.is_date:
            return value
        try:
            return EPOCH + value * MICROSECOND
        except OverflowError:
            raise ApiError(400, f"cursor value {value} is not a valid date") from None


@dataclass
class Page:
    rows: list[Any]
    previous: Cursor
    has_previous: bool
    next: Cursor
    has_next: bool


def parse_cursor(raw: str) -> Cursor:
    match = CURSOR.fullmatch(raw)
    if match is None:
        raise ApiError(400, f"invalid cursor {raw[:100]!r}: expected <value>:<offset>:<0|1>")
    value, offset, is_prev = int(match[1]), int(match[2]), match[3] == "1"
    if abs(value) > INT64_MAX:
        raise ApiError(400, f"cursor value {value} is out of range")
    if offset > MAX_OFFSET:
        raise ApiError(400, f"cursor offset {offset} is above {MAX_OFFSET}")
    return Cursor(value, offset, is_prev)


def paginate(rows: QuerySet[Any], key: SortKey, cursor: Cursor | None, limit: int) -> Page:
    f = key.field
    cursor = cursor or Cursor(0, 0, False)
    bound = key.column(cursor.value)

    def window(c: Cursor, size: int) -> list[Any]:
        """`size` rows from cursor `c`, nearest to the boundary first."""
        if c.is_prev:
            qs = rows.filter(**{f"{f}__gte": key.column(c.value)}).order_by(f, "id")
        elif c.value == 0:
            qs = rows.order_by(f"-{f}", "-id")  # a plain offset from the start
        else:
            qs = rows.filter(**{f"{f}__lte": key.column(c.value)}).order_by(f"-{f}", "-id")
        return list(qs[c.offset : c.offset + size])

    def ties(row: Any, id_lookup: str) -> int:
        return rows.filter(**{f: getattr(row, f), f"id__{id_lookup}": row.id}).count()

    fetched = window(cursor, limit + 1)
    more = len(fetched) > limit
    page = fetched[:limit]
    if cursor.is_prev:
        page.reverse()
    if page:
        # Cursors just past the last row and just before the first one.
        after = Cursor(key.value(page[-1]), ties(page[-1], "gte"), False)
        before = Cursor(key.value(page[0]), ties(page[0], "lte"), True)
    else:
        # Nothing here: both directions start from this cursor's own boundary.
        mirrored = rows.filter(**{f: bound}).count() - cursor.offset
        flipped = Cursor(cursor.value, max(mirrored, 0), not cursor.is_prev)
        after, before = (flipped, cursor) if cursor.is_prev else (cursor, flipped)
    has_next = more if not cursor.is_prev else bool(window(after, 1))
    has_previous = more if cursor.is_prev else bool(window(before, 1))
    return Page(page, before, has_previous, after, has_next)


def link_header(request: HttpRequest, page: Page) -> str:
    base = f"{settings.BASE_URL}{request.path}"
    params = {k: v for k, v in request.GET.items() if k != "cursor"}

    def link(rel: str, cursor: Cursor, results: bool) -> str:
        query = urlencode({**params, "cursor": str(cursor)})
        flag = "true" if results else "false"
        return f'<{base}?{query}>; rel="{rel}"; results="{flag}"; cursor="{cursor}"'

    return ", ".join(
        [
            link("previous", page.previous, page.has_previous),
            link("next", page.next, page.has_next),
        ]
    )
