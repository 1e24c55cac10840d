"""Audit entries for allauth's account events (connected in apps.py)."""

from __future__ import annotations

from typing import Any

from allauth.account.signals import password_changed, password_reset
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
