from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from tracehound.accounts.access import get_attachment, get_issue, get_project, visible_projects
from tracehound.accounts.throttle import (
    forget_login_failures,
    is_login_throttled,
    record_login_failure,
)
from tracehound.api.downloads import attachment_response
from tracehound.api.serializers import serialize_event
from tracehound.events.models import Attachment
from tracehound.ingest.app import client_address
from tracehound.issues.models import Issue
from tracehound.issues.queries import (
    event_payload,
    format_short_id,
    issue_feedback,
    latest_event,
    short_id,
    user_counts,
)

STATUSES = ("unresolved", "resolved", "ignored")


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
    projects = (
        visible_projects(request.user)
        .annotate(issue_count=Count("issues"))
        .order_by("organization__slug", "slug")
    )
    return render(request, "tracehound/home.html", {"projects": projects})


@login_required
def project_issues(request: HttpRequest, org: str, project: str) -> HttpResponse:
    proj = get_project(request.user, org, project)
    status = request.GET.get("status", "unresolved")
    if status not in STATUSES:
        status = "unresolved"
    issues = Issue.objects.filter(project=proj, status=status).order_by("-last_seen", "-id")
    page = Paginator(issues, 50).get_page(request.GET.get("page"))
    counts = user_counts([i.id for i in page])
    rows = [
        {
            "issue": i,
            "short_id": format_short_id(proj.slug, i.short_id),
            "users": counts.get(i.id, 0),
        }
        for i in page
    ]
    key = proj.keys.filter(is_active=True).first()
    return render(
        request,
        "tracehound/project_issues.html",
        {
            "project": proj,
            "page": page,
            "rows": rows,
            "status": status,
            "statuses": STATUSES,
            "dsn": key.dsn(public_base_url(request)) if key else None,
        },
    )


@login_required
def issue_detail(request: HttpRequest, org: str, issue_id: int) -> HttpResponse:
    issue = get_issue(request.user, issue_id)
    if issue.project.organization.slug != org:
        raise Http404("issue not found")
    event = latest_event(issue)
    data = serialize_event(event, event_payload(event)) if event else None
    exceptions = []
    if data:
        for entry in data["entries"]:
            if entry["type"] == "exception":
                # Newest exception first, frames newest first: how people read a crash.
                for value in reversed(entry["data"]["values"]):
                    frames = [
                        # Pairs, not the dict: the template would read a variable
                        # named "items" instead of calling .items().
                        {**frame, "var_items": list((frame.get("vars") or {}).items())}
                        for frame in reversed((value.get("stacktrace") or {}).get("frames") or [])
                    ]
                    exceptions.append({**value, "frames": frames})
    entries = {e["type"]: e["data"] for e in data["entries"]} if data else {}
    tag_values = issue.tag_values.order_by("key", "-times_seen")[:200]
    attachments = (
        Attachment.objects.filter(project=issue.project, event_id=event.event_id).defer("data")
        if event
        else []
    )
    reports = issue_feedback(issue)
    return render(
        request,
        "tracehound/issue.html",
        {
            "issue": issue,
            "short_id": short_id(issue),
            "event": data,
            "exceptions": exceptions,
            "message": entries.get("message"),
            "breadcrumbs": (entries.get("breadcrumbs") or {}).get("values", [])[-30:],
            "request_data": entries.get("request"),
            "tag_values": tag_values,
            "user_items": list((data.get("user") or {}).items()) if data else [],
            "user_count": user_counts([issue.id]).get(issue.id, 0),
            "attachments": attachments,
            "reports": reports,
        },
    )


@login_required
def attachment_download(request: HttpRequest, org: str, attachment_id: int) -> HttpResponse:
    """The attachment's bytes as a download; never shown inline from our origin."""
    return attachment_response(get_attachment(request.user, org, attachment_id))
