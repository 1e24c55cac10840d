"""Invitations: a manager or owner invites an email address into an organization with a
role and teams; the link in the email is single-use and expires (7 days by default).

Only the token's SHA-256 is stored. Opening a link stashes its id in the session, so
the sign-up form that follows is open and the address needs no verification (the link
proved it)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from tracehound.accounts import audit
from tracehound.accounts.access import ROLES, Access, access_for
from tracehound.accounts.models import Invitation
from tracehound.projects.models import Organization, OrganizationMember, Team, TeamMember

SESSION_KEY = "tracehound_invitation"


class InvitationError(Exception):
    """A refusal to show the user as it is (it names nothing they may not know)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def invitation_link(token: str, request: HttpRequest | None = None) -> str:
    # Without BASE_URL, the address the inviter reached us at is the best guess.
    base = str(settings.BASE_URL)
    if request is not None and not settings.BASE_URL_IS_SET:
        base = request.build_absolute_uri("/").rstrip("/")
    return base + reverse("invitation-accept", args=[token])


def invitable_roles(access: Access) -> list[str]:
    """Roles the inviter may give: up to their own; any for an owner or a superuser; below
    owner for an organization token (owner powers are never a token's)."""
    if access.is_owner:
        return list(ROLES)
    if access.role is None:
        return [role for role in ROLES if role != "owner"]
    return list(ROLES[: ROLES.index(access.role) + 1])


def invite(
    organization: Organization,
    email: str,
    role: str,
    teams: list[Team] | None,
    invited_by: Any,
    request: HttpRequest | None = None,
) -> tuple[Invitation, str]:
    """Invite `email`; returns the invitation and its link (also emailed). Raises
    MissingScope without member:write, InvitationError for a bad address, role or team.
    Without `invited_by` and `request`, the operator invites (`tracehound invite`)."""
    allowed = list(ROLES)
    if request is not None or invited_by is not None:
        access = access_for(request if request is not None else invited_by, organization)
        if access is None:
            raise InvitationError("You cannot invite members to this organization.", 404)
        access.require("member:write")
        allowed = invitable_roles(access)
    email = email.strip()
    try:
        validate_email(email)
    except ValidationError:
        raise InvitationError(f"{email[:100]!r} is not an email address.") from None
    if role not in ROLES:
        raise InvitationError(f"Unknown role {role[:30]!r}: use one of {', '.join(ROLES)}.")
    if role not in allowed:
        raise InvitationError(f"You cannot invite someone as {role}: it is above your role.")
    teams = list(teams or [])
    if any(team.organization_id != organization.id for team in teams):
        raise InvitationError("A team is not of this organization.")
    if OrganizationMember.objects.filter(
        organization=organization, user__email__iexact=email
    ).exists():
        raise InvitationError(f"{email} is already a member.")
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        # One pending invitation per address: a new one replaces the old link.
        Invitation.objects.filter(
            organization=organization,
            email__iexact=email,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
        ).update(revoked_at=now)
        invitation = Invitation.objects.create(
            organization=organization,
            email=email,
            role=role,
            token_hash=_hash(token),
            invited_by=invited_by if getattr(invited_by, "is_authenticated", False) else None,
            created_at=now,
            expires_at=now + timedelta(days=settings.TRACEHOUND_INVITATION_DAYS),
        )
        invitation.teams.set(teams)
        audit.record(
            "invite.create",
            request=request,
            actor=invited_by if request is None else None,
            actor_label="" if (request or invited_by) else "command line",
            organization=organization,
            target=invitation,
            target_label=email,
            data={"role": role, "teams": sorted(t.slug for t in teams)},
        )
    link = invitation_link(token, request)
    _send(invitation, link, invited_by)
    return invitation, link


def _send(invitation: Invitation, link: str, invited_by: Any) -> None:
    who = invited_by.get_username() if getattr(invited_by, "is_authenticated", False) else ""
    org = invitation.organization.name
    send_mail(
        f"[Tracehound] Join {org}",
        (
            f"{who or 'Someone'} invited you to join {org} on Tracehound as {invitation.role}.\n\n"
            f"Accept the invitation: {link}\n\n"
            f"The link works once and expires on {invitation.expires_at:%Y-%m-%d %H:%M} UTC."
        ),
        None,
        [invitation.email],
    )


def require_manageable(invitation: Invitation, access: Access) -> None:
    """Sending again or withdrawing an invitation is for those who could have made it:
    a new link to an owner's invitation would make its reader an owner."""
    if invitation.role not in invitable_roles(access):
        raise InvitationError(
            f"You cannot change an invitation as {invitation.role}: it is above your role.",
            status=403,
        )


