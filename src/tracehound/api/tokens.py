"""`/api/0/api-tokens/`: the logged-in user's personal tokens, in Sentry's shape.

As Sentry's, it answers browser sessions only: a token cannot list, make or revoke
tokens (it could otherwise mint itself a longer life).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from tracehound.accounts.models import ApiToken
from tracehound.accounts.tokens import TokenError, create_personal_token, revoke_token
from tracehound.api.auth import api_endpoint
from tracehound.api.errors import ApiError, InvalidBody, json_object
from tracehound.api.serializers import iso
from tracehound.lib.ids import parse_id

# Declared for the scope table; token requests are refused in the view anyway.
SCOPES = {"GET": "org:read", "POST": "org:read", "DELETE": "org:read"}


def serialize_token(row: ApiToken, plain: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(row.pk),
        "name": row.name,
        "scopes": row.scopes,
        "tokenLastCharacters": row.token_prefix[-4:],
        "dateCreated": iso(row.created_at),
        "expiresAt": iso(row.expires_at) if row.expires_at else None,
        "lastUsedAt": iso(row.last_used_at) if row.last_used_at else None,
    }
    if plain is not None:
        data["token"] = plain
    return data


def _body(request: HttpRequest) -> dict[str, Any]:
    try:
        return json_object(request.body)
    except InvalidBody as exc:
        raise ApiError(400, f"Invalid request body: {exc}.") from None


def _expiry(value: Any) -> datetime | None:
    """`expiresAt`: an ISO 8601 date-time with a time zone, or null."""
    if value is None:
        return None
    wrong = "expiresAt: must be an ISO 8601 date-time with a time zone, or null"
    if not isinstance(value, str) or len(value) > 40:
        raise ApiError(400, wrong)
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, wrong) from None
    if when.tzinfo is None:
        raise ApiError(400, wrong)
    return when


@api_endpoint("GET", "POST", "DELETE", scopes=SCOPES)
def api_tokens(request: HttpRequest) -> HttpResponse:
    if getattr(request, "api_token", None) is not None:
        raise ApiError(403, "Tokens are managed from a browser session, not with a token.")
    user: Any = request.user
    if request.method == "POST":
        body = _body(request)
        scopes = body.get("scopes")
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise ApiError(400, "scopes: must be a list of scope names")
        name = body.get("name", "")
        if not isinstance(name, str):
            raise ApiError(400, "name: must be a string")
        try:
            row, plain = create_personal_token(
                user, name, scopes, expires_at=_expiry(body.get("expiresAt")), request=request
            )
        except TokenError as exc:
            raise ApiError(400, str(exc)) from None
        return JsonResponse(serialize_token(row, plain), status=201)
    if request.method == "DELETE":
        body = _body(request)
        pk = parse_id(str(body.get("tokenId", ""))[:40])
        found = ApiToken.objects.filter(pk=pk, user=user).first() if pk else None
        if found is None:
            raise ApiError(404, "tokenId: no such token of yours")
        revoke_token(found, request=request)
        return HttpResponse(status=204)
    rows = ApiToken.objects.filter(user=user, revoked_at__isnull=True).order_by("-id")
    return JsonResponse([serialize_token(row) for row in rows], safe=False)
