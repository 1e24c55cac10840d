"""API token pages: a user's personal tokens (/account/tokens/) and an organization's
tokens for automation (/organizations/<org>/settings/tokens/, owners only).

A new token is shown once, on the page that answers its creation (never stored in
plain, never cached); revoking is a POST.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from tracehound.accounts.access import ALL_SCOPES, organization_access
from tracehound.accounts.models import ApiToken
from tracehound.accounts.tokens import (
    TokenError,
    create_organization_token,
    create_personal_token,
    revoke_token,
    role_scopes,
    token_state,
)
from tracehound.lib.ids import parse_id

EXPIRY_CHOICES = (("", "Never"), ("30", "30 days"), ("90", "90 days"), ("365", "1 year"))
ORG_TOKEN_SCOPE = "org:admin"  # owners: organization tokens act without a user


def token_rows(rows: Any) -> list[dict[str, Any]]:
    return [{"row": row, "state": token_state(row)} for row in rows.order_by("-created_at", "-id")]


def read_form(request: HttpRequest) -> tuple[str, list[str], int | None]:
    """Name, ticked scopes and expiry in days; TokenError naming a bad field."""
    name = str(request.POST.get("name", ""))
    scopes = [str(s) for s in request.POST.getlist("scopes")]
    days_text = str(request.POST.get("expires_days", "")).strip()
    days = None
    if days_text:
        days = parse_id(days_text)
        if days is None:
            raise TokenError("expiry: a number of days")
    return name, scopes, days


def form_context(allowed: frozenset[str] | tuple[str, ...], post: Any = None) -> dict[str, Any]:
    ticked = set(post.getlist("scopes")) if post is not None else set()
    return {
        "scopes": [(s, s in ticked) for s in ALL_SCOPES if s in allowed],
        "expiry_choices": EXPIRY_CHOICES,
        "name": str(post.get("name", ""))[:100] if post is not None else "",
    }


@never_cache
@login_required
def personal_tokens(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    allowed = role_scopes(user)
    context: dict[str, Any] = {"new_token": None, "error": None}
    status = 200
    if request.method == "POST":
        try:
            name, scopes, days = read_form(request)
            row, plain = create_personal_token(
                user, name, scopes, expires_in_days=days, request=request
            )
            context["new_token"] = {"row": row, "plain": plain}
        except TokenError as exc:
            context["error"] = str(exc)
            status = 400
    elif request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    failed = context["error"] is not None
    context |= form_context(allowed, request.POST if failed else None)
    context["tokens"] = token_rows(ApiToken.objects.filter(user=user))
    return render(request, "tracehound/tokens.html", context, status=status)


@login_required
@require_POST
def revoke_personal_token(request: HttpRequest, token_id: str) -> HttpResponse:
    user: Any = request.user
    pk = parse_id(token_id)
    row = ApiToken.objects.filter(pk=pk, user=user).first() if pk else None
    if row is None:
        raise Http404("token not found")
    if revoke_token(row, request=request):
        messages.success(request, f"Revoked {row.token_prefix}.")
    return redirect("personal-tokens")


@never_cache
@login_required
def organization_tokens(request: HttpRequest, org: str) -> HttpResponse:
    access = organization_access(request, org, scope=ORG_TOKEN_SCOPE)
    context: dict[str, Any] = {"org": access.organization, "access": access}
    context |= {"new_token": None, "error": None}
    status = 200
    if request.method == "POST":
        try:
            name, scopes, days = read_form(request)
            row, plain = create_organization_token(
                access.organization,
                name,
                scopes,
                created_by=request.user,
                expires_in_days=days,
                request=request,
            )
            context["new_token"] = {"row": row, "plain": plain}
        except TokenError as exc:
            context["error"] = str(exc)
            status = 400
    elif request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    failed = context["error"] is not None
    context |= form_context(ALL_SCOPES, request.POST if failed else None)
    tokens = ApiToken.objects.filter(organization=access.organization, user=None)
    context["tokens"] = token_rows(tokens)
    return render(request, "tracehound/org_tokens.html", context, status=status)


@login_required
@require_POST
def revoke_organization_token(request: HttpRequest, org: str, token_id: str) -> HttpResponse:
    access = organization_access(request, org, scope=ORG_TOKEN_SCOPE)
    pk = parse_id(token_id)
    rows = ApiToken.objects.filter(organization=access.organization, user=None)
    token = rows.filter(pk=pk).first() if pk else None
    if token is None:
        raise Http404("token not found")
    if revoke_token(token, request=request):
        messages.success(request, f"Revoked {token.token_prefix}.")
    return redirect("organization-tokens", org=access.organization.slug)
