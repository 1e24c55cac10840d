"""Sentry-style cursor pagination over one sort column, with the row id breaking ties.

Sentry's cursor is `<value>:<offset>:<is_prev>`: `value` is the sort column's value at
the page boundary (µs since the epoch for dates), `offset` how many rows holding exactly
that value to skip, `is_prev` whether the page lies before the boundary; `0:<n>:0` is a
plain offset from the start. Those are accepted as Sentry means them.

The cursors we hand out add a fourth part, the id of the boundary row:
`<value>:<excluded>:<is_prev>:<id>`, where `excluded` is 1 when the boundary row itself is
left out. A page then starts strictly after (or at) the pair (value, id) in sort order,
whatever happened to other rows meanwhile: the values we sort by (last seen, first seen,
counts, priority) only ever grow, so an issue updated between two requests moves towards
the first page, and every issue that did not change is still shown exactly once. (An
offset among equal values would skip a row whenever a row before it left the tie.)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
MAX_OFFSET = 1_000_000
INT64_MAX = 2**63 - 1
CURSOR = re.compile(r"(-?[0-9]{1,19}):([0-9]{1,7}):([01])(?::([0-9]{1,19}))?")


class CursorError(ValueError):
    """A cursor that cannot be used; the message names `cursor`."""


@dataclass(frozen=True)
class Cursor:
    value: int
    offset: int
    is_prev: bool
    row_id: int | None = None  # set: keyset cursor; offset 1 = boundary row excluded

    def __str__(self) -> str:
        base = f"{self.value}:{self.offset}:{int(self.is_prev)}"
        return base if self.row_id is None else f"{base}:{self.row_id}"


@dataclass(frozen=True)
class SortKey:
    """One sortable column (or annotation); pages run from the highest value down.

    `annotate`, when set, adds the column to the queryset (a computed sort such as
    priority); its values must be integers.
    """

    field: str
    is_date: bool
    annotate: Callable[[QuerySet[Any]], QuerySet[Any]] | None = None

    def prepare(self, rows: QuerySet[Any]) -> QuerySet[Any]:
        return self.annotate(rows) if self.annotate else rows

    def value(self, row: Any) -> int:
        raw = getattr(row, self.field)
        return (raw - EPOCH) // MICROSECOND if self.is_date else int(raw)

    def column(self, value: int) -> Any:
        if not self.is_date:
            return value
        try:
            return EPOCH + value * MICROSECOND
        except OverflowError:
            raise CursorError(f"cursor value {value} is not a valid date") from None


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
        raise CursorError(
            f"invalid cursor {raw[:100]!r}: expected <value>:<offset>:<0|1> as in a Link header"
        )
    value, offset, is_prev = int(match[1]), int(match[2]), match[3] == "1"
    row_id = int(match[4]) if match[4] is not None else None
    if abs(value) > INT64_MAX or (row_id is not None and row_id > INT64_MAX):
        raise CursorError(f"cursor value {value} is out of range")
    if offset > MAX_OFFSET:
        raise CursorError(f"cursor offset {offset} is above {MAX_OFFSET}")
    if row_id is not None and offset > 1:
        raise CursorError(f"invalid cursor {raw[:100]!r}: offset must be 0 or 1 with a row id")
    return Cursor(value, offset, is_prev, row_id)


def paginate(rows: QuerySet[Any], key: SortKey, cursor: Cursor | None, limit: int) -> Page:
    f = key.field
    rows = key.prepare(rows)
    cursor = cursor or Cursor(0, 0, False)

    def window(c: Cursor, size: int) -> list[Any]:
        """`size` rows from cursor `c`, nearest to the boundary first."""
        if c.row_id is not None:
            v, op = key.column(c.value), "gt" if c.is_prev else "lt"
            tie = Q(**{f: v, f"id__{op}{'' if c.offset else 'e'}": c.row_id})
            qs = rows.filter(Q(**{f"{f}__{op}": v}) | tie)
            qs = qs.order_by(f, "id") if c.is_prev else qs.order_by(f"-{f}", "-id")
            return list(qs[:size])
        if c.is_prev:
            qs = rows.filter(**{f"{f}__gte": key.column(c.value)}).order_by(f, "id")
        elif c.value == 0:
            qs = rows.order_by(f"-{f}", "-id")  # a plain offset from the start
        else:
            qs = rows.filter(**{f"{f}__lte": key.column(c.value)}).order_by(f"-{f}", "-id")
        return list(qs[c.offset : c.offset + size])

    fetched = window(cursor, limit + 1)
    more = len(fetched) > limit
    page = fetched[:limit]
    if cursor.is_prev:
        page.reverse()
    if page:
        # Cursors just past the last row and just before the first one.
        after = Cursor(key.value(page[-1]), 1, False, page[-1].id)
        before = Cursor(key.value(page[0]), 1, True, page[0].id)
    elif cursor.row_id is not None:
        # Nothing here: the other direction starts at this cursor's boundary, inclusive.
        flipped = Cursor(cursor.value, 0, not cursor.is_prev, cursor.row_id)
        after, before = (flipped, cursor) if cursor.is_prev else (cursor, flipped)
    else:
        mirrored = rows.filter(**{f: key.column(cursor.value)}).count() - cursor.offset
        flipped = Cursor(cursor.value, max(mirrored, 0), not cursor.is_prev)
        after, before = (flipped, cursor) if cursor.is_prev else (cursor, flipped)
    at_start = cursor == Cursor(0, 0, False)  # nothing lies before the first page
    has_next = more if not cursor.is_prev else bool(window(after, 1))
    has_previous = more if cursor.is_prev else not at_start and bool(window(before, 1))
    return Page(page, before, has_previous, after, has_next)
