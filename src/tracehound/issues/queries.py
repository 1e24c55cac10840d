"""Read-side helpers shared by the API and the UI."""

from __future__ import annotations

from typing import Any

import orjson

from tracehound.events.codec import decode_payload
from tracehound.events.models import Event, UserReport
from tracehound.issues.models import Issue

# Crockford-style base32, as in short ids like BACKEND-1A.
ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTVWXYZ"


def format_short_id(project_slug: str, number: int) -> str:
    n, digits = number, ""
    while True:
        n, rem = divmod(n, 32)
        digits = ALPHABET[rem] + digits
        if n == 0:
            break
    return f"{project_slug.upper()}-{digits}"


def short_id(issue: Issue) -> str:
    return format_short_id(issue.project.slug, issue.short_id)


def issue_feedback(issue: Issue, limit: int = 20) -> list[UserReport]:
    """Feedback about this issue's events; scales with feedback, not with events."""
    recent = list(
        UserReport.objects.filter(project_id=issue.project_id)
        .exclude(event_id="")
        .order_by("-id")[:500]
    )
    # The issue is checked here, not in SQL: with `issue_id = ?` in the statement SQLite's
    # planner (after ANALYZE) walked all of a hot issue's events instead of probing the
    # (project, event_id) index once per id: 213 ms for a 150,000-event issue.
    found = Event.objects.filter(
        project_id=issue.project_id, event_id__in=[r.event_id for r in recent]
    ).values_list("event_id", "issue_id")
    mine = {event_id for event_id, issue_id in found if issue_id == issue.pk}
    return [r for r in recent if r.event_id in mine][:limit]


def latest_event(issue: Issue) -> Event | None:
    return Event.objects.filter(issue=issue).order_by("-id").first()


# Event navigation: an issue's events in id (arrival) order, each step one probe of the
# (issue, -id) index.


def oldest_event(issue: Issue) -> Event | None:
    return Event.objects.filter(issue=issue).order_by("id").first()


def previous_event(issue: Issue, event: Event) -> Event | None:
    return Event.objects.filter(issue=issue, id__lt=event.id).order_by("-id").first()


def next_event(issue: Issue, event: Event) -> Event | None:
    return Event.objects.filter(issue=issue, id__gt=event.id).order_by("id").first()


def neighbour_event_ids(issue: Issue, event: Event) -> tuple[str | None, str | None]:
    """The event ids just before and just after `event` in `issue`, or None at an end."""
    older = (
        Event.objects.filter(issue=issue, id__lt=event.id)
        .order_by("-id")
        .values_list("event_id", flat=True)
        .first()
    )
    newer = (
        Event.objects.filter(issue=issue, id__gt=event.id)
        .order_by("id")
        .values_list("event_id", flat=True)
        .first()
    )
    return older, newer


RECOMMENDED_CANDIDATES = 50


def recommended_event(issue: Issue) -> Event | None:
    """Sentry's "recommended" event: a recent one with the most context.

    Our rule: of the issue's RECOMMENDED_CANDIDATES newest events, the one with the
    largest stored payload (stack traces with source context, breadcrumbs, request, user
    and tags all make it larger), the newest among equals. It reads sizes, not payloads.
    """
    from django.db.models.functions import Length

    candidates = (
        Event.objects.filter(issue=issue)
        .order_by("-id")
        .annotate(size=Length("payload"))
        .values_list("id", "size")[:RECOMMENDED_CANDIDATES]
    )
    best = max(candidates, key=lambda row: (row[1] or 0, row[0]), default=None)
    return Event.objects.get(pk=best[0]) if best is not None else None


def event_of_issue(issue: Issue, event_id: str) -> Event | None:
    """`latest`, `oldest`, `recommended` or a 32-hex event id of this issue."""
    if event_id == "latest":
        return latest_event(issue)
    if event_id == "oldest":
        return oldest_event(issue)
    if event_id == "recommended":
        return recommended_event(issue)
    return Event.objects.filter(project_id=issue.project_id, event_id=event_id, issue=issue).first()


def event_payload(event: Event) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(decode_payload(bytes(event.payload)))
    return data


def user_counts(issue_ids: list[int]) -> dict[int, int]:
    """Distinct users per issue: the counter digest keeps (Issue.users_seen), O(1) each."""
    rows = Issue.objects.filter(id__in=issue_ids).values_list("id", "users_seen")
    return dict(rows)
