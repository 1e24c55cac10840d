"""Single sign-on pages: start a login, the provider's callback, the no-access page, and
the organization's SSO settings (providers and group mappings)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from tracehound.accounts import audit, sso
from tracehound.accounts.access import ROLES, organization_access
from tracehound.accounts.models import ExternalIdentity, GroupMapping, SsoProvider
from tracehound.accounts.sso import SsoError
from tracehound.accounts.sso_login import read_claims, sign_in
from tracehound.accounts.sso_mapping import (
    MAX_GROUP_LENGTH,
    remove_group_mapping,
    set_group_mapping,
)
from tracehound.lib import secrets_box
from tracehound.lib.ids import parse_id
from tracehound.projects.models import Organization, Team

SESSION_NEXT = "sso_next"


def failure(request: HttpRequest, provider_name: str, slug: str, error: SsoError) -> HttpResponse:
    audit.record(
        "login.sso_failed",
        request=request,
        actor_label=f"sso:{slug}"[:200],
        data={"provider": slug, "reason": error.message[:500]},
    )
    context = {"provider_name": provider_name, "message": error.message}
    return render(request, "sso/error.html", context, status=error.status)


def provider_or_404(slug: str) -> sso.Provider:
    provider = sso.get_provider(slug)
    if provider is None:
        raise Http404("No such sign-in provider")
    return provider


@require_POST
def sso_login(request: HttpRequest, slug: str) -> HttpResponse:
    """Start the flow (a POST, so the login form's CSRF token protects it)."""
    try:
        provider = provider_or_404(slug)
    except SsoError as exc:
        return failure(request, slug, slug, exc)
    target = str(request.POST.get("next") or request.GET.get("next") or "")
    safe = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    request.session[SESSION_NEXT] = target if safe and target.startswith("/") else ""
    try:
        url = sso.start_login(request, provider)
    except SsoError as exc:
        return failure(request, provider.name, slug, exc)
    # Not a redirect: browsers apply the login page's CSP `form-action 'self'` to the
    # redirects that follow a form's POST, which would block the provider's origin. A
    # page of our own moves on with a Refresh header, a navigation that rule does not
    # cover (and a link, should a browser ignore it).
    response = render(request, "sso/redirect.html", {"url": url, "name": provider.name})
    response["Refresh"] = f"0;url={url}"
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def sso_callback(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        provider = provider_or_404(slug)
    except SsoError as exc:
        return failure(request, slug, slug, exc)
    try:
        raw, id_token = sso.finish_login(request, provider)
        outcome = sign_in(request, provider, read_claims(raw, provider.groups_claim))
    except SsoError as exc:
        return failure(request, provider.name, slug, exc)
    except IntegrityError:  # the same person's first login, twice at once
        busy = SsoError("Another sign-in for this account was in progress; try again.", 409)
        return failure(request, provider.name, slug, busy)
    target = request.session.pop(SESSION_NEXT, "") or reverse("home")
    # The login signal's receivers (the audit log) read which provider it was; a
    # second factor configured for password login does not apply here.
    request.sso_provider = slug  # type: ignore[attr-defined]
    login(request, outcome.user, backend="django.contrib.auth.backends.ModelBackend")
    request.session[sso.SESSION_PROVIDER] = slug
    request.session[sso.SESSION_ID_TOKEN] = id_token
    user = outcome.user
    if not user.is_superuser and not user.memberships.exists():
        return HttpResponseRedirect(reverse("sso-no-access"))
    return HttpResponseRedirect(target)


@login_required
def no_access(request: HttpRequest) -> HttpResponse:
    identities = ExternalIdentity.objects.filter(user_id=int(request.user.pk or 0))
    identity = identities.order_by("-last_login_at").first()
    groups = identity.groups if identity is not None else []
    return render(request, "sso/no_access.html", {"groups": groups}, status=403)


# Organization settings: providers and group mappings (owners).


TRUSTED_EMAIL_HELP = (
    "A first login links to the existing account with the same verified email (never a"
    " superuser, staff user or member of another organization)."
)
TRUSTED_EMAIL_SUPERUSER_ONLY = (
    "Only a server administrator (superuser) can turn this on: whoever controls the"
    " provider could otherwise log in as any account whose email address they enter there."
)


class ProviderForm(forms.Form):
    name = forms.CharField(max_length=100)
    slug = forms.SlugField(max_length=50, help_text="in the redirect URI: /sso/<slug>/callback/")
    issuer = forms.URLField(max_length=500, assume_scheme="https")
    client_id = forms.CharField(max_length=255, label="Client ID")
    client_secret = forms.CharField(
        max_length=1000, widget=forms.PasswordInput(render_value=False), label="Client secret"
    )
    scopes = forms.CharField(max_length=255, initial="openid email profile groups")
    groups_claim = forms.CharField(max_length=100, initial="groups")
    token_auth = forms.ChoiceField(choices=SsoProvider.TokenAuth.choices)
    trusted_email = forms.BooleanField(
        required=False,
        label="Link existing accounts by verified email",
        help_text=TRUSTED_EMAIL_HELP,
    )

    def __init__(self, *args: Any, superuser: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.superuser = superuser
        if not superuser:
            field = self.fields["trusted_email"]
            field.widget.attrs["disabled"] = True
            field.help_text = TRUSTED_EMAIL_SUPERUSER_ONLY

    def clean_trusted_email(self) -> bool:
        trusted = bool(self.cleaned_data.get("trusted_email"))
        if trusted and not self.superuser:
            raise forms.ValidationError(TRUSTED_EMAIL_SUPERUSER_ONLY)
        return trusted

    def clean_slug(self) -> str:
        slug = str(self.cleaned_data["slug"]).lower()
        if slug == sso.ENV_SLUG or SsoProvider.objects.filter(slug=slug).exists():
            raise forms.ValidationError(f"The slug {slug!r} is taken; choose another.")
        return slug

    def clean_issuer(self) -> str:
        issuer = str(self.cleaned_data["issuer"]).rstrip("/")
        parts = urlsplit(issuer)
        if parts.scheme not in ("http", "https") or parts.query or parts.fragment:
            raise forms.ValidationError("The issuer is an http(s) URL without query.")
        return issuer

    def clean_scopes(self) -> str:
        scopes = str(self.cleaned_data["scopes"]).split()
        if "openid" not in scopes:
            raise forms.ValidationError("The scopes must include openid.")
        return " ".join(scopes)


class MappingForm(forms.Form):
    provider_slug = forms.ChoiceField(required=False, label="Provider")
    group = forms.CharField(max_length=MAX_GROUP_LENGTH)
    role = forms.ChoiceField(choices=[(r, r) for r in ROLES])
    teams = forms.ModelMultipleChoiceField(queryset=Team.objects.none(), required=False)

    def __init__(self, org: Organization, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "any provider")]
        if sso.env_provider() is not None:
            choices.append((sso.ENV_SLUG, sso.ENV_SLUG))
        choices += [(p.slug, p.slug) for p in org.sso_providers.order_by("slug")]
        self.fields["provider_slug"].choices = choices  # type: ignore[attr-defined]
        self.fields["teams"].queryset = org.teams.order_by("slug")  # type: ignore[attr-defined]


@login_required
def sso_settings(request: HttpRequest, org: str) -> HttpResponse:
    access = organization_access(request, org, "org:admin")
    organization = access.organization
    superuser = bool(request.user.is_superuser)
    provider_form = ProviderForm(prefix="provider", superuser=superuser)
    mapping_form = MappingForm(organization, prefix="mapping")
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "add-provider":
            provider_form = ProviderForm(request.POST, prefix="provider", superuser=superuser)
            if provider_form.is_valid():
                add_provider(request, organization, provider_form.cleaned_data)
                messages.success(request, "Provider added.")
                return HttpResponseRedirect(request.path)
        elif action in ("enable", "disable", "delete-provider"):
            row = get_object_or_404(
                SsoProvider, organization=organization, pk=parse_id(request.POST.get("id", ""))
            )
            change_provider(request, row, action)
            return HttpResponseRedirect(request.path)
        elif action == "add-mapping":
            mapping_form = MappingForm(organization, request.POST, prefix="mapping")
            if mapping_form.is_valid():
                data = mapping_form.cleaned_data
                set_group_mapping(
                    organization,
                    data["group"],
                    data["role"],
                    data["teams"],
                    provider_slug=data["provider_slug"],
                    request=request,
                )
                messages.success(request, f"Group {data['group']!r} mapped.")
                return HttpResponseRedirect(request.path)
        elif action == "delete-mapping":
            mapping = get_object_or_404(
                GroupMapping, organization=organization, pk=parse_id(request.POST.get("id", ""))
            )
            remove_group_mapping(mapping, request=request)
            return HttpResponseRedirect(request.path)
        else:
            return HttpResponse("Unknown action", status=400, content_type="text/plain")
    env = sso.env_provider()
    providers = [
        {"row": row, "redirect_uri": sso.redirect_uri(row.slug)}
        for row in organization.sso_providers.order_by("name", "slug")
    ]
    context = {
        "org": organization,
        "access": access,
        "env_provider": env,
        "org_login_url": sso.org_login_url(organization.slug),
        "providers": providers,
        "mappings": organization.group_mappings.prefetch_related("teams").order_by(
            "provider_slug", "group"
        ),
        "provider_form": provider_form,
        "mapping_form": mapping_form,
    }
    status = 400 if provider_form.errors or mapping_form.errors else 200
    return render(request, "sso/settings.html", context, status=status)


def add_provider(request: HttpRequest, organization: Organization, data: dict[str, Any]) -> None:
    with transaction.atomic():
        row = SsoProvider.objects.create(
            organization=organization,
            slug=data["slug"],
            name=data["name"],
            issuer=data["issuer"],
            client_id=data["client_id"],
            client_secret_encrypted=secrets_box.encrypt(data["client_secret"]),
            scopes=data["scopes"],
            groups_claim=data["groups_claim"],
            token_auth=data["token_auth"],
            trusted_email=data["trusted_email"],
        )
        audit.record(
            "sso.provider",
            request=request,
            organization=organization,
            target=row,
            target_label=row.slug,
            data={"change": "added", "issuer": row.issuer, "trusted_email": row.trusted_email},
        )


def change_provider(request: HttpRequest, row: SsoProvider, action: str) -> None:
    with transaction.atomic():
        audit.record(
            "sso.provider",
            request=request,
            organization=row.organization,
            target=row,
            target_label=row.slug,
            data={"change": {"delete-provider": "deleted"}.get(action, action + "d")},
        )
        if action == "delete-provider":
            row.delete()
        else:
            row.enabled = action == "enable"
            row.save(update_fields=["enabled"])
