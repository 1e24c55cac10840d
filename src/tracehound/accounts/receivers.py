"""Audit entries for allauth's account events (connected in apps.py)."""

from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from allauth.account.signals import password_changed, password_reset, user_signed_up
from allauth.mfa.models import Authenticator
from allauth.mfa.signals import authenticator_added, authenticator_removed
from django.dispatch import receiver

from tracehound.accounts import audit


@receiver(password_changed)
def audit_password_change(request: Any, user: Any, **kwargs: Any) -> None:
    audit.record("password.change", request=request, actor=user, target=user)


@receiver(password_reset)
def audit_password_reset(request: Any, user: Any, **kwargs: Any) -> None:
    audit.record("password.reset", request=request, actor=user, target=user)


@receiver(authenticator_added)
def audit_mfa_enable(request: Any, user: Any, authenticator: Any, **kwargs: Any) -> None:
    if authenticator.type == Authenticator.Type.TOTP:
        audit.record("mfa.enable", request=request, actor=user, target=user)


@receiver(authenticator_removed)
def audit_mfa_disable(request: Any, user: Any, authenticator: Any, **kwargs: Any) -> None:
    if authenticator.type == Authenticator.Type.TOTP:
        audit.record("mfa.disable", request=request, actor=user, target=user)


@receiver(user_signed_up)
def join_invited_organization(request: Any, user: Any, **kwargs: Any) -> None:
    """Sign-up through an invitation link: the link proved the address (no verification
    email) and the new account joins with the invitation's role and teams."""
    from tracehound.accounts.invitations import accept_invitation, pending_invitation

    invitation = pending_invitation(request)
    if invitation is None or invitation.email.lower() != (user.email or "").lower():
        return
    address, _ = EmailAddress.objects.get_or_create(
        user=user, email__iexact=user.email, defaults={"email": user.email.lower()}
    )
    EmailAddress.objects.filter(pk=address.pk).update(verified=True, primary=True)
    accept_invitation(invitation, user, request)
