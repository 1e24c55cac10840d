"""Set-based lifecycle changes: those digest makes once per batch, and the periodic ones
(unignore when an ignore period ran out, auto-resolve of idle issues).

The rules are in `issues.lifecycle`; this module reads the locked issue rows, applies
the decisions with one statement per kind and records one Activity row per change.
Issue rows are locked in id order (PostgreSQL: FOR NO KEY UPDATE, which does not block
events and hashes that reference the issue) before anything is decided, and user
actions lock the row too (select_for_update), so an event arriving while someone
resolves the issue ends in one state, with one activity row for each change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction

from tracehound.issues.lifecycle import IgnoreState, is_regression, met_ignore_condition
from tracehound.issues.models import Activity, Issue, Release
from tracehound.issues.versions import compare_releases
from tracehound.projects.models import Project

STATE_COLUMNS = (
    "id, project_id, status, resolution, resolved_release, times_seen, users_seen,"
    " ignored_at, ignore_until, ignore_count, ignore_window, ignore_user_count,"
    " ignore_user_window, ignore_base_times_seen, ignore_base_users_seen, resolved_at"
)
HOUR = 3600  # the bucket width of IssueHourlyCount (digest.rollups)


@dataclass(slots=True)
class LockedIssue:
    """An issue's lifecycle state as read (and locked) before a batch changed it."""

    id: int
    project_id: int
    status: str
    resolution: str
    resolved_release: str
    times_seen: int
    users_seen: int
    ignore: IgnoreState
    resolved_at: datetime | None


@dataclass(slots=True)
class IssueEvents:
    """What a batch brought to one issue."""

    # (event id, release, received at)
    events: list[tuple[str, str, datetime]] = field(default_factory=list)
    count: int = 0
    new_users: int = 0


def _placeholders(n: int) -> str:
    return ", ".join(["%s"] * n)


def _locked(row: tuple[Any, ...]) -> LockedIssue:
    return LockedIssue(
        id=row[0],
        project_id=row[1],
        status=row[2],
        resolution=row[3],
        resolved_release=row[4],
        times_seen=row[5],
        users_seen=row[6],
        ignore=IgnoreState(*(_aware(v) for v in row[7:9]), *row[9:15]),
        resolved_at=_aware(row[15]),
    )


def _aware(value: Any) -> Any:
    """Raw cursors on SQLite give naive UTC datetimes (or text): make them aware."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def lock_issues(issue_ids: Iterable[int]) -> dict[int, LockedIssue]:
    """Lock the issues in id order and read their lifecycle state."""
    ids = sorted(set(issue_ids))
    lock = " FOR NO KEY UPDATE" if connection.vendor == "postgresql" else ""
    rows: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for part in (ids[i : i + 500] for i in range(0, len(ids), 500)):
            select = f"SELECT {STATE_COLUMNS} FROM issues_issue WHERE id IN"
            cursor.execute(f"{select} ({_placeholders(len(part))}) ORDER BY id{lock}", part)
            rows += cursor.fetchall()
    return {row[0]: _locked(row) for row in rows}


def release_first_seen(pairs: set[tuple[int, str]]) -> dict[tuple[int, str], datetime]:
    out: dict[tuple[int, str], datetime] = {}
    by_project: dict[int, list[str]] = {}
    for project_id, version in pairs:
        by_project.setdefault(project_id, []).append(version)
    for project_id, versions in by_project.items():
        rows = Release.objects.filter(project_id=project_id, version__in=versions)
        for version, first_seen in rows.values_list("version", "first_seen"):
            out[(project_id, version)] = first_seen
    return out


def events_within(issue_id: int, since: datetime) -> int:
    """Events of the issue counted in the hours from the one holding `since` on.

    Read from `IssueHourlyCount`, which digest writes in the batch transaction and
    which neither the per-issue event cap nor retention shrinks. Hour-granular: the
    count can include events of up to an hour before `since`; an event counts at its
    own timestamp (see `digest.rollups.counted_time`).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(SUM(count), 0) FROM issues_issuehourlycount"
            " WHERE issue_id = %s AND bucket >= %s",
            [issue_id, int(since.timestamp()) // HOUR],
        )
        return int(cursor.fetchone()[0])


