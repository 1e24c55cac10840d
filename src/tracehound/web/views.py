from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tracehound.accounts.access import get_attachment, visible_projects
from tracehound.api.downloads import attachment_response


def public_base_url(request: HttpRequest) -> str:
    """BASE_URL, or when it is unset the URL this page was reached at (so DSNs match it)."""
    if settings.BASE_URL_IS_SET:
        return str(settings.BASE_URL)
    return request.build_absolute_uri("/")


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
