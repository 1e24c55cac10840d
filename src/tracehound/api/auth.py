"""Who is calling: a Bearer token, or the browser session of a logged-in user."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from tracehound.accounts.models import ApiToken, hash_token
from tracehound.api.errors import ApiError, api_error

View = Callable[..., HttpResponse]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class _CsrfCheck(CsrfViewMiddleware):
    """Django's CSRF check, returning the reason for a refusal instead of an HTML page."""

    def _reject(self, request: HttpRequest, reason: str) -> Any:
        return reason


def csrf_failure(request: HttpRequest) -> str | None:
    check = _CsrfCheck(lambda _: HttpResponse())
    check.process_request(request)
    # _reject above makes process_view return the reason (a str) instead of a response.
    reason: Any = check.process_view(request, lambda _: HttpResponse(), (), {})
    return str(reason) if reason else None


def authenticate(request: HttpRequest) -> HttpResponse | None:
    """Set request.user from the token or the session; return an error response if neither.

    A token is not ambient (a browser never adds it by itself), so token requests need
    no CSRF protection; session cookies are, so session writes pass Django's CSRF check.
    """
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return api_error(401, "Use `Authorization: Bearer <token>`.")
        row = (
            ApiToken.objects.select_related("user")
            .filter(token_hash=hash_token(token.strip()))
            .first()
        )
        if row is None or row.revoked_at is not None or not row.user.is_active:
            return api_error(401, "Invalid token.")
        now = timezone.now()
        if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
            ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        request.user = row.user
        return None
    if getattr(request, "user", None) is not None and request.user.is_authenticated:
        if request.method not in SAFE_METHODS and (reason := csrf_failure(request)):
            return api_error(403, f"CSRF Failed: {reason}")
        return None
    return api_error(401, "Authentication credentials were not provided.")


def api_endpoint(*methods: str) -> Callable[[View], View]:
    """Authenticate, answer other methods with 405, and turn Http404/ApiError into JSON."""
    allowed = [*methods, *(["HEAD"] if "GET" in methods else [])]
    allow_header = ", ".join(allowed)

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if refused := authenticate(request):
                return refused
            if request.method not in allowed:
                return api_error(405, f"Method {request.method!r} not allowed.", Allow=allow_header)
            try:
                return view(request, *args, **kwargs)
            except Http404 as exc:
                return api_error(404, str(exc) or "Not found.")
            except ApiError as exc:
                return api_error(exc.status, exc.detail)

        # CSRF is checked in authenticate(), for session requests only.
        return csrf_exempt(wrapper)

    return decorate
