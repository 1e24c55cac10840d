"""Pages of local accounts: log-in, the account page, invitations."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from allauth.account.views import LoginView as AllauthLoginView
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_http_methods

from tracehound.accounts import invitations
from tracehound.accounts.access import organization_access
from tracehound.accounts.adapter import THROTTLED, throttle_name
from tracehound.accounts.forms import InvitationForm
from tracehound.accounts.models import Invitation
from tracehound.accounts.sso import ORG_SLUG, login_providers, sso_logout_url
from tracehound.accounts.throttle import is_login_throttled
from tracehound.ingest.app import client_address
from tracehound.projects.models import Organization


@method_decorator(ensure_csrf_cookie, name="dispatch")
class LogoutView(auth_views.LogoutView):
    """Django's log-out (POST); a session that came from single sign-on is then sent to
    the provider's end_session_endpoint (RP-initiated logout) when it has one."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        provider_url = sso_logout_url(request)  # read before the session is flushed
        response = super().post(request, *args, **kwargs)
        if provider_url is None:
            return response
        # As for the SSO log-in: a page of our own with a Refresh header, since the
        # CSP's form-action 'self' would block a redirect to the provider after a POST.
        page = render(request, "sso/logout_redirect.html", {"url": provider_url})
        page["Refresh"] = f"0;url={provider_url}"
        page["Cache-Control"] = "no-store"
        return page


class LoginView(AllauthLoginView):
    """allauth's log-in (two-factor, verification) at /login/, with the SSO buttons.
    The CSRF cookie is set even when a logged-in visitor is sent on (scripts use it)."""

    template_name = "account/login.html"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = str(request.POST.get("username", ""))
        if is_login_throttled(throttle_name(username), client_address(request.META)):
            # Refused before the password is checked: a right one must not show.
            from tracehound.accounts.adapter import _signal_failure

            _signal_failure(request, {"username": username[:150]})
            form = self.get_form_class()(request=request, initial={"username": username[:150]})  # type: ignore[no-untyped-call]
            context = self.get_context_data(form=form, throttled=THROTTLED)
            return self.render_to_response(context, status=429)
        response: HttpResponse = super().post(request, *args, **kwargs)
        return response

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(**kwargs)
        org = self.request.GET.get("org")
        org = org if isinstance(org, str) and ORG_SLUG.fullmatch(org) else None
        context["sso_providers"] = login_providers(org)
        # Kept across a failed password try (echoes what was typed; says nothing more).
        context["org_query"] = urlencode({"org": org}) if org else ""
        # Someone's organization lets their email domain sign up.
        context["signup_open"] = Organization.objects.exclude(signup_domains="").exists()
        return context


@login_required
def account(request: HttpRequest) -> HttpResponse:
    from allauth.mfa.models import Authenticator

    has_totp = Authenticator.objects.filter(
        user=request.user, type=Authenticator.Type.TOTP
    ).exists()
    return render(request, "account/overview.html", {"has_totp": has_totp})


def _invitation_error(request: HttpRequest, error: invitations.InvitationError) -> HttpResponse:
    return render(
        request, "account/invitation_invalid.html", {"message": str(error)}, status=error.status
    )


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the invitation; POST (logged in) joins. A visitor without an account
    signs up with the invited address; one with an account logs in first."""
    try:
        invitation = invitations.find_invitation(token)
    except invitations.InvitationError as error:
        return _invitation_error(request, error)
    if request.user.is_authenticated:
        if not invitations.has_address(request.user, invitation.email):
            return _invitation_error(request, invitations.wrong_account_error(invitation))
        if request.method == "POST":
            try:
                invitations.accept_invitation(invitation, request.user, request)
            except invitations.InvitationError as error:
                return _invitation_error(request, error)
            messages.success(request, f"You joined {invitation.organization.name}.")
            return redirect("home")
        return render(request, "account/invitation.html", {"invitation": invitation})
    if request.method == "POST":
        return redirect(request.path)
    if invitation.organization.require_sso:
        # Its members log in through single sign-on: no sign-up, no stashed invitation.
        login_url = (
            reverse("login")
            + "?"
            + urlencode({"org": invitation.organization.slug, "next": request.path})
        )
        return render(
            request,
            "account/invitation.html",
            {"invitation": invitation, "sso_login_url": login_url},
        )
    invitations.remember_invitation(request, invitation)
    has_account = (
        get_user_model().objects.filter(email__iexact=invitation.email, is_active=True).exists()
    )
    return render(
        request,
        "account/invitation.html",
        {"invitation": invitation, "has_account": has_account},
    )


@login_required
@require_http_methods(["GET", "POST"])
def organization_invitations(request: HttpRequest, org: str) -> HttpResponse:
    """Pending invitations of an organization: invite, send again, withdraw."""
    access = organization_access(request, org, scope="member:write")
    organization = access.organization
    teams = list(organization.teams.order_by("slug"))
    form = InvitationForm(
        roles=invitations.invitable_roles(access),
        teams=[(t.slug, t.name) for t in teams],
    )
    link = None
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "invite":
            form = InvitationForm(
                request.POST,
                roles=invitations.invitable_roles(access),
                teams=[(t.slug, t.name) for t in teams],
            )
            if form.is_valid():
                chosen = [t for t in teams if t.slug in form.cleaned_data["teams"]]
                try:
                    invitation, link = invitations.invite(
                        organization,
                        form.cleaned_data["email"],
                        form.cleaned_data["role"],
                        chosen,
                        request.user,
                        request,
                    )
                except invitations.InvitationError as error:
                    form.add_error("email", str(error))
                else:
                    messages.success(request, f"Invitation sent to {invitation.email}.")
                    form = InvitationForm(
                        roles=invitations.invitable_roles(access),
                        teams=[(t.slug, t.name) for t in teams],
                    )
        elif action in ("revoke", "resend"):
            invitation = _pending(organization, request.POST.get("invitation", ""))
            try:
                invitations.require_manageable(invitation, access)
            except invitations.InvitationError as error:
                return _invitation_error(request, error)
            if action == "revoke":
                invitations.revoke(invitation, request)
                messages.success(request, f"Invitation to {invitation.email} withdrawn.")
                return redirect(request.path)
            else:
                link = invitations.resend(invitation, request)
                messages.success(request, f"Invitation sent again to {invitation.email}.")
        else:
            return render(
                request,
                "account/invitation_invalid.html",
                {"message": "Unknown action."},
                status=400,
            )
    pending = (
        Invitation.objects.filter(
            organization=organization,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .select_related("invited_by")
        .prefetch_related("teams")
        .order_by("-created_at")
    )
    status = 400 if form.errors else 200
    return render(
        request,
        "account/organization_invitations.html",
        {
            "org": organization,
            "access": access,
            "form": form,
            "pending": pending,
            "link": link,
            "manageable_roles": invitations.invitable_roles(access),
        },
        status=status,
    )


def _pending(organization: Any, raw_id: str) -> Invitation:
    invitation = (
        Invitation.objects.filter(
            organization=organization,
            pk=int(raw_id) if raw_id.isdigit() and len(raw_id) < 18 else -1,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
        )
        .select_related("organization")
        .first()
    )
    if invitation is None:
        raise Http404("invitation not found")
    return invitation
