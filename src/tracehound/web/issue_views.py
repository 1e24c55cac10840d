"""The issue page: an event of the issue, its status, chart, facets, activity, hashes,
and the forms that change it. Every change goes through one issues.actions function;
refused input (ActionError) is shown on the page with status 400 and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from tracehound.accounts.access import get_issue
from tracehound.api.serializers import serialize_event
from tracehound.events.models import Attachment, Event
from tracehound.issues import actions
from tracehound.issues.actions import ActionError
from tracehound.issues.models import Issue, IssueBookmark, Release
from tracehound.issues.queries import (
    event_of_issue,
    event_payload,
    issue_feedback,
    latest_event,
    short_id,
)
from tracehound.issues.stats import issue_series
from tracehound.lib.ids import parse_id
from tracehound.projects.models import OrganizationMember, Team
from tracehound.web.charts import bar_chart
from tracehound.web.triage import (
    DURATIONS,
    WINDOWS,
    activity_entries,
    event_navigation,
    linked_hashes,
    parse_event_id,
    status_text,
    tag_facets,
)

PERIODS = {"24h": "Last 24 hours", "14d": "Last 14 days", "90d": "Last 90 days"}


def issue_for(request: HttpRequest, org: str, issue_id: int, scope: str = "event:read") -> Issue:
    """The issue, if the user may see it and it belongs to `org` (else 404); 403 naming
    `scope` if their role lacks it."""
    return get_issue(request, issue_id, scope=scope, org_slug=org)


def issue_url(issue: Issue) -> str:
    return reverse("issue", args=[issue.project.organization.slug, issue.id])


def event_url(issue: Issue, event_id: str) -> str:
    return reverse("issue-event", args=[issue.project.organization.slug, issue.id, event_id])


def exceptions_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    exceptions = []
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
    return exceptions


def event_context(issue: Issue, event: Event | None) -> dict[str, Any]:
    """What the page shows of one event (the payload read defensively by the serializer)."""
    if event is None:
        return {"event": None}
    data = serialize_event(event, event_payload(event))
    entries = {e["type"]: e["data"] for e in data["entries"]}
    return {
        "event": data,
        "navigation": event_navigation(issue, event),
        "exceptions": exceptions_of(data),
        "message": entries.get("message"),
        "breadcrumbs": (entries.get("breadcrumbs") or {}).get("values", [])[-30:],
        "request_data": entries.get("request"),
        "user_items": list((data.get("user") or {}).items()),
        "attachments": Attachment.objects.filter(
            project=issue.project, event_id=event.event_id
        ).defer("data"),
    }


def project_releases(issue: Issue, limit: int = 100) -> list[str]:
    """Release versions of the issue's project, newest first (semver, else first seen)."""
    return list(
        Release.objects.filter(project_id=issue.project_id)
        .order_by(
            F("major").desc(nulls_last=True),
            F("minor").desc(nulls_last=True),
            F("patch").desc(nulls_last=True),
            F("revision").desc(nulls_last=True),
            "-first_seen",
        )
        .values_list("version", flat=True)[:limit]
    )


SHOWN_NOTIFICATIONS = 20


def linked_tickets(issue: Issue) -> list[dict[str, Any]]:
    """Tickets channels made for the issue (Jira, GitHub); a link only when it is http(s)."""
    from tracehound.alerts.models import ExternalIssueLink

    rows = ExternalIssueLink.objects.filter(issue=issue).select_related("channel")
    return [
        {
            "channel": link.channel.name,
            "key": link.external_key or link.external_id,
            "url": link.url if link.url.startswith(("https://", "http://")) else "",
        }
        for link in rows.order_by("id")[:SHOWN_NOTIFICATIONS]
    ]