def resend(invitation: Invitation, request: HttpRequest) -> str:
    """A new link (the old one stops working) and a fresh expiry."""
    if not is_pending(invitation):
        raise InvitationError("Only a pending invitation can be sent again.")
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        invitation.token_hash = _hash(token)
        invitation.expires_at = timezone.now() + timedelta(days=settings.TRACEHOUND_INVITATION_DAYS)
        invitation.save(update_fields=["token_hash", "expires_at"])
        audit.record(
            "invite.create",
            request=request,
            organization=invitation.organization,
            target=invitation,
            target_label=invitation.email,
            data={
                "role": invitation.role,
                "teams": sorted(t.slug for t in invitation.teams.all()),
                "resent": True,
            },
        )
    link = invitation_link(token, request)
    _send(invitation, link, request.user)
    return link


def revoke(invitation: Invitation, request: HttpRequest) -> None:
    updated = Invitation.objects.filter(
        pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    if updated:
        audit.record(
            "invite.revoke",
            request=request,
            organization=invitation.organization,
            target=invitation,
            target_label=invitation.email,
        )


def is_pending(invitation: Invitation) -> bool:
    return (
        invitation.accepted_at is None
        and invitation.revoked_at is None
        and invitation.expires_at > timezone.now()
    )


def find_invitation(token: str) -> Invitation:
    """The invitation of a link, or InvitationError saying why it cannot be used."""
    invitation = (
        Invitation.objects.select_related("organization").filter(token_hash=_hash(token)).first()
    )
    if invitation is None:
        raise InvitationError("This invitation link is not valid.", status=404)
    if invitation.accepted_at is not None:
        raise InvitationError("This invitation link has already been used.", status=410)
    if invitation.revoked_at is not None:
        raise InvitationError("This invitation was withdrawn.", status=410)
    if invitation.expires_at <= timezone.now():
        raise InvitationError("This invitation link has expired. Ask for a new one.", status=410)
    return invitation


def remember_invitation(request: HttpRequest, invitation: Invitation) -> None:
    """For the sign-up form that follows: it is open, and this address is proven."""
    from allauth.account.adapter import get_adapter

    request.session[SESSION_KEY] = invitation.pk
    get_adapter(request).stash_verified_email(request, invitation.email)


def pending_invitation(request: HttpRequest | None) -> Invitation | None:
    if request is None or not hasattr(request, "session"):
        return None
    pk = request.session.get(SESSION_KEY)
    if not isinstance(pk, int):
        return None
    invitation = Invitation.objects.select_related("organization").filter(pk=pk).first()
    return invitation if invitation is not None and is_pending(invitation) else None


def has_address(user: Any, email: str) -> bool:
    """Whether `email` is the user's: a verified allauth address, or User.email."""
    from allauth.account.models import EmailAddress

    if (user.email or "").lower() == email.lower():
        return True
    return EmailAddress.objects.filter(user=user, email__iexact=email, verified=True).exists()


def wrong_account_error(invitation: Invitation) -> InvitationError:
    return InvitationError(
        f"This invitation was sent to {invitation.email}, which is not an address of the"
        " account you are logged in with. Log out and open the link again, or ask for an"
        " invitation to your own address.",
        status=403,
    )


@transaction.atomic
def accept_invitation(invitation: Invitation, user: Any, request: HttpRequest) -> None:
    """Make `user` a member with the invitation's role and teams; the link is used up.
    An existing member keeps a higher role and gains the teams. The user must have the
    invited address (else anyone holding the link could join as its role)."""
    if not has_address(user, invitation.email):
        raise wrong_account_error(invitation)
    used = Invitation.objects.filter(
        pk=invitation.pk,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).update(accepted_at=timezone.now(), accepted_by=user)
    if not used:  # accepted in another tab, revoked or expired meanwhile
        raise InvitationError("This invitation link has already been used.", status=410)
    member, created = OrganizationMember.objects.get_or_create(
        organization=invitation.organization, user=user, defaults={"role": invitation.role}
    )
    if not created and ROLES.index(invitation.role) > ROLES.index(member.role):
        # Granted by hand now: the next SSO login must not take it back.
        member.role = invitation.role
        member.sso_managed = False
        member.save(update_fields=["role", "sso_managed"])
    for team in invitation.teams.all():
        TeamMember.objects.get_or_create(team=team, member=member)
    TeamMember.objects.filter(member=member, team__in=invitation.teams.all()).update(
        sso_managed=False
    )
    request.session.pop(SESSION_KEY, None)
    audit.record(
        "invite.accept",
        request=request,
        actor=user,
        organization=invitation.organization,
        target=invitation,
        target_label=invitation.email,
        data={"role": member.role, "teams": sorted(t.slug for t in invitation.teams.all())},
    )
