"""Cursor pagination for the API: Sentry's `Link` header over tracehound.lib.pagination."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest

from tracehound.api.errors import ApiError
from tracehound.lib import pagination
from tracehound.lib.pagination import Cursor, CursorError, Page, SortKey

__all__ = ["Cursor", "Page", "SortKey", "link_header", "paginate", "parse_cursor", "request_cursor"]


def parse_cursor(raw: str) -> Cursor:
    try:
        return pagination.parse_cursor(raw)
    except CursorError as exc:
        raise ApiError(400, str(exc)) from None


def paginate(rows: QuerySet[Any], key: SortKey, cursor: Cursor | None, limit: int) -> Page:
    """lib.pagination.paginate, with a cursor outside the column's range a 400."""
    try:
        return pagination.paginate(rows, key, cursor, limit)
    except CursorError as exc:
        raise ApiError(400, str(exc)) from None


def request_cursor(request: HttpRequest) -> Cursor | None:
    raw = request.GET.get("cursor")
    return parse_cursor(raw) if raw else None


def link_header(request: HttpRequest, page: Page) -> str:
    base = f"{settings.BASE_URL}{request.path}"
    params = [(k, v) for k, values in request.GET.lists() if k != "cursor" for v in values]

    def link(rel: str, cursor: Cursor, results: bool) -> str:
        query = urlencode([*params, ("cursor", str(cursor))])
        flag = "true" if results else "false"
        return f'<{base}?{query}>; rel="{rel}"; results="{flag}"; cursor="{cursor}"'

    return ", ".join(
        [
            link("previous", page.previous, page.has_previous),
            link("next", page.next, page.has_next),
        ]
    )
