from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from tracehound.accounts.models import ApiToken, hash_token


def api_error(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


def token_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Authenticate `Authorization: Bearer <token>` and set request.user."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return api_error(401, "Authentication credentials were not provided.")
        try:
            row = ApiToken.objects.select_related("user").get(token_hash=hash_token(token.strip()))
        except ApiToken.DoesNotExist:
            return api_error(401, "Invalid token.")
        if row.revoked_at is not None or not row.user.is_active:
            return api_error(401, "Invalid token.")
        now = timezone.now()
        if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
            ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        request.user = row.user
        try:
            return view(request, *args, **kwargs)
        except Http404 as exc:
            return api_error(404, str(exc) or "Not found.")

    return wrapper
