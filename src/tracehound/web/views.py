from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tracehound.accounts.access import get_attachment, visible_projects
from tracehound.accounts.throttle import (
    forget_login_failures,
    is_login_throttled,
    record_login_failure,
)
from tracehound.api.downloads import attachment_response
from tracehound.ingest.app import client_address


def public_base_url(request: HttpRequest) -> str:
    """BASE_URL, or when it is unset the URL this page was reached at (so DSNs match it)."""
    if settings.BASE_URL_IS_SET:
        return str(settings.BASE_URL)
    return request.build_absolute_uri("/")


class LoginView(auth_views.LoginView):
    """Django's log-in, refusing attempts once an account or an address failed too often."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = str(request.POST.get("username", ""))
        if is_login_throttled(username, client_address(request.META)):
            # An unbound form: checking the password now would tell a guesser it was right.
            form = self.get_form_class()(request, initial={"username": username[:150]})
            context = self.get_context_data(form=form, throttled=True)
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        forget_login_failures(form.get_user().get_username())
        return super().form_valid(form)

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        username = str(self.request.POST.get("username", ""))
        record_login_failure(username, client_address(self.request.META))
        return super().form_invalid(form)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The caller's projects, grouped by organization; a user in no organization is told
    so and whom to ask."""
    from tracehound.web.org_settings import my_organizations

    projects = visible_projects(request).annotate(issue_count=Count("issues"))
    organizations = my_organizations(request, projects)
    return render(request, "tracehound/home.html", {"organizations": organizations})


@login_required
def attachment_download(request: HttpRequest, org: str, attachment_id: int) -> HttpResponse:
    """The attachment's bytes as a download; never shown inline from our origin."""
    return attachment_response(get_attachment(request, org, attachment_id))
