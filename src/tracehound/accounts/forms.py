"""Forms of local accounts."""

from __future__ import annotations

from typing import Any

from allauth.account import app_settings as allauth_settings
from allauth.account.forms import LoginForm as AllauthLoginForm
from allauth.account.forms import ResetPasswordForm as AllauthResetPasswordForm
from allauth.account.forms import ResetPasswordKeyForm as AllauthResetPasswordKeyForm
from allauth.account.forms import SetPasswordForm as AllauthSetPasswordForm
from allauth.account.forms import SignupForm as AllauthSignupForm
from allauth.core import context
from allauth.mfa.base.forms import AuthenticateForm as AllauthMfaAuthenticateForm
from allauth.mfa.base.forms import ReauthenticateForm as AllauthMfaReauthenticateForm
from django import forms
from django.core.validators import MaxLengthValidator

from tracehound.accounts.adapter import has_unverified_signup, signup_domain_organizations
from tracehound.accounts.policy import sso_only
from tracehound.accounts.throttle import (
    forget_mfa_failures,
    is_mfa_throttled,
    record_mfa_failure,
)
from tracehound.ingest.app import client_address

MFA_THROTTLED = (
    "Too many wrong codes for this account or from this address. Try again in 15 minutes."
)


class LoginForm(AllauthLoginForm):
    """allauth's log-in with the field named `username` (it takes a username or an
    email address), as scripts and password managers already fill it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: dict[str, forms.Field] = self.fields
        field = fields.pop("login")
        # Longer is no user name or address of ours; SQLite's LIKE refuses huge ones.
        field.validators.append(MaxLengthValidator(254))
        field.widget.attrs.update({"autocomplete": "username", "autofocus": True})
        self.fields = {"username": field, **fields}

    def clean_username(self) -> str:
        return str(self.cleaned_data["username"]).strip()

    def user_credentials(self) -> dict[str, Any]:
        credentials: dict[str, Any] = super().user_credentials()
        if "email" in credentials:
            # allauth would also try the address as a user name, which checks the password
            # twice for a known address and once for an unknown one: a timing leak.
            credentials.pop("username", None)
        return credentials

    def clean(self) -> dict[str, Any]:
        if "username" in self.cleaned_data:
            self.cleaned_data["login"] = self.cleaned_data["username"]
        cleaned: dict[str, Any] = super().clean()  # type: ignore[no-untyped-call]
        login = getattr(self, "_login", None)
        if login is not None and not has_unverified_signup(login.user):
            # Verification is for sign-ups (see settings); other accounts log straight in.
            login.email_verification = allauth_settings.EmailVerificationMethod.NONE
        return cleaned


class InvitationForm(forms.Form):
    email = forms.EmailField(max_length=254)
    role = forms.ChoiceField(choices=[])
    teams = forms.MultipleChoiceField(choices=[], required=False)

    def __init__(self, *args: Any, roles: list[str], teams: list[tuple[str, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        role: Any = self.fields["role"]
        role.choices = [(r, r.capitalize()) for r in roles]
        chosen: Any = self.fields["teams"]
        chosen.choices = teams


class SignupForm(AllauthSignupForm):
    """allauth's sign-up, with the invited address filled in."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from tracehound.accounts.invitations import pending_invitation

        super().__init__(*args, **kwargs)
        invitation = pending_invitation(context.request)
        if invitation is not None:
            self.initial["email"] = invitation.email

    def clean_email(self) -> str:
        from tracehound.accounts.invitations import pending_invitation

        email = str(super().clean_email())
        invitation = pending_invitation(context.request)
        if invitation is not None:
            if email.lower() != invitation.email.lower():
                raise forms.ValidationError("Sign up with the address the invitation was sent to.")
            return email
        if not signup_domain_organizations(email):
            raise forms.ValidationError("Sign-up is by invitation only for this email address.")
        return email


class ThrottledCodeMixin:
    """Wrong two-factor codes (TOTP or recovery) are limited as passwords are: past the
    limit, every code is refused, a right one too, until the window moves on."""

    user: Any

    def clean_code(self) -> str:
        address = client_address(context.request.META)
        if is_mfa_throttled(self.user.pk, address):
            raise forms.ValidationError(MFA_THROTTLED, code="too_many_login_attempts")
        try:
            code: str = super().clean_code()  # type: ignore[misc]
        except forms.ValidationError:
            record_mfa_failure(self.user.pk, address)
            raise
        forget_mfa_failures(self.user.pk)
        return code


class MfaAuthenticateForm(ThrottledCodeMixin, AllauthMfaAuthenticateForm):
    pass


class MfaReauthenticateForm(ThrottledCodeMixin, AllauthMfaReauthenticateForm):
    pass


class ResetPasswordForm(AllauthResetPasswordForm):
    """A user of single sign-on without a local password gets none by email: the form
    answers as for an unknown address (allauth's no-enumeration path)."""

    def clean_email(self) -> str:
        email = str(super().clean_email())
        self.users = [user for user in self.users if not sso_only(user)]
        return email


class SetPasswordForm(AllauthSetPasswordForm):
    def clean(self) -> dict[str, Any]:
        if self.user is not None and sso_only(self.user):
            raise forms.ValidationError(SSO_NO_PASSWORD)
        cleaned: dict[str, Any] = super().clean()  # type: ignore[no-untyped-call]
        return cleaned


class ResetPasswordKeyForm(AllauthResetPasswordKeyForm):
    """A reset link sent before SSO made the account (or before this check) sets none."""

    def clean(self) -> dict[str, Any]:
        if self.user is not None and sso_only(self.user):
            raise forms.ValidationError(SSO_NO_PASSWORD)
        cleaned: dict[str, Any] = super().clean()  # type: ignore[no-untyped-call]
        return cleaned


SSO_NO_PASSWORD = (
    "Your account signs in through single sign-on and cannot have a local password:"
    " your identity provider ends access when you leave."
)
