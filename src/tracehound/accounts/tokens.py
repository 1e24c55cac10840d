"""Creating and revoking API tokens: the one home for it (command line, UI, API).

A personal token holds scopes chosen at creation, never one its user's role does not
allow at that moment; per request it is narrowed again to the user's CURRENT role
(accounts/access.py). An organization token holds the scopes an owner gave it and acts
inside its organization only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from tracehound.accounts import audit
from tracehound.accounts.access import ALL_SCOPES, ROLE_SCOPES
from tracehound.accounts.models import ApiToken
from tracehound.projects.models import Organization, OrganizationMember

MAX_NAME = 100
MAX_EXPIRY_DAYS = 3650


class TokenError(ValueError):
    """Refused input for a new token; the message names what was wrong."""


def role_scopes(user: Any) -> frozenset[str]:
    """Every scope one of the user's roles allows now (union over their organizations;
    a superuser: all)."""
    if user.is_superuser:
        return frozenset(ALL_SCOPES)
    roles = OrganizationMember.objects.filter(user=user).values_list("role", flat=True)
    allowed: set[str] = set()
    for role in roles:
        allowed |= ROLE_SCOPES.get(role, frozenset())
    return frozenset(allowed)


def parse_scopes(values: Iterable[str], allowed: frozenset[str] | None = None) -> list[str]:
    """Checked scope names: unknown ones and ones beyond `allowed` are refused by name."""
    wanted = [str(v).strip() for v in values if str(v).strip()]
    unknown = [v for v in wanted if v not in ALL_SCOPES]
    if unknown:
        raise TokenError(
            f"unknown scope {unknown[0][:40]!r}; valid scopes: {', '.join(ALL_SCOPES)}"
        )
    if not wanted:
        raise TokenError("choose at least one scope")
    if allowed is not None:
        beyond = [v for v in wanted if v not in allowed]
        if beyond:
            raise TokenError(f"scope {beyond[0]} is not allowed by the role")
    return sorted(set(wanted))


def check_name(name: str) -> str:
    name = str(name).strip()
    if len(name) > MAX_NAME:
        raise TokenError(f"name: at most {MAX_NAME} characters")
    if "\x00" in name:
        raise TokenError("name: must not contain NUL characters")
    return name


def expiry_after(days: int | None) -> datetime | None:
    if days is None:
        return None
    if not 1 <= days <= MAX_EXPIRY_DAYS:
        raise TokenError(f"expiry: between 1 and {MAX_EXPIRY_DAYS} days")
    return timezone.now() + timedelta(days=days)


def check_expiry(when: datetime | None) -> datetime | None:
    if when is None:
        return None
    now = timezone.now()
    if not now < when <= now + timedelta(days=MAX_EXPIRY_DAYS):
        raise TokenError(f"expiry: in the future, at most {MAX_EXPIRY_DAYS} days from now")
    return when


def create_personal_token(
    user: Any,
    name: str,
    scopes: Iterable[str] | None,
    *,
    expires_in_days: int | None = None,
    expires_at: datetime | None = None,
    request: Any = None,
    actor_label: str = "",
) -> tuple[ApiToken, str]:
    """A token for `user` (plain value returned once). Without `scopes`, every scope the
    user's role allows now. It expires after `expires_in_days`, or at `expires_at`."""
    allowed = role_scopes(user)
    chosen = sorted(allowed) if scopes is None else parse_scopes(scopes, allowed)
    if not chosen:
        raise TokenError("the user has no role in any organization, so no scope to give")
    row, plain = ApiToken.issue(
        user,
        check_name(name),
        scopes=chosen,
        expires_at=check_expiry(expires_at) or expiry_after(expires_in_days),
        created_by=user,
    )
    audit.record(
        "token.create",
        request=request,
        actor_label=actor_label,
        target=row,
        target_label=f"{row.token_prefix} {row.name}".strip(),
        data={"scopes": chosen, "kind": "personal"},
        about=user,  # into each of the user's organizations
    )
    return row, plain


def create_organization_token(
    organization: Organization,
    name: str,
    scopes: Iterable[str],
    *,
    created_by: Any = None,
    expires_in_days: int | None = None,
    request: Any = None,
    actor_label: str = "",
) -> tuple[ApiToken, str]:
    """A token acting inside `organization` only, for automation (CI release uploads)."""
    chosen = parse_scopes(scopes)
    row, plain = ApiToken.issue(
        None,
        check_name(name),
        scopes=chosen,
        organization=organization,
        created_by=created_by,
        expires_at=expiry_after(expires_in_days),
    )
    audit.record(
        "token.create",
        request=request,
        actor_label=actor_label,
        organization=organization,
        target=row,
        target_label=f"{row.token_prefix} {row.name}".strip(),
        data={"scopes": chosen, "kind": "organization"},
    )
    return row, plain


def revoke_token(row: ApiToken, *, request: Any = None, actor_label: str = "") -> bool:
    """Revoke (idempotent: False if it already was)."""
    changed = ApiToken.objects.filter(pk=row.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if changed:
        audit.record(
            "token.revoke",
            request=request,
            actor_label=actor_label,
            organization=row.organization,
            target=row,
            target_label=f"{row.token_prefix} {row.name}".strip(),
            about=row.user,  # a personal token: into each of its user's organizations
        )
    return bool(changed)


def token_state(row: ApiToken, now: datetime | None = None) -> str:
    now = now or timezone.now()
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "active"
