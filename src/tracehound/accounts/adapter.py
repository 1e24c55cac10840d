"""How allauth fits Tracehound: closed sign-up (invitations and allowed email domains
only), the database-backed log-in throttle, "Require SSO", and audit entries."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from allauth.core import context
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.usersessions.adapter import DefaultUserSessionsAdapter
from django.contrib.auth import user_login_failed
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse

from tracehound.accounts import audit
from tracehound.accounts.policy import local_login_allowed
from tracehound.accounts.throttle import (
    forget_login_failures,
    is_login_throttled,
    record_login_failure,
)
from tracehound.ingest.app import client_address

# One message for an unknown account and a wrong password, whatever was typed.
BAD_CREDENTIALS = "Your username and password didn't match. Please try again."
THROTTLED = (
    "Too many failed log-ins for this account or from this address. Try again in 15 minutes."
)
SSO_REQUIRED = "Your organization requires single sign-on: use its button below to log in."


def throttle_name(typed: str) -> str:
    """The account a log-in names, for the throttle: an address of a user counts as
    their user name, so guesses by email and by name share one limit. Unknown names
    count as typed (the same query runs either way)."""
    typed = typed.strip()
    if "@" not in typed or len(typed) > 254 or "\x00" in typed:
        return typed
    from django.contrib.auth import get_user_model

    found = (
        EmailAddress.objects.filter(email__iexact=typed)
        .values_list("user__username", flat=True)
        .first()
        or get_user_model()
        .objects.filter(email__iexact=typed)
        .values_list("username", flat=True)
        .first()
    )
    return str(found or typed)


def _login_name(credentials: dict[str, Any]) -> str:
    return throttle_name(str(credentials.get("username") or credentials.get("email") or ""))


def _signal_failure(request: HttpRequest | None, credentials: dict[str, Any]) -> None:
    # As django.contrib.auth.authenticate does, so the audit log sees refused log-ins.
    safe = {k: v for k, v in credentials.items() if k != "password"}
    user_login_failed.send(sender=__name__, credentials=safe, request=request)


def signup_domain_organizations(email: str) -> list[Any]:
    """Organizations that let anyone with this email's domain sign up as a member."""
    from tracehound.projects.models import Organization

    domain = email.rpartition("@")[2].strip().lower()
    if not domain:
        return []
    return [
        org
        for org in Organization.objects.exclude(signup_domains="").only("id", "signup_domains")
        if domain in {d.strip().lower() for d in org.signup_domains.splitlines() if d.strip()}
    ]


def has_unverified_signup(user: Any) -> bool:
    """Signed up by form and never proved an address: log-in waits for verification.
    Accounts from `tracehound user create` or SSO have no address to prove."""
    addresses = EmailAddress.objects.filter(user=user)
    return addresses.exists() and not addresses.filter(verified=True).exists()


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "username_password_mismatch": BAD_CREDENTIALS,
        "email_password_mismatch": BAD_CREDENTIALS,
        "too_many_login_attempts": THROTTLED,
    }

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        from tracehound.accounts.invitations import pending_invitation
        from tracehound.projects.models import Organization

        invitation = pending_invitation(request)
        if invitation is not None:
            # Its members log in through single sign-on: no local account to sign up for.
            return not invitation.organization.require_sso
        return Organization.objects.exclude(signup_domains="").exists()

    def confirm_email(self, request: HttpRequest, email_address: Any) -> bool:
        confirmed = bool(super().confirm_email(request, email_address))
        if confirmed:
            join_signup_domain_organizations(email_address.user, email_address.email)
        return confirmed

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        if is_login_throttled(_login_name(credentials), client_address(request.META)):
            _signal_failure(request, credentials)
            raise self.validation_error("too_many_login_attempts")

    def authenticate(self, request: HttpRequest, **credentials: Any) -> Any:
        user = super().authenticate(request, **credentials)
        if user is None:
            return None
        forget_login_failures(_login_name(credentials))
        # Only now, after a correct password: telling a guesser earlier would confirm
        # that the account exists.
        if not local_login_allowed(user):
            _signal_failure(request, credentials)
            raise ValidationError(SSO_REQUIRED, code="sso_required")
        return user

    def pre_login(self, request: HttpRequest, user: Any, **kwargs: Any) -> Any:
        """Every allauth log-in (password, sign-up, email confirmation) meets "Require
        SSO"; single sign-on logs in without allauth and is not refused here."""
        if user.is_active and not local_login_allowed(user):
            return self._refuse_local_login(request, user)
        return super().pre_login(request, user, **kwargs)

    def login(self, request: HttpRequest, user: Any) -> None:
        # Again at the end: a log-in resumed after a stage (email confirmation) skips
        # pre_login, and confirming may just have joined an SSO organization.
        if not local_login_allowed(user):
            raise ImmediateHttpResponse(self._refuse_local_login(request, user))
        super().login(request, user)

    def _refuse_local_login(self, request: HttpRequest, user: Any) -> HttpResponse:
        from allauth.account.internal.stagekit import clear_login
        from django.contrib import messages
        from django.shortcuts import redirect

        clear_login(request)
        _signal_failure(request, {"username": user.get_username()})
        messages.error(request, SSO_REQUIRED)
        return redirect("login")

    def authentication_failed(self, request: HttpRequest, **credentials: Any) -> None:
        record_login_failure(_login_name(credentials), client_address(request.META))


def join_signup_domain_organizations(user: Any, email: str) -> None:
    """A verified address of an allowed domain makes its owner a member there."""
    from tracehound.projects.models import OrganizationMember

    for org in signup_domain_organizations(email):
        member, created = OrganizationMember.objects.get_or_create(
            organization=org, user=user, defaults={"role": "member"}
        )
        if created:
            audit.record(
                "member.add",
                actor=user,
                organization=org,
                target=member,
                target_label=user.get_username(),
                data={"role": "member", "via": "signup_domain"},
            )


class UserSessionsAdapter(DefaultUserSessionsAdapter):
    def end_sessions(self, sessions: Any) -> None:
        sessions = list(sessions)
        super().end_sessions(sessions)
        for session in sessions:
            audit.record(
                "session.revoke",
                request=context.request,
                target=session,
                target_label=f"{session.ip} {session.user_agent[:100]}",
            )
