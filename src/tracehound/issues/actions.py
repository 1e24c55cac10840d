"""State changes of issues, as named actions: the one home for them.

Each user-initiated change takes the issue row lock (several issues: in id order, the
order digest's counter updates lock them in too), changes the row and writes exactly
one Activity row in the same transaction. Digest calls the set-based ones once per
batch. Merge, unmerge and delete live in `issues.merging` and are re-exported here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from tracehound.issues.models import Activity, Issue, IssueBookmark, IssueSeen, Release
from tracehound.issues.versions import release_key
from tracehound.projects.models import OrganizationMember, ProjectTeam, Team

# Upper bounds for ignore conditions: far beyond any real use, inside every column.
MAX_MINUTES = 10 * 366 * 24 * 60  # ten years
MAX_COUNT = 10**12
MAX_COMMENT = 80_000  # characters


class ActionError(ValueError):
    """Refused input: field names the parameter (API: 400 {"detail": message, field: [message]})."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def acting_user(actor: Any) -> Any:
    """The user behind `actor`: a user, None (Tracehound itself), or an accounts Actor
    (whose user is None for an organization token)."""
    is_actor = hasattr(actor, "label") and hasattr(actor, "token")
    return actor.user if is_actor else actor


def record(issue: Issue, actor: Any, type_: str, data: dict[str, Any] | None = None) -> Activity:
    user = acting_user(actor)
    if user is None and actor is not None:  # an organization token: name it
        data = {**(data or {}), "actor": actor.label}
    return Activity.objects.create(
        project_id=issue.project_id,
        issue_id=issue.pk,
        user=user,
        type=type_,
        data=data or {},
        created_at=timezone.now(),
    )


def locked(issue: Issue) -> Issue:
    """The issue's current row, locked until the transaction ends (Issue.DoesNotExist if
    it was deleted meanwhile). A no-key lock: digest's foreign-key checks of new events
    for the issue need not wait for it, its counter update does."""
    return Issue.objects.select_for_update(no_key=True).get(pk=issue.pk)


def save(issue: Issue, row: Issue, fields: list[str]) -> None:
    """Write `fields` of the locked row and copy them to the caller's instance."""
    row.save(update_fields=fields)
    for name in fields:
        setattr(issue, name, getattr(row, name))


NO_IGNORE: dict[str, Any] = {
    "ignored_at": None,
    "ignore_until": None,
    "ignore_count": None,
    "ignore_window": None,
    "ignore_user_count": None,
    "ignore_user_window": None,
    "ignore_base_times_seen": None,
    "ignore_base_users_seen": None,
}
NO_RESOLUTION: dict[str, Any] = {
    "resolved_at": None,
    "resolution": Issue.Resolution.NONE,
    "resolved_release": "",
}


