"""Who a verified SSO login becomes: the user of its (issuer, sub) identity, an existing
local account linked by email (trusted provider, verified email only), or a new user
provisioned just in time; then the group mapping and the admin group are applied."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from tracehound.accounts import audit
from tracehound.accounts.models import ExternalIdentity
from tracehound.accounts.sso import Provider, SsoError
from tracehound.accounts.sso_mapping import changes_by_organization, normalize_groups

USERNAME_CHARS = re.compile(r"[^\w.@+-]")


@dataclass(frozen=True)
class Claims:
    subject: str
    email: str
    email_verified: bool
    username: str
    name: str
    groups: list[str]


def read_claims(raw: dict[str, Any], groups_claim: str) -> Claims:
    def text(key: str, limit: int) -> str:
        value = raw.get(key)
        return value.replace("\x00", "")[:limit] if isinstance(value, str) else ""

    # Some providers send "true" as a string; anything else is not verified.
    verified = raw.get("email_verified") in (True, "true")
    email = text("email", 254)
    return Claims(
        subject=str(raw["sub"]),
        email=email if "@" in email else "",
        email_verified=verified,
        username=text("preferred_username", 150),
        name=text("name", 150),
        groups=normalize_groups(raw.get(groups_claim)),
    )


def unique_username(claims: Claims) -> str:
    User = get_user_model()
    base = claims.username or claims.email.split("@")[0] or "user"
    base = USERNAME_CHARS.sub("", base)[:140] or "user"
    candidate, n = base, 1
    while User.objects.filter(username__iexact=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def linkable_user(provider: Provider, email: str) -> Any:
    """The one account a trusted provider's verified email may be linked to, or None.

    A user with allauth addresses matches only by a verified one of them; a user without
    any (created by command or SSO) by User.email. An organization's provider is set up
    by that organization's owner, so it never links to a superuser or staff user, nor to
    a member of any other organization: else an owner could take those accounts over by
    putting their address in a profile at their own provider."""
    from allauth.account.models import EmailAddress

    User = get_user_model()
    by_address = User.objects.filter(emailaddress__email__iexact=email, emailaddress__verified=True)
    by_field = User.objects.filter(email__iexact=email).exclude(
        pk__in=EmailAddress.objects.values("user_id")
    )
    matches = {u.pk: u for u in [*by_address[:2], *by_field[:2]]}
    if len(matches) != 1:
        return None
    (user,) = matches.values()
    if provider.organization_id is not None:
        from tracehound.projects.models import OrganizationMember

        if user.is_superuser or user.is_staff:
            return None
        elsewhere = OrganizationMember.objects.filter(user=user).exclude(
            organization_id=provider.organization_id
        )
        if elsewhere.exists():
            return None
    return user


@dataclass
class Outcome:
    user: Any
    created: bool
    linked: bool
    changes: list[str]


@transaction.atomic
def sign_in(request: HttpRequest, provider: Provider, claims: Claims) -> Outcome:
    User = get_user_model()
    now = timezone.now()
    identity = (
        ExternalIdentity.objects.select_for_update()
        .select_related("user")
        .filter(issuer=provider.issuer, subject=claims.subject)
        .first()
    )
    created = linked = False
    user: Any
    if identity is not None:
        user = identity.user
        identity.email, identity.groups, identity.last_login_at = claims.email, claims.groups, now
        identity.provider_slug = provider.slug
        identity.save(update_fields=["email", "groups", "last_login_at", "provider_slug"])
    else:
        user = None
        if provider.trusted_email and claims.email_verified and claims.email:
            user = linkable_user(provider, claims.email)
            linked = user is not None
        if user is None:
            # Never linked by email otherwise (that would let anyone who can put a
            # victim's address in their provider profile take over the account).
            user = User(
                username=unique_username(claims),
                email=claims.email if claims.email_verified else "",
                first_name=claims.name[:150],
            )
            user.set_unusable_password()
            user.save()
            created = True
        ExternalIdentity.objects.create(
            user=user,
            issuer=provider.issuer,
            subject=claims.subject,
            provider_slug=provider.slug,
            email=claims.email,
            groups=claims.groups,
            last_login_at=now,
        )
    if not user.is_active:
        raise SsoError("This account is disabled.", status=403)

    label = f"{provider.slug}:{claims.subject}"[:200]
    by_org = changes_by_organization(user, provider.slug, provider.organization_id, claims.groups)
    changes = [change for found in by_org.values() for change in found]
    everywhere: list[str] = []  # changes not of one organization
    if provider.admin_group:
        is_admin = provider.admin_group in claims.groups
        if user.is_superuser != is_admin:
            user.is_superuser = is_admin
            user.save(update_fields=["is_superuser"])
            everywhere.append("made superuser" if is_admin else "no longer superuser")
    changes += everywhere
    # After the mapping: into each organization the user is now in (audit MEMBER_ACTIONS).
    if created:
        audit.record(
            "sso.provisioned",
            request=request,
            actor=user,
            target=user,
            data={"provider": provider.slug, "subject": claims.subject[:255]},
        )
    if linked:
        audit.record(
            "sso.linked",
            request=request,
            actor=user,
            target=user,
            target_label=label,
            data={"provider": provider.slug, "email": claims.email},
        )
    _record_sync(request, user, provider, claims.groups, by_org, everywhere)
    return Outcome(user=user, created=created, linked=linked, changes=changes)


def _record_sync(
    request: HttpRequest | None,
    user: Any,
    provider: Provider,
    groups: list[str],
    by_org: dict[int, list[str]],
    everywhere: list[str],
) -> None:
    """sso.sync into each organization whose memberships changed (its own changes only)
    and, for a change of every organization (superuser), each organization of the user."""
    from tracehound.projects.models import Organization, OrganizationMember

    org_ids = set(by_org)
    if everywhere:
        org_ids |= set(
            OrganizationMember.objects.filter(user=user).values_list("organization_id", flat=True)
        )
    if not org_ids and everywhere:
        org_ids = {0}  # none: one entry without an organization
    orgs = {o.pk: o for o in Organization.objects.filter(pk__in=org_ids)}
    for org_id in sorted(org_ids):
        audit.record(
            "sso.sync",
            request=request,
            actor=user,
            organization=orgs.get(org_id),
            target=user,
            data={
                "provider": provider.slug,
                "groups": groups[:50],
                "changes": by_org.get(org_id, []) + everywhere,
            },
        )
