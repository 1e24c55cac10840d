"""Forms of local accounts."""

from __future__ import annotations

from typing import Any

from allauth.account import app_settings as allauth_settings
from allauth.account.forms import LoginForm as AllauthLoginForm
from allauth.account.forms import SignupForm as AllauthSignupForm
from allauth.core import context
from django import forms
from django.core.validators import MaxLengthValidator

from tracehound.accounts.adapter import has_unverified_signup, signup_domain_organizations


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