def notification_history(issue: Issue) -> list[Any]:
    """The issue's latest notifications (one query, capped)."""
    from tracehound.alerts.models import Notification

    rows = Notification.objects.filter(issue=issue).select_related("channel")
    return list(
        rows.only(
            "kind", "state", "attempts", "last_error", "created_at", "delivered_at", "channel__name"
        ).order_by("-created_at")[:SHOWN_NOTIFICATIONS]
    )


def render_issue(
    request: HttpRequest,
    issue: Issue,
    event: Event | None,
    *,
    error: ActionError | None = None,
    status: int = 200,
) -> HttpResponse:
    period = request.GET.get("period", "24h")
    if period not in PERIODS:
        period = "24h"
    series = issue_series([issue.id], period).get(issue.id, [])
    members = (
        OrganizationMember.objects.filter(organization_id=issue.project.organization_id)
        .select_related("user")
        .order_by("user__username")
    )
    user: Any = request.user  # a logged-in User: the views are login_required
    context = {
        "issue": issue,
        "short_id": short_id(issue),
        "status_text": status_text(issue),
        "error": error,
        "period": period,
        "periods": PERIODS,
        # charts.py escapes every text it writes.
        "chart": mark_safe(bar_chart(series, label=PERIODS[period])),  # noqa: S308
        "facets": tag_facets(issue),
        "activities": activity_entries(issue),
        "hashes": linked_hashes(issue),
        "releases": project_releases(issue),
        "members": [m.user for m in members],
        "teams": Team.objects.filter(project_links__project_id=issue.project_id).order_by("slug"),
        "durations": DURATIONS,
        "windows": WINDOWS,
        "is_bookmarked": IssueBookmark.objects.filter(issue=issue, user=user).exists(),
        "reports": issue_feedback(issue),
        "tickets": linked_tickets(issue),
        "notifications": notification_history(issue),
        **event_context(issue, event),
    }
    return render(request, "tracehound/issue.html", context, status=status)


@login_required
def issue_detail(request: HttpRequest, org: str, issue_id: int) -> HttpResponse:
    """The issue with its latest event."""
    issue = issue_for(request, org, issue_id)
    actions.mark_seen(issue, request.user)
    return render_issue(request, issue, latest_event(issue))


@login_required
def issue_event(request: HttpRequest, org: str, issue_id: int, event_id: str) -> HttpResponse:
    """The issue with one of its events: by event id, or latest, oldest, recommended."""
    issue = issue_for(request, org, issue_id)
    named = event_id if event_id in ("latest", "oldest", "recommended") else None
    wanted = named or parse_event_id(event_id)
    event = event_of_issue(issue, wanted) if wanted else None
    if event is None:
        raise Http404("event not found")
    actions.mark_seen(issue, request.user)
    return render_issue(request, issue, event)


# The forms: each reads its fields and calls one action. Field names are the API's
# (statusDetails, assignedTo), so an ActionError's field names the form field too.


def whole_number(request: HttpRequest, field: str) -> int | None:
    """A positive whole number from the form, None when left empty."""
    text = str(request.POST.get(field, "")).strip()
    if not text:
        return None
    number = parse_id(text)
    if number is None:
        raise ActionError(field, f"{field} must be a whole number from 1 to {2**63 - 1}")
    return number


def do_resolve(request: HttpRequest, issue: Issue) -> str:
    how = request.POST.get("resolve", "now")
    if how == "now":
        actions.resolve(issue, request.user)
        return "Resolved."
    if how == "inNextRelease":
        actions.resolve(issue, request.user, in_next_release=True)
        return "Resolved in the next release."
    if how == "inRelease":
        release = str(request.POST.get("inRelease", ""))
        if not release:
            raise ActionError("inRelease", "choose the release the issue was fixed in")
        actions.resolve(issue, request.user, in_release=release)
        return f"Resolved in {release}."
    raise ActionError("resolve", "resolve must be now, inNextRelease or inRelease")


def do_unresolve(request: HttpRequest, issue: Issue) -> str:
    actions.unresolve(issue, request.user)
    return "Unresolved."


