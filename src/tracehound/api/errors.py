"""JSON errors for everything under /api/0/, as Sentry answers them: `{"detail": "..."}`.

Django's own error pages (unknown URL, uncaught exception, bad request) are HTML; the
root URLconf points its handlers here, and these answer JSON under /api/0/ only.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import defaults

API_PREFIX = "/api/0/"


class ApiError(Exception):
    """Raised by API views for a 4xx answer; the message names what was wrong."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class InvalidBody(ValueError):
    """A request body that is not a JSON object of valid Unicode; the message says why."""


def _bad_string(data: Any) -> str | None:
    """The path of the first key or string that is not valid Unicode (a lone surrogate)."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                inner = f"{where}.{key}" if where else str(key)
                stack.append((inner, key))
                stack.append((inner, item))
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", item) for i, item in enumerate(value))
        elif isinstance(value, str):
            try:
                value.encode()
            except UnicodeEncodeError:
                return where.encode("utf-8", "backslashreplace").decode()[:100] or "body"
    return None


def json_object(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object; InvalidBody (naming what is wrong) otherwise.

    orjson refuses integers past 64 bits; the stdlib reads them, so that the field check
    can name the field that holds one. The stdlib also reads lone surrogates, which no
    database stores, so the strings it reads are checked.
    """
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise InvalidBody(f"is not valid UTF-8 (byte {err.start})") from None
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            raise InvalidBody(f"is not valid JSON ({str(exc)[:100]})") from None
        if (where := _bad_string(data)) is not None:
            raise InvalidBody(f"{where}: is not valid Unicode (a lone surrogate)") from None
    if not isinstance(data, dict):
        raise InvalidBody("must be a JSON object")
    return data


def api_error(status: int, detail: str, **headers: str) -> JsonResponse:
    response = JsonResponse({"detail": detail}, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return api_error(400, "Bad request.")
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """403: JSON under /api/0/, else a page; both name the missing scope when a role
    lacks one (accounts.access.MissingScope)."""
    scope = getattr(exception, "scope", None)
    if is_api(request):
        detail = f"Missing scope: {scope}" if scope else "You do not have permission."
        return api_error(403, detail)
    context = {"scope": scope}
    return render(request, "tracehound/forbidden.html", context, status=403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        # Never echo the exception: for an unknown URL it lists our URL patterns.
        return api_error(404, f"Unknown API endpoint: {request.path[:200]!r}.")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest, *args: Any) -> HttpResponse:
    if is_api(request):
        return api_error(500, "Internal server error; it has been logged.")
    return defaults.server_error(request)
