"""JSON errors for everything under /api/0/, as Sentry answers them: `{"detail": "..."}`.

Django's own error pages (unknown URL, uncaught exception, bad request) are HTML; the
root URLconf points its handlers here, and these answer JSON under /api/0/ only.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

API_PREFIX = "/api/0/"


class ApiError(Exception):
    """Raised by API views for a 4xx answer; the message names what was wrong."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


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
    if is_api(request):
        return api_error(403, "You do not have permission to perform this action.")
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        # Never echo the exception: for an unknown URL it lists our URL patterns.
        return api_error(404, f"Unknown API endpoint: {request.path[:200]!r}.")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest, *args: Any) -> HttpResponse:
    if is_api(request):
        return api_error(500, "Internal server error; it has been logged.")
    return defaults.server_error(request)