def do_ignore(request: HttpRequest, issue: Issue) -> str:
    actions.ignore(
        issue,
        request.user,
        duration_minutes=whole_number(request, "ignoreDuration"),
        count=whole_number(request, "ignoreCount"),
        window_minutes=whole_number(request, "ignoreWindow"),
        user_count=whole_number(request, "ignoreUserCount"),
        user_window_minutes=whole_number(request, "ignoreUserWindow"),
    )
    return "Ignored."


def do_assign(request: HttpRequest, issue: Issue) -> str:
    text = str(request.POST.get("assignedTo", "")).strip()
    if not text:
        actions.assign(issue, request.user, None)
        return "Unassigned."
    if text.startswith("team:"):
        team_pk = parse_id(text[5:])
        team = (
            Team.objects.filter(pk=team_pk, project_links__project_id=issue.project_id).first()
            if team_pk
            else None
        )
        if team is None:
            raise ActionError("assignedTo", "choose a team of this project")
        actions.assign(issue, request.user, team)
        return f"Assigned to #{team.slug}."
    pk = parse_id(text)
    # Only among the organization's members: another organization's user and an id that
    # does not exist get the same answer, so the form tells nothing about who exists.
    members = get_user_model().objects.filter(
        memberships__organization_id=issue.project.organization_id
    )
    assignee = members.filter(pk=pk).first() if pk else None
    if assignee is None:
        raise ActionError("assignedTo", "choose a member of this organization")
    actions.assign(issue, request.user, assignee)
    return f"Assigned to {assignee.get_username()}."


def do_review(request: HttpRequest, issue: Issue) -> str:
    actions.mark_reviewed(issue, request.user)
    return "Marked reviewed."


def do_bookmark(request: HttpRequest, issue: Issue) -> str:
    bookmarked = request.POST.get("isBookmarked") == "1"
    actions.set_bookmark(issue, request.user, bookmarked)
    return "Bookmarked." if bookmarked else "Bookmark removed."


def do_comment(request: HttpRequest, issue: Issue) -> str:
    actions.add_comment(issue, request.user, str(request.POST.get("text", "")))
    return "Comment added."


def do_unmerge(request: HttpRequest, issue: Issue) -> str:
    hashes = [str(h) for h in request.POST.getlist("hash")]
    if not hashes:
        raise ActionError("hash", "tick the hashes to split off into a new issue")
    new = actions.unmerge(issue, request.user, hashes)
    return f"Split {len(hashes)} of its hashes off into {short_id(new)}."


def refuse_nul(request: HttpRequest) -> None:
    """No stored text holds NUL, and PostgreSQL refuses it in a parameter: a clear 400."""
    for field, values in request.POST.lists():
        if any("\x00" in value for value in values):
            raise ActionError(field, "must not contain NUL characters")


ISSUE_ACTIONS: dict[str, Callable[[HttpRequest, Issue], str]] = {
    "resolve": do_resolve,
    "unresolve": do_unresolve,
    "ignore": do_ignore,
    "assign": do_assign,
    "review": do_review,
    "bookmark": do_bookmark,
    "comment": do_comment,
    "unmerge": do_unmerge,
}


@login_required
@require_POST
def issue_action(request: HttpRequest, org: str, issue_id: int, action: str) -> HttpResponse:
    issue = issue_for(request, org, issue_id, scope="event:write")
    handler = ISSUE_ACTIONS.get(action)
    if handler is None:
        raise Http404("no such action")
    try:
        refuse_nul(request)
        done = handler(request, issue)
    except Issue.DoesNotExist:
        raise Http404("issue not found") from None  # deleted by someone else meanwhile
    except ActionError as error:
        issue.refresh_from_db()
        return render_issue(request, issue, latest_event(issue), error=error, status=400)
    messages.success(request, done)
    return redirect(issue_url(issue))
