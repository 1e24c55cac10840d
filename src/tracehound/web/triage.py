"""What the triage pages show about an issue, read from its rows: status in words, event
navigation, tag facets, activity and linked hashes. No state changes here (issues.actions)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model

from tracehound.api.issues import tag_summaries
from tracehound.events.models import Event
from tracehound.issues.models import Activity, GroupHash, Issue
from tracehound.issues.queries import neighbour_event_ids
from tracehound.web.text import plural

User = get_user_model()
EVENT_ID = re.compile(r"[0-9a-f]{32}")

# Ignore windows and durations as the forms offer them (minutes), and their names.
DURATIONS = {30: "30 minutes", 120: "2 hours", 1440: "24 hours", 10080: "1 week"}
WINDOWS = {60: "an hour", 1440: "a day", 10080: "a week"}


def window_text(minutes: int) -> str:
    return WINDOWS.get(minutes) or plural(minutes, "minute")


def status_text(issue: Issue) -> str:
    """The status as Sentry words it: "Resolved in 1.2.0", "Ignored until 10 more events"."""
    if issue.status == Issue.Status.RESOLVED:
        if issue.resolution == Issue.Resolution.IN_RELEASE and issue.resolved_release:
            return f"Resolved in {issue.resolved_release}"
        if issue.resolution == Issue.Resolution.IN_NEXT_RELEASE:
            after = f" after {issue.resolved_release}" if issue.resolved_release else ""
            return f"Resolved in the next release{after}"
        if issue.resolution == Issue.Resolution.BY_AGE:
            return "Auto-resolved: no events for a while"
        return "Resolved"
    if issue.status == Issue.Status.IGNORED:
        return "Ignored" + ignore_condition_text(issue)
    if issue.substatus == Issue.Substatus.REGRESSED:
        return "Regressed"
    if issue.substatus == Issue.Substatus.NEW:
        return "New"
    return "Ongoing"


def ignore_condition_text(issue: Issue) -> str:
    until = f"{issue.ignore_until:%Y-%m-%d %H:%M} UTC" if issue.ignore_until else ""
    return ignore_text(
        issue.ignore_count,
        issue.ignore_window,
        issue.ignore_user_count,
        issue.ignore_user_window,
        until,
    )


def ignore_text(
    count: int | None,
    window: int | None,
    user_count: int | None,
    user_window: int | None,
    until: str,
) -> str:
    """The condition of an ignore, as " until 10 more events within an hour"."""
    if count:
        within = f" within {window_text(window)}" if window else ""
        return f" until {plural(count, 'more event')}{within}"
    if user_count:
        within = f" within {window_text(user_window)}" if user_window else ""
        return f" until {plural(user_count, 'more user')}{within}"
    return f" until {until}" if until else ""


def _number(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_event_id(text: str) -> str | None:
    """An event id as SDKs send it (32 hex digits, dashes and case allowed), or None."""
    value = text.replace("-", "").lower()
    return value if EVENT_ID.fullmatch(value) else None


@dataclass(frozen=True)
class Navigation:
    oldest: str | None
    previous: str | None
    next: str | None
    latest: str | None


def event_navigation(issue: Issue, event: Event) -> Navigation:
    """Event ids around `event` in the order events were stored (the id index)."""
    previous, following = neighbour_event_ids(issue, event)
    ids = Event.objects.filter(issue=issue).values_list("event_id", flat=True)
    return Navigation(
        oldest=ids.order_by("id").first(),
        previous=previous,
        next=following,
        latest=ids.order_by("-id").first(),
    )


@dataclass(frozen=True)
class FacetValue:
    value: str
    count: int
    percent: int  # of the events with this tag, rounded down, 1 at least when count > 0


@dataclass(frozen=True)
class Facet:
    key: str
    total: int  # events with this tag
    distinct: int  # values seen
    values: list[FacetValue]


def percent(count: int, total: int) -> int:
    if total <= 0 or count <= 0:
        return 0
    return max(1, min(100, count * 100 // total))


def tag_facets(issue: Issue) -> list[Facet]:
    """The top values of each tag of the issue, from the counts digest keeps."""
    return [
        Facet(
            summary["key"],
            summary["totalValues"],
            summary["uniqueValues"],
            [
                FacetValue(v["value"], v["count"], percent(v["count"], summary["totalValues"]))
                for v in summary["topValues"]
            ],
        )
        for summary in tag_summaries(issue)
    ]


@dataclass(frozen=True)
class ActivityEntry:
    who: str
    text: str
    created_at: datetime
    comment: str | None = None


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""


def describe_activity(kind: str, data: dict[str, Any]) -> str:
    """One activity row in words (Sentry's activity types; data keys per issues.models)."""
    version = _text(data, "version") or _text(data, "release")
    if kind == "set_resolved":
        return "resolved the issue"
    if kind == "set_resolved_in_release" and data.get("inNextRelease"):
        return "resolved the issue in the next release" + (f" after {version}" if version else "")
    if kind == "set_resolved_in_release":
        return f"resolved the issue in {version}" if version else "resolved the issue in a release"
    if kind == "set_resolved_by_age":
        return "auto-resolved the issue: no events for a while"
    if kind == "set_ignored":
        until = _text(data, "ignoreUntil")
        condition = ignore_text(
            _number(data, "ignoreCount"),
            _number(data, "ignoreWindow"),
            _number(data, "ignoreUserCount"),
            _number(data, "ignoreUserWindow"),
            until[:16].replace("T", " ") + " UTC" if until else "",
        )
        return "ignored the issue" + condition
    if kind == "set_unresolved":
        reason = _text(data, "reason")
        return f"unresolved the issue ({reason})" if reason else "unresolved the issue"
    if kind == "set_regression":
        event = _text(data, "event_id")
        return "marked the issue as a regression" + (f" (event {event})" if event else "")
    if kind == "note":
        return "commented"
    if kind == "assigned":
        assignee = _text(data, "assignee_name") or _text(data, "assignee")
        return f"assigned the issue to {assignee}" if assignee else "assigned the issue"
    if kind == "unassigned":
        return "unassigned the issue"
    if kind == "merge":
        issues = data.get("issues")
        merged = issues if isinstance(issues, list) else []
        names = [_text(i, "shortId") for i in merged if isinstance(i, dict)]
        return (
            f"merged {', '.join(n for n in names if n)} into this issue"
            if any(names)
            else ("merged issues")
        )
    if kind in ("unmerge_source", "unmerge_destination"):
        hashes = data.get("hashes")
        count = len(hashes) if isinstance(hashes, list) else 0
        direction = "off this issue" if kind == "unmerge_source" else "into this issue"
        return f"unmerged {plural(count, 'hash', 'hashes')} {direction}"
    if kind == "first_seen":
        return "first saw the issue"
    if kind == "mark_reviewed":
        return "marked the issue reviewed"
    return kind.replace("_", " ")


def activity_entries(issue: Issue, limit: int = 200) -> list[ActivityEntry]:
    """The latest `limit` activities, oldest first (how a conversation reads)."""
    rows = list(
        Activity.objects.filter(issue=issue)
        .select_related("user")
        .order_by("-created_at", "-id")[:limit]
    )
    assignees = {
        _text(row.data, "assignee")
        for row in rows
        if row.type == "assigned"
        and isinstance(row.data, dict)
        and row.data.get("assigneeType") != "team"
    }
    ids = [int(pk) for pk in assignees if pk.isdigit()]
    names = {
        str(pk): name for pk, name in User.objects.filter(pk__in=ids).values_list("pk", "username")
    }
    entries = []
    for row in reversed(rows):
        data = row.data if isinstance(row.data, dict) else {}
        if row.type == "assigned" and data.get("assigneeType") == "team":
            data = {**data, "assignee_name": f"#{_text(data, 'assigneeName')}"}
        elif row.type == "assigned":
            data = {**data, "assignee_name": names.get(_text(data, "assignee"), "")}
        who = row.user.get_username() if row.user else (_text(data, "actor") or "Tracehound")
        comment = _text(data, "text") if row.type == "note" else None
        entries.append(
            ActivityEntry(who, describe_activity(row.type, data), row.created_at, comment)
        )
    return entries


def linked_hashes(issue: Issue, limit: int = 500) -> list[str]:
    return list(
        GroupHash.objects.filter(issue=issue).order_by("id").values_list("hash", flat=True)[:limit]
    )
