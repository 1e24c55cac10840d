"""Who is calling: a Bearer token, or the browser session of a logged-in user."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from tracehound.accounts.access import MissingScope, token_scopes
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
        if row is None or row.revoked_at is not None:
            return api_error(401, "Invalid token.")
        if row.user is not None and not row.user.is_active:
            return api_error(401, "Invalid token.")
        now = timezone.now()
        if not row.is_usable(now):
            return api_error(401, "Token expired.")
        if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
            ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        # Views look objects up with the request (accounts/access.py as_actor), so the
        # token's scopes apply; an organization token has no user.
        request.api_token = row  # type: ignore[attr-defined]
        request.user = row.user if row.user is not None else AnonymousUser()
        return None
    if getattr(request, "user", None) is not None and request.user.is_authenticated:
        if request.method not in SAFE_METHODS and (reason := csrf_failure(request)):
            return api_error(403, f"CSRF Failed: {reason}")
        return None
    return api_error(401, "Authentication credentials were not provided.")


def api_endpoint(*methods: str, scopes: dict[str, str] | None = None) -> Callable[[View], View]:
    """Authenticate, answer other methods with 405, and turn Http404/ApiError into JSON.

    `scopes` names the scope each method needs ({"GET": "project:read", "PUT":
    "project:write"}); every method must have one. A token without it is refused here
    with a 403 naming the scope; the role check happens where the view looks its
    objects up (accounts/access.py), which also answers 403 naming the scope
    (MissingScope). The permission tests read `view.required_scopes` to try every
    endpoint with a token lacking its scope.
    """
    allowed = [*methods, *(["HEAD"] if "GET" in methods else [])]
    allow_header = ", ".join(allowed)
    required = dict(scopes or {})
    if "GET" in required:
        required.setdefault("HEAD", required["GET"])
    missing = [m for m in methods if m not in required]
    if missing:
        raise TypeError(f"api_endpoint: no scope declared for {', '.join(missing)}")

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if refused := authenticate(request):
                return refused
            if request.method not in allowed:
                return api_error(405, f"Method {request.method!r} not allowed.", Allow=allow_header)
            token = getattr(request, "api_token", None)
            scope = required.get(request.method or "")
            if token is not None and scope and scope not in token_scopes(token):
                return api_error(403, f"Missing scope: {scope}")
            try:
                return view(request, *args, **kwargs)
            except Http404 as exc:
                return api_error(404, str(exc) or "Not found.")
            except MissingScope as exc:
                return api_error(403, f"Missing scope: {exc.scope}")
            except ApiError as exc:
                return api_error(exc.status, exc.detail)

        wrapper.required_scopes = required  # type: ignore[attr-defined]
        # CSRF is checked in authenticate(), for session requests only.
        return csrf_exempt(wrapper)

    return decorate