def apply(issue: Issue, row: Issue, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(row, name, value)
    save(issue, row, list(values))


def latest_release(project_id: int) -> Release | None:
    """The project's newest release: by semver (`versions.version_key`) when any
    version parses, else the one first seen last."""
    releases = Release.objects.filter(project_id=project_id)
    semver = releases.filter(major__isnull=False)
    numbers = ("major", "minor", "patch", "revision")
    top = semver.order_by(*(F(n).desc(nulls_last=True) for n in numbers)).first()
    if top is None:
        return releases.order_by("-first_seen", "-id").first()
    # Prereleases and builds decide among equal numbers (1.0 > 1.0-rc.10 > 1.0-rc.9).
    same = semver.filter(major=top.major, minor=top.minor, patch=top.patch, revision=top.revision)
    return max(same, key=lambda r: (release_key(r.version), r.first_seen, r.id))


@transaction.atomic
def resolve(
    issue: Issue,
    actor: Any,
    *,
    in_release: str | None = None,
    in_next_release: bool = False,
) -> None:
    """Resolve now, in a named release, or in the release after the latest one."""
    if in_release is not None and in_next_release:
        raise ActionError("inRelease", "give inRelease or inNextRelease, not both")
    version = ""
    resolution = Issue.Resolution.NOW
    if in_release is not None:
        if not Release.objects.filter(project_id=issue.project_id, version=in_release).exists():
            raise ActionError("inRelease", f"no release {in_release[:200]!r} in this project")
        version, resolution = in_release, Issue.Resolution.IN_RELEASE
    elif in_next_release:
        latest = latest_release(issue.project_id)
        if latest is not None:  # with no release at all it is a plain resolve
            version, resolution = latest.version, Issue.Resolution.IN_NEXT_RELEASE
    row = locked(issue)
    now = timezone.now()
    apply(
        issue,
        row,
        {
            "status": Issue.Status.RESOLVED,
            "substatus": Issue.Substatus.NONE,
            "resolved_at": now,
            "resolution": resolution,
            "resolved_release": version,
            **NO_IGNORE,
        },
    )
    if resolution == Issue.Resolution.NOW:
        activity = record(issue, actor, "set_resolved")
    else:
        data: dict[str, Any] = {"version": version}
        if resolution == Issue.Resolution.IN_NEXT_RELEASE:
            data["inNextRelease"] = True
        activity = record(issue, actor, "set_resolved_in_release", data)
    resolved_alerts(issue, activity, actor, now)


def resolved_alerts(issue: Issue, activity: Activity, actor: Any, now: datetime) -> None:
    """Notifications owed for the resolve (rules with the "resolved" trigger, channels
    that close what they opened), in the resolve's transaction."""
    from tracehound.alerts.evaluate import Resolved, actor_name, on_resolved

    on_resolved([Resolved(issue.pk, issue.project_id, activity.pk)], actor_name(actor), now)


@transaction.atomic
def unresolve(issue: Issue, actor: Any) -> None:
    row = locked(issue)
    apply(
        issue,
        row,
        {
            "status": Issue.Status.UNRESOLVED,
            "substatus": Issue.Substatus.ONGOING,
            **NO_RESOLUTION,
            **NO_IGNORE,
        },
    )
    record(issue, actor, "set_unresolved")


def check_positive(field: str, value: Any, maximum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ActionError(field, "must be an integer")
    if not 1 <= value <= maximum:
        raise ActionError(field, f"must be between 1 and {maximum}")
    return int(value)


@transaction.atomic
def ignore(
    issue: Issue,
    actor: Any,
    *,
    duration_minutes: int | None = None,
    count: int | None = None,
    window_minutes: int | None = None,
    user_count: int | None = None,
    user_window_minutes: int | None = None,
) -> None:
    """Ignore forever, or until a duration passes / N more events / N more users."""
    duration = check_positive("ignoreDuration", duration_minutes, MAX_MINUTES)
    count = check_positive("ignoreCount", count, MAX_COUNT)
    window = check_positive("ignoreWindow", window_minutes, MAX_MINUTES)
    users = check_positive("ignoreUserCount", user_count, MAX_COUNT)
    user_window = check_positive("ignoreUserWindow", user_window_minutes, MAX_MINUTES)
    if window is not None and count is None:
        raise ActionError("ignoreWindow", "needs ignoreCount")
    if user_window is not None and users is None:
        raise ActionError("ignoreUserWindow", "needs ignoreUserCount")
    row = locked(issue)
    now = timezone.now()
    conditional = any(v is not None for v in (duration, count, users))
    until: datetime | None = now + timedelta(minutes=duration) if duration else None
    apply(
        issue,
        row,
        {
            "status": Issue.Status.IGNORED,
            "substatus": Issue.Substatus.ARCHIVED_UNTIL_CONDITION_MET
            if conditional
            else Issue.Substatus.ARCHIVED_FOREVER,
            **NO_RESOLUTION,
            "ignored_at": now,
            "ignore_until": until,
            "ignore_count": count,
            "ignore_window": window,
            "ignore_user_count": users,
            "ignore_user_window": user_window,
            "ignore_base_times_seen": row.times_seen,
            "ignore_base_users_seen": row.users_seen,
        },
    )
    details = {
        "ignoreDuration": duration,
        "ignoreUntil": until.isoformat() if until else None,
        "ignoreCount": count,
        "ignoreWindow": window,
        "ignoreUserCount": users,
        "ignoreUserWindow": user_window,
    }
    record(issue, actor, "set_ignored", {k: v for k, v in details.items() if v is not None})


@transaction.atomic
def mark_reviewed(issue: Issue, actor: Any) -> None:
    """An unresolved issue that is new or regressed becomes ongoing; others are left as
    they are (and no activity is written)."""
    row = locked(issue)
    reviewable = (Issue.Substatus.NEW, Issue.Substatus.REGRESSED)
    if row.status != Issue.Status.UNRESOLVED or row.substatus not in reviewable:
        return
    apply(issue, row, {"substatus": Issue.Substatus.ONGOING})
    record(issue, actor, "mark_reviewed")


@transaction.atomic
def assign(issue: Issue, actor: Any, assignee: Any) -> None:
    """Assign to a member of the issue's organization, or to a team (projects.Team) that
    has the issue's project; None unassigns. Assigning to the current assignee again
    changes nothing and writes no activity."""
    is_team = isinstance(assignee, Team)
    if is_team:
        if not ProjectTeam.objects.filter(team=assignee, project_id=issue.project_id).exists():
            raise ActionError("assignedTo", "that team does not have access to this project")
    elif assignee is not None:
        org_id = issue.project.organization_id
        if not OrganizationMember.objects.filter(organization_id=org_id, user=assignee).exists():
            raise ActionError("assignedTo", "is not a member of this organization")
    row = locked(issue)
    new_user = assignee.pk if assignee is not None and not is_team else None
    new_team = assignee.pk if is_team else None
    if (row.assignee_id, row.assignee_team_id) == (new_user, new_team):
        return
    row.assignee_id, row.assignee_team_id = new_user, new_team
    save(issue, row, ["assignee_id", "assignee_team_id"])
    issue.assignee = None if is_team else assignee
    issue.assignee_team = assignee if is_team else None
    if assignee is None:
        record(issue, actor, "unassigned")
    elif is_team:
        data = {"assignee": str(assignee.pk), "assigneeType": "team", "assigneeName": assignee.slug}
        record(issue, actor, "assigned", data)
    else:
        data = {"assignee": str(assignee.pk), "assigneeType": "user"}
        if getattr(assignee, "email", ""):
            data["assigneeEmail"] = assignee.email
        record(issue, actor, "assigned", data)


@transaction.atomic
def add_comment(issue: Issue, actor: Any, text: str) -> Activity:
    if not isinstance(text, str) or not text.strip():
        raise ActionError("text", "must be a non-empty string")
    if "\x00" in text:
        raise ActionError("text", "must not contain NUL characters")
    if len(text) > MAX_COMMENT:
        raise ActionError("text", f"must be at most {MAX_COMMENT} characters")
    locked(issue)  # the issue still exists, and comments order with other changes
    return record(issue, actor, "note", {"text": text})


def mark_seen(issue: Issue, user: Any) -> None:
    """Remember that `user` looked at the issue now (Sentry's hasSeen); no activity."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO issues_issueseen (issue_id, user_id, last_seen) VALUES (%s, %s, %s)"
            " ON CONFLICT (issue_id, user_id) DO UPDATE SET last_seen = excluded.last_seen",
            [issue.pk, user.pk, connection.ops.adapt_datetimefield_value(now)],
        )


def forget_seen(issue: Issue, user: Any) -> None:
    """Mark the issue unseen for `user` again (hasSeen false); no activity."""
    IssueSeen.objects.filter(issue_id=issue.pk, user=user).delete()


def set_bookmark(issue: Issue, user: Any, bookmarked: bool) -> None:
    """Bookmark or un-bookmark for `user` (idempotent); no activity."""
    if not bookmarked:
        IssueBookmark.objects.filter(issue_id=issue.pk, user=user).delete()
        return
    IssueBookmark.objects.bulk_create(
        [IssueBookmark(issue_id=issue.pk, user=user, created_at=timezone.now())],
        ignore_conflicts=True,
    )


def has_seen(issue: Issue, user: Any) -> bool:
    return IssueSeen.objects.filter(issue_id=issue.pk, user=user).exists()


# Merge, unmerge and delete move or remove many rows with set-based SQL: their bodies
# live in issues.merging (imported here on use: it builds on the helpers above).


def merge_issues(issues: list[Issue], actor: Any) -> Issue:
    """Merge into the issue with the most events (returned); the others are deleted."""
    from tracehound.issues import merging

    return merging.merge_issues(issues, actor)


def unmerge(issue: Issue, actor: Any, hashes: list[str]) -> Issue:
    """Split `hashes` (and their events) off into a new issue, which is returned."""
    from tracehound.issues import merging

    return merging.unmerge(issue, actor, hashes)


def delete_issues(issues: list[Issue], actor: Any, *, discard: bool = False) -> None:
    """Delete issues with their events; discard=True also drops their future events."""
    from tracehound.issues import merging

    merging.delete_issues(issues, actor, discard=discard)
