"""Logins, failed logins and logouts in the audit log, from Django's auth signals.

Every way in (the password form, allauth, single sign-on) ends in django.contrib.auth's
login(), so listening here records them all once. record() writes them into each
organization the person belongs to (audit.MEMBER_ACTIONS).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from tracehound.accounts.access import Actor
from tracehound.accounts.audit import clean_text, record

# Field names the login forms send the account in (Django's form, allauth's).
USERNAME_FIELDS = ("username", "login", "email")
MAX_USERNAME = 150  # Django's username length: a longer attempt is noise, kept short


@receiver(user_logged_in, dispatch_uid="tracehound.audit.login")
def record_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    # The SSO callback sets request.sso_provider (the provider's slug) before login().
    provider = getattr(request, "sso_provider", None) if request is not None else None
    if provider:
        record("login.sso", request=request, actor=user, target=user, data={"provider": provider})
    else:
        record("login", request=request, actor=user, target=user)


@receiver(user_login_failed, dispatch_uid="tracehound.audit.login_failed")
def record_login_failure(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """One entry naming the attempted account (never the password). The target is the
    account when it exists, so its organizations see attempts on it."""
    attempted = next((credentials[f] for f in USERNAME_FIELDS if credentials.get(f)), "")
    username = clean_text(str(attempted), MAX_USERNAME)
    User = get_user_model()
    user = User._default_manager.filter(**{User.USERNAME_FIELD: username}).first()
    record(
        "login.failed",
        request=request,
        # The attempt is anonymous: never take the actor from an open session.
        actor=Actor(user=None),
        target=user,
        target_type="user",
        target_label=username,
        data={"username": username},
    )


@receiver(user_logged_out, dispatch_uid="tracehound.audit.logout")
def record_logout(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if user is not None and user.is_authenticated:
        record("logout", request=request, actor=user, target=user)
