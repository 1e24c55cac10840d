"""Per-batch rollups digest keeps beside events: counts over time, releases, environments,
and the distinct users of each issue.

One multi-row statement per table per batch (per 500 rows), rows sorted so
concurrent workers lock them in one order; every write is an upsert, so two workers
adding to the same row both count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection

from tracehound.issues.versions import parse_version

HOUR = 3600
DAY = 86400


@dataclass(slots=True)
class Seen:
    """First/last time and count of something within a batch."""

    first: datetime
    last: datetime
    count: int = 0

    def add(self, ts: datetime, n: int = 1) -> None:
        self.count += n
        if ts < self.first:
            self.first = ts
        if ts > self.last:
            self.last = ts


def seen_at(table: dict[Any, Seen], key: Any, ts: datetime) -> None:
    entry = table.get(key)
    if entry is None:
        table[key] = Seen(ts, ts, 1)
    else:
        entry.add(ts)


def counted_time(timestamp: datetime, received_at: datetime, retention: timedelta) -> datetime:
    """The time an event is counted at: its own, unless that is in the future or older
    than retention (a wrong client clock), then when it was received."""
    if timestamp > received_at or timestamp < received_at - retention:
        return received_at
    return timestamp


def upsert_counts(table: str, owner: str, counts: dict[tuple[int, int], int]) -> None:
    insert_rows(
        f"{table} ({owner}, bucket, count)",
        "(%s, %s, %s)",
        [(key, bucket, n) for (key, bucket), n in sorted(counts.items())],
        f"({owner}, bucket) DO UPDATE SET count = {table}.count + excluded.count",
    )


def store_time_counts(rows: list[tuple[int, int, datetime]]) -> None:
    """Hourly and daily counts per issue and per project; rows are (project, issue, time)."""
    issue_hourly: dict[tuple[int, int], int] = defaultdict(int)
    issue_daily: dict[tuple[int, int], int] = defaultdict(int)
    project_hourly: dict[tuple[int, int], int] = defaultdict(int)
    project_daily: dict[tuple[int, int], int] = defaultdict(int)
    for project_id, issue_id, ts in rows:
        seconds = int(ts.timestamp())
        hour, day = seconds // HOUR, seconds // DAY
        issue_hourly[(issue_id, hour)] += 1
        issue_daily[(issue_id, day)] += 1
        project_hourly[(project_id, hour)] += 1
        project_daily[(project_id, day)] += 1
    upsert_counts("issues_issuehourlycount", "issue_id", issue_hourly)
    upsert_counts("issues_issuedailycount", "issue_id", issue_daily)
    upsert_counts("issues_projecthourlycount", "project_id", project_hourly)
    upsert_counts("issues_projectdailycount", "project_id", project_daily)


# first_seen / last_seen of an upsert: the earlier / later of the row's and the batch's.
MIN_MAX = (
    "first_seen = CASE WHEN excluded.first_seen < {t}.first_seen"
    " THEN excluded.first_seen ELSE {t}.first_seen END,"
    " last_seen = CASE WHEN excluded.last_seen > {t}.last_seen"
    " THEN excluded.last_seen ELSE {t}.last_seen END"
)


def store_releases(
    seen: dict[tuple[int, str], Seen],
    new_issues: dict[tuple[int, str], int],
    adapt: Callable[[datetime | None], Any],
) -> None:
    """Upsert Release rows: first/last seen, times seen, issues first seen in them."""
    rows = []
    for (project_id, version), s in sorted(seen.items()):
        v = parse_version(version)
        rows.append(
            [
                project_id,
                version,
                adapt(s.first),
                adapt(s.last),
                s.count,
                new_issues.get((project_id, version), 0),
                v.major if v else None,
                v.minor if v else None,
                v.patch if v else None,
                v.revision if v else None,
                v.prerelease[:200] if v else "",
            ]
        )
    insert_rows(
        "issues_release (project_id, version, first_seen, last_seen, times_seen, new_issues,"
        " major, minor, patch, revision, prerelease)",
        "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        rows,
        "(project_id, version) DO UPDATE SET"
        " times_seen = issues_release.times_seen + excluded.times_seen,"
        " new_issues = issues_release.new_issues + excluded.new_issues,"
        f" {MIN_MAX.format(t='issues_release')}",
    )


def store_environments(
    seen: dict[tuple[int, str], Seen], adapt: Callable[[datetime | None], Any]
) -> None:
    insert_rows(
        "issues_environment (project_id, name, first_seen, last_seen, times_seen)",
        "(%s, %s, %s, %s, %s)",
        [
            (project_id, name, adapt(s.first), adapt(s.last), s.count)
            for (project_id, name), s in sorted(seen.items())
        ],
        "(project_id, name) DO UPDATE SET"
        " times_seen = issues_environment.times_seen + excluded.times_seen,"
        f" {MIN_MAX.format(t='issues_environment')}",
    )


def insert_new_users(
    users: dict[tuple[int, str], Seen], adapt: Callable[[datetime | None], Any]
) -> dict[int, int]:
    """Insert the `user` tag rows this batch saw; returns, per issue, how many were new.

    ON CONFLICT DO NOTHING RETURNING: a user another worker inserted first (PostgreSQL
    waits for its commit) is not returned, so each distinct user is counted once. The
    rows start at times_seen 0; the tag upsert that follows adds the batch's counts.
    """
    new: dict[int, int] = defaultdict(int)
    inserted = insert_rows(
        "issues_issuetagvalue (issue_id, key, value, times_seen, first_seen, last_seen)",
        "(%s, 'user', %s, 0, %s, %s)",
        [
            (issue_id, value, adapt(s.first), adapt(s.last))
            for (issue_id, value), s in sorted(users.items())
        ],
        "(issue_id, key, value) DO NOTHING",
        "issue_id",
    )
    for (issue_id,) in inserted:
        new[issue_id] += 1
    return new


def insert_rows(
    into: str, template: str, rows: Sequence[Sequence[Any]], on_conflict: str, returning: str = ""
) -> list[tuple[Any, ...]]:
    """Multi-row INSERT .. ON CONFLICT, 500 rows a statement; returns what RETURNING gave.

    One statement per 500 rows instead of one per row: on PostgreSQL, psycopg's
    executemany cost ~15 us of Python per row. Rows must be sorted (concurrent inserts
    then lock in one order) and unique on the conflict target (one statement may not
    update a row twice). With DO NOTHING RETURNING, a row another worker inserted first
    (committed, or committing: PostgreSQL waits for it) is not returned.
    """
    returned: list[tuple[Any, ...]] = []
    tail = f" RETURNING {returning}" if returning else ""
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 500):
            part = rows[start : start + 500]
            cursor.execute(
                f"INSERT INTO {into} VALUES {', '.join([template] * len(part))}"
                f" ON CONFLICT {on_conflict}{tail}",
                [v for row in part for v in row],
            )
            if returning:
                returned += cursor.fetchall()
    return returned