def users_within(issue_id: int, since: datetime, limit: int) -> int:
    """Distinct users of the issue seen since `since`, counting up to `limit`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM (SELECT 1 FROM issues_issuetagvalue WHERE issue_id = %s"
            " AND key = 'user' AND last_seen >= %s LIMIT %s) AS recent",
            [issue_id, connection.ops.adapt_datetimefield_value(since), limit],
        )
        return int(cursor.fetchone()[0])


def ignore_condition_met(
    issue: LockedIssue, now: datetime, times_seen: int, users_seen: int
) -> Any:
    state = issue.ignore
    ignored_at = state.ignored_at or datetime.min.replace(tzinfo=now.tzinfo)

    def since(minutes: int) -> datetime:
        return max(now - timedelta(minutes=minutes), ignored_at)

    def events_in_window(minutes: int, limit: int) -> int:
        # The hourly count may reach back before the ignore; times_seen does not.
        within = events_within(issue.id, since(minutes))
        if state.base_times_seen is not None:
            within = min(within, times_seen - state.base_times_seen)
        return within

    return met_ignore_condition(
        state,
        now=now,
        times_seen=times_seen,
        users_seen=users_seen,
        events_within=events_in_window,
        users_within=lambda minutes, limit: users_within(issue.id, since(minutes), limit),
    )


def regressing_event(
    issue: LockedIssue,
    events: list[tuple[str, str, datetime]],
    first_seen: dict[tuple[int, str], datetime],
) -> tuple[str, str] | None:
    """The first event of the batch that reopens this resolved issue, if any.

    Events received before the issue was resolved do not: the resolve saw them coming.
    """
    seen = {version: ts for (p, version), ts in first_seen.items() if p == issue.project_id}

    def order(a: str, b: str) -> int:
        return compare_releases(a, b, seen)

    for event_id, release, received_at in events:
        if is_regression(
            issue.resolution,
            issue.resolved_release,
            release,
            order,
            received_at=received_at,
            resolved_at=issue.resolved_at,
        ):
            return event_id, release
    return None


def apply_digest_lifecycle(
    locked: dict[int, LockedIssue],
    batch: dict[int, IssueEvents],
    created: dict[int, str],
    now: datetime,
) -> list[Activity]:
    """Regressions, unignores and first-seen activity for one stored batch.

    `locked` holds the state read before the batch (times_seen and users_seen without
    it); `created` maps issues this batch created to their first event id. Returns the
    Activity rows written (with their ids): what changed, for the alert rules.
    """
    activities = [
        Activity(
            project_id=locked[issue_id].project_id,
            issue_id=issue_id,
            type="first_seen",
            data={"event_id": event_id},
            created_at=now,
        )
        for issue_id, event_id in sorted(created.items())
        if issue_id in locked
    ]
    resolved = [i for i in locked.values() if i.status == Issue.Status.RESOLVED and i.id in batch]
    needs_order = [i for i in resolved if i.resolution in ("in_release", "in_next_release")]
    pairs = {
        (i.project_id, version)
        for i in needs_order
        for version in [i.resolved_release, *(r for _, r, _ in batch[i.id].events)]
        if version
    }
    first_seen = release_first_seen(pairs) if pairs else {}
    regressed: list[int] = []
    for issue in resolved:
        hit = regressing_event(issue, batch[issue.id].events, first_seen)
        if hit is None:
            continue
        regressed.append(issue.id)
        activities.append(
            Activity(
                project_id=issue.project_id,
                issue_id=issue.id,
                type="set_regression",
                data={
                    "event_id": hit[0],
                    "release": hit[1],
                    "version": hit[1],
                    "resolved_in_version": issue.resolved_release,
                },
                created_at=now,
            )
        )
    unignored: list[int] = []
    for issue in locked.values():
        if issue.status != Issue.Status.IGNORED or not issue.ignore.has_condition:
            continue
        delta = batch.get(issue.id)
        if delta is None:
            continue
        condition = ignore_condition_met(
            issue, now, issue.times_seen + delta.count, issue.users_seen + delta.new_users
        )
        if condition is not None:
            unignored.append(issue.id)
            activities.append(unignore_activity(issue.project_id, issue.id, condition, now))
    set_regressed(regressed)
    set_unignored(unignored)
    return Activity.objects.bulk_create(activities)


def unignore_activity(project_id: int, issue_id: int, condition: Any, now: datetime) -> Activity:
    return Activity(
        project_id=project_id,
        issue_id=issue_id,
        type="set_unresolved",
        data={"reason": "unignored", "condition": condition},
        created_at=now,
    )


def update_issues(assignments: str, values: list[Any], issue_ids: list[int]) -> None:
    """One UPDATE of the same columns for several issues, in id order."""
    if not issue_ids:
        return
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE issues_issue SET {assignments} WHERE id = %s",
            [[*values, issue_id] for issue_id in sorted(issue_ids)],
        )


def set_regressed(issue_ids: list[int]) -> None:
    update_issues(
        "status = %s, substatus = %s, resolved_at = NULL, resolution = '', resolved_release = ''",
        [Issue.Status.UNRESOLVED, Issue.Substatus.REGRESSED],
        issue_ids,
    )


def set_unignored(issue_ids: list[int]) -> None:
    update_issues(
        "status = %s, substatus = %s, ignored_at = NULL, ignore_until = NULL,"
        " ignore_count = NULL, ignore_window = NULL, ignore_user_count = NULL,"
        " ignore_user_window = NULL, ignore_base_times_seen = NULL,"
        " ignore_base_users_seen = NULL",
        [Issue.Status.UNRESOLVED, Issue.Substatus.ONGOING],
        issue_ids,
    )


def unignore_expired(now: datetime, limit: int = 1000) -> int:
    """Unignore issues whose ignore period ran out with no event to notice it.

    For the housekeeping schedule (once a minute is plenty). Returns how many.
    """
    with transaction.atomic():
        ids = list(
            Issue.objects.filter(status=Issue.Status.IGNORED, ignore_until__lte=now)
            .order_by("id")
            .values_list("id", flat=True)[:limit]
        )
        locked = lock_issues(ids)
        expired = [
            i
            for i in locked.values()
            if i.status == Issue.Status.IGNORED
            and i.ignore.ignore_until is not None
            and i.ignore.ignore_until <= now
        ]
        set_unignored([i.id for i in expired])
        activities = Activity.objects.bulk_create(
            [
                unignore_activity(
                    i.project_id,
                    i.id,
                    {"ignoreUntil": i.ignore.ignore_until.isoformat()},  # type: ignore[union-attr]
                    now,
                )
                for i in expired
            ]
        )
        if activities:
            from tracehound.alerts.evaluate import on_unignored

            on_unignored(activities, now)
    return len(expired)


AUTO_RESOLVE_BATCH = 500


def auto_resolve_idle_issues(now: datetime, batch: int = AUTO_RESOLVE_BATCH) -> int:
    """Resolve unresolved issues that saw no event for their project's auto_resolve_days.

    Each becomes resolved "by age" with one `set_resolved_by_age` activity (no user;
    data.age in hours, as Sentry records it). Batches of `batch` issues, one short
    transaction each; the condition is checked again in the UPDATE, so an event stored
    meanwhile keeps its issue unresolved. Returns how many issues were resolved.
    """
    resolved = 0
    projects = Project.objects.filter(auto_resolve_days__gt=0).order_by("id")
    for project_id, days in projects.values_list("id", "auto_resolve_days"):
        if not days:
            continue
        cutoff = now - timedelta(days=days)
        after = 0
        while True:
            candidates = list(
                Issue.objects.filter(
                    project_id=project_id,
                    status=Issue.Status.UNRESOLVED,
                    last_seen__lt=cutoff,
                    id__gt=after,
                )
                .order_by("id")
                .values_list("id", flat=True)[:batch]
            )
            if not candidates:
                break
            after = candidates[-1]
            resolved += resolve_by_age(project_id, candidates, cutoff, now, days)
            if len(candidates) < batch:
                break
    return resolved


def resolve_by_age(
    project_id: int, ids: list[int], cutoff: datetime, now: datetime, days: int
) -> int:
    adapt = connection.ops.adapt_datetimefield_value
    placeholders = ", ".join(["%s"] * len(ids))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE issues_issue SET status = %s, substatus = %s, resolution = %s,"
            " resolved_at = %s, resolved_release = ''"
            f" WHERE id IN ({placeholders}) AND status = %s AND last_seen < %s RETURNING id",
            [
                Issue.Status.RESOLVED,
                Issue.Substatus.NONE,
                Issue.Resolution.BY_AGE,
                adapt(now),
                *ids,
                Issue.Status.UNRESOLVED,
                adapt(cutoff),
            ],
        )
        done = sorted(row[0] for row in cursor.fetchall())
        written = Activity.objects.bulk_create(
            Activity(
                project_id=project_id,
                issue_id=issue_id,
                user=None,
                type="set_resolved_by_age",
                data={"age": days * 24},
                created_at=now,
            )
            for issue_id in done
        )
        resolved_alerts(project_id, written, days, now)
    return len(done)


def resolved_alerts(project_id: int, written: list[Activity], days: int, now: datetime) -> None:
    """Alerts for issues auto-resolved by age, in the resolve's transaction."""
    from tracehound.alerts.evaluate import Resolved, on_resolved

    on_resolved(
        [Resolved(a.issue_id, project_id, a.pk) for a in written],
        f"auto-resolve after {days} days without events",
        now,
    )
