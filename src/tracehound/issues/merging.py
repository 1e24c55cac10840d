"""Merge, unmerge and delete: actions over many rows, moved or removed with set-based SQL.

Concurrency with digest (PostgreSQL, several workers). Digest reads the hash → issue map
without locks early in its batch transaction, inserts events, then updates issue
counters in id order. These actions lock the issue rows in id order too, so a batch that
already updated an involved issue is waited for and its events are then moved or
deleted with the rest. A batch that read a hash before the action committed may still
write to the old owner afterwards; so merge and delete first move the hashes away
(merge: everything else too) but keep the old issues, then `settle` (wait for the
transactions running at that moment to end), and only then fold in or delete what
arrived meanwhile and remove the issues. Nothing is lost, counted twice, or refused
by a foreign key. Unmerge deletes nothing: an event of a split-off hash that a batch
in flight adds to the source stays there, counted once.
Unmerge locks the project row first (it takes a short id), as digest does when it
creates issues, so the two never wait on each other in opposite orders.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone

from tracehound.digest.rollups import DAY, HOUR, counted_time
from tracehound.events.codec import decode_payload
from tracehound.events.models import Attachment, Event, UserReport
from tracehound.events.retention import retention_days
from tracehound.issues.actions import ActionError, acting_user, record
from tracehound.issues.models import (
    GroupHash,
    GroupTombstone,
    Issue,
    IssueDailyCount,
    IssueHourlyCount,
    IssueTagValue,
)
from tracehound.issues.queries import format_short_id

CHUNK = 1000  # rows per statement when moving or deleting events
SETTLE_SECONDS = 10.0  # longest wait for digest batches in flight (far beyond a batch)
log = logging.getLogger("tracehound.issues")
MAX_HASHES = 100
NEW_FOR = timedelta(days=7)  # Sentry's "new" substatus lasts a week after first seen


def marks(values: Iterable[Any]) -> str:
    return ", ".join("%s" for _ in values)


def execute(sql: str, params: list[Any]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def lock_issues(ids: Iterable[int], *, deleting: bool = True) -> list[Issue]:
    """Lock the issue rows (only them: not the joined project) in id order, the order
    digest updates counters in. Rows that stay take the weaker no-key lock, which does
    not hold up digest's foreign-key checks of events inserted for them."""
    rows = Issue.objects.select_for_update(of=("self",), no_key=not deleting)
    return list(rows.filter(pk__in=sorted(set(ids))).select_related("project").order_by("pk"))


def count_users(issue_id: int) -> int:
    return IssueTagValue.objects.filter(issue_id=issue_id, key="user").count()


# -- merge ---------------------------------------------------------------------------

TAG_UPSERT = (
    "INSERT INTO issues_issuetagvalue (issue_id, key, value, times_seen, first_seen, last_seen)"
    " SELECT %s, key, value, SUM(times_seen), MIN(first_seen), MAX(last_seen)"
    " FROM issues_issuetagvalue WHERE issue_id IN ({ids}) GROUP BY key, value"
    " ON CONFLICT (issue_id, key, value) DO UPDATE SET"
    " times_seen = issues_issuetagvalue.times_seen + excluded.times_seen,"
    " first_seen = CASE WHEN excluded.first_seen < issues_issuetagvalue.first_seen"
    " THEN excluded.first_seen ELSE issues_issuetagvalue.first_seen END,"
    " last_seen = CASE WHEN excluded.last_seen > issues_issuetagvalue.last_seen"
    " THEN excluded.last_seen ELSE issues_issuetagvalue.last_seen END"
)
COUNT_UPSERT = (
    "INSERT INTO {table} (issue_id, bucket, count)"
    " SELECT %s, bucket, SUM(count) FROM {table} WHERE issue_id IN ({ids}) GROUP BY bucket"
    " ON CONFLICT (issue_id, bucket) DO UPDATE SET count = {table}.count + excluded.count"
)
PER_USER_UPSERT = {
    "issues_issuebookmark": (
        "INSERT INTO issues_issuebookmark (issue_id, user_id, created_at)"
        " SELECT %s, user_id, MIN(created_at) FROM issues_issuebookmark"
        " WHERE issue_id IN ({ids}) GROUP BY user_id"
        " ON CONFLICT (issue_id, user_id) DO NOTHING"
    ),
    "issues_issueseen": (
        "INSERT INTO issues_issueseen (issue_id, user_id, last_seen)"
        " SELECT %s, user_id, MAX(last_seen) FROM issues_issueseen"
        " WHERE issue_id IN ({ids}) GROUP BY user_id"
        " ON CONFLICT (issue_id, user_id) DO UPDATE SET last_seen = CASE"
        " WHEN excluded.last_seen > issues_issueseen.last_seen THEN excluded.last_seen"
        " ELSE issues_issueseen.last_seen END"
    ),
}
PER_ISSUE_TABLES = [
    "issues_issuetagvalue",
    "issues_issuehourlycount",
    "issues_issuedailycount",
    "issues_issuebookmark",
    "issues_issueseen",
]


def pick_survivor(rows: list[Issue]) -> Issue:
    """As Sentry: the issue with the most events; on a tie the first seen, then the oldest."""
    return min(rows, key=lambda r: (-r.times_seen, r.first_seen, r.pk))


def fold(survivor: Issue, rows: list[Issue]) -> None:
    """Move everything of the locked `rows` but the survivor into it; sum the counters.

    The others are left empty (no hashes, events or counts; times_seen 0), not deleted.
    """
    merged = [r for r in rows if r.pk != survivor.pk]
    others = [r.pk for r in merged]
    if not others:  # the others went meanwhile (deleted, or merged elsewhere)
        return
    ids_sql = marks(others)
    keep = survivor.pk
    execute(
        f"UPDATE issues_grouphash SET issue_id = %s WHERE issue_id IN ({ids_sql})", [keep, *others]
    )
    for other in others:  # one issue's events per statement
        execute("UPDATE events_event SET issue_id = %s WHERE issue_id = %s", [keep, other])
    execute(
        f"UPDATE issues_activity SET issue_id = %s WHERE issue_id IN ({ids_sql})", [keep, *others]
    )
    execute(TAG_UPSERT.format(ids=ids_sql), [keep, *others])
    for table in ("issues_issuehourlycount", "issues_issuedailycount"):
        execute(COUNT_UPSERT.format(table=table, ids=ids_sql), [keep, *others])
    for sql in PER_USER_UPSERT.values():
        execute(sql.format(ids=ids_sql), [keep, *others])
    for table in PER_ISSUE_TABLES:
        execute(f"DELETE FROM {table} WHERE issue_id IN ({ids_sql})", others)
    users_before = survivor.users_seen
    survivor.times_seen = sum(r.times_seen for r in rows)
    survivor.first_seen = min(r.first_seen for r in rows)
    survivor.last_seen = max(r.last_seen for r in rows)
    survivor.users_seen = count_users(keep)
    # "N more events / users since ignored" counts what arrives later, not what merged in.
    if survivor.ignore_base_times_seen is not None:
        survivor.ignore_base_times_seen += sum(r.times_seen for r in merged)
    if survivor.ignore_base_users_seen is not None:
        survivor.ignore_base_users_seen += survivor.users_seen - users_before
    if survivor.assignee_id is None:
        survivor.assignee_id = next((r.assignee_id for r in merged if r.assignee_id), None)
    survivor.save(
        update_fields=[
            "times_seen",
            "first_seen",
            "last_seen",
            "users_seen",
            "assignee_id",
            "ignore_base_times_seen",
            "ignore_base_users_seen",
        ]
    )
    Issue.objects.filter(pk__in=others).update(times_seen=0, users_seen=0)


def merge_issues(issues: list[Issue], actor: Any) -> Issue:
    """Merge the issues into the one with the most events; the others are deleted.

    Hashes, events, tag values, counts over time, activities, comments, bookmarks and
    seen marks move to the survivor; counters are summed, users_seen recounted exactly.
    Two transactions with `settle` between them: the first moves everything, the second
    moves what digest batches in flight still wrote to the others, and deletes them.
    """
    ids = sorted({i.pk for i in issues})
    if len(ids) < 2:
        raise ActionError("id", "give at least two issues to merge")
    if len({i.project_id for i in issues}) > 1:
        raise ActionError("id", "issues of different projects cannot be merged")
    with transaction.atomic():
        rows = lock_issues(ids, deleting=False)
        if len(rows) != len(ids):
            raise ActionError("id", "an issue to merge no longer exists")
        survivor = pick_survivor(rows)
        merged = [r for r in rows if r.pk != survivor.pk]
        fold(survivor, rows)
        slug = survivor.project.slug
        issues_data = [
            {"id": str(r.pk), "shortId": format_short_id(slug, r.short_id)} for r in merged
        ]
        record(survivor, actor, "merge", {"issues": issues_data})
    settle()
    with transaction.atomic():
        rows = lock_issues(ids)
        kept = next((r for r in rows if r.pk == survivor.pk), None)
        if kept is not None:  # else deleted meanwhile, with what it had
            fold(kept, rows)
            Issue.objects.filter(pk__in=[r.pk for r in rows if r.pk != kept.pk]).delete()
            survivor = kept
    return survivor


def settle(timeout: float = SETTLE_SECONDS) -> None:
    """Wait until the transactions running now on this database have ended (PostgreSQL).

    Digest reads the hash → issue map early in its batch transaction; once every batch
    that may have read the old owners is done, nothing more can arrive for them, and
    they can go. SQLite runs one writer at a time: nothing to wait for.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    running = (
        "SELECT pid, xact_start FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(running)
        waiting = set(cursor.fetchall())
        deadline = time.monotonic() + timeout
        while waiting and time.monotonic() < deadline:
            time.sleep(0.01)
            cursor.execute(running)  # autocommit: a fresh view of the activity each time
            waiting &= set(cursor.fetchall())
    if waiting:
        log.warning("merge/delete went on with %d transactions still running", len(waiting))


# -- unmerge -------------------------------------------------------------------------


@dataclass
class Moved:
    """What the events moved by an unmerge add up to."""

    count: int = 0
    first: datetime | None = None
    last: datetime | None = None
    latest: dict[str, Any] = field(default_factory=dict)  # payload of the newest event
    first_release: str = ""
    tags: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    hourly: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    daily: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def add(
        self, timestamp: datetime, counted: datetime, release: str, payload: bytes | memoryview
    ) -> None:
        """One event; `counted` is the time digest counted it at (rollups.counted_time)."""
        self.count += 1
        try:
            data = orjson.loads(decode_payload(bytes(payload)))
        except (orjson.JSONDecodeError, ValueError):
            data = {}
        data = data if isinstance(data, dict) else {}
        if self.first is None or timestamp < self.first:
            self.first, self.first_release = timestamp, release
        if self.last is None or timestamp >= self.last:
            self.last, self.latest = timestamp, data
        for pair in data.get("tags") or ():
            if not (isinstance(pair, list) and len(pair) == 2):
                continue
            if not (isinstance(pair[0], str) and isinstance(pair[1], str)):
                continue
            entry = self.tags.setdefault((pair[0], pair[1]), [0, timestamp, timestamp])
            entry[0] += 1
            entry[1], entry[2] = min(entry[1], timestamp), max(entry[2], timestamp)
        unix = int(counted.timestamp())
        self.hourly[unix // HOUR] += 1
        self.daily[unix // DAY] += 1


def check_hashes(hashes: Any) -> list[str]:
    if not isinstance(hashes, list) or not hashes:
        raise ActionError("id", "give the hashes to split off")
    if len(hashes) > MAX_HASHES:
        raise ActionError("id", f"at most {MAX_HASHES} hashes at a time")
    for h in hashes:
        if not isinstance(h, str) or not h or len(h) > 32 or not h.isascii() or not h.isalnum():
            raise ActionError("id", f"{str(h)[:40]!r} is not a grouping hash")
    return sorted(set(hashes))


def reserve_short_id(project_id: int) -> int:
    """Take the project's next short id (locks the project row, as digest does)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE projects_project SET issue_counter = issue_counter + 1 WHERE id = %s"
            " RETURNING issue_counter",
            [project_id],
        )
        return int(cursor.fetchone()[0])


def move_events(source: int, target: int, hashes: list[str], kept: timedelta) -> Moved:
    """Move the source's events whose primary hash is split off, CHUNK rows a statement.

    Their counts over time are moved from the buckets digest counted them in: at their
    received time when the timestamp is in the future or older than `kept` (the
    project's retention), as `counted_time` decides.

    Cost: every moved event's payload is read and decoded once (for its tags); the
    source's other events are not read.
    """
    moved = Moved()
    last_id = 0
    while True:
        rows = list(
            Event.objects.filter(issue_id=source, primary_hash__in=hashes, id__gt=last_id)
            .order_by("id")
            .values_list("id", "timestamp", "received_at", "release", "payload")[:CHUNK]
        )
        if not rows:
            return moved
        for _, timestamp, received_at, release, payload in rows:
            counted = counted_time(timestamp, received_at, kept)
            moved.add(timestamp, counted, release, payload)
        ids = [r[0] for r in rows]
        Event.objects.filter(id__in=ids).update(issue_id=target)
        last_id = ids[-1]


def add_moved(target: int, moved: Moved) -> None:
    IssueTagValue.objects.bulk_create(
        [
            IssueTagValue(issue_id=target, key=k, value=v, times_seen=n, first_seen=f, last_seen=t)
            for (k, v), (n, f, t) in sorted(moved.tags.items())
        ],
        batch_size=CHUNK,
    )
    IssueHourlyCount.objects.bulk_create(
        [IssueHourlyCount(issue_id=target, bucket=b, count=n) for b, n in moved.hourly.items()],
        batch_size=CHUNK,
    )
    IssueDailyCount.objects.bulk_create(
        [IssueDailyCount(issue_id=target, bucket=b, count=n) for b, n in moved.daily.items()],
        batch_size=CHUNK,
    )


def subtract_moved(source: int, moved: Moved) -> None:
    """Take the moved events out of the source's tag values and counts over time."""
    with connection.cursor() as cursor:
        cursor.executemany(
            "UPDATE issues_issuetagvalue SET times_seen = times_seen - %s"
            " WHERE issue_id = %s AND key = %s AND value = %s",
            [[n, source, k, v] for (k, v), (n, _, _) in sorted(moved.tags.items())],
        )
        for table, buckets in (
            ("issues_issuehourlycount", moved.hourly),
            ("issues_issuedailycount", moved.daily),
        ):
            cursor.executemany(
                f"UPDATE {table} SET count = count - %s WHERE issue_id = %s AND bucket = %s",
                [[n, source, b] for b, n in sorted(buckets.items())],
            )
            cursor.execute(f"DELETE FROM {table} WHERE issue_id = %s AND count <= 0", [source])
        cursor.execute(
            "DELETE FROM issues_issuetagvalue WHERE issue_id = %s AND times_seen <= 0", [source]
        )


def text(data: dict[str, Any], key: str, default: str, limit: int) -> str:
    value = data.get(key)
    return value[:limit] if isinstance(value, str) and value else default


@transaction.atomic
def unmerge(issue: Issue, actor: Any, hashes: list[str]) -> Issue:
    """Split `hashes` off the issue into a new one, with the events whose primary hash is
    among them; both issues' counters, tag values, first/last seen, users and counts over
    time are recomputed from the moved events.

    Cost: each moved event is read and its payload decoded once (CHUNK rows a
    statement); the source's other events are only touched by one MIN/MAX of their
    timestamps. So the source keeps exact counts (its counter minus the moved events,
    right even when retention dropped older events), but its remaining tag values keep
    their first/last seen as they were.
    """
    wanted = check_hashes(hashes)
    short = reserve_short_id(issue.project_id)
    rows = lock_issues([issue.pk], deleting=False)
    if not rows:
        raise ActionError("id", "the issue no longer exists")
    source = rows[0]
    owned = dict(
        GroupHash.objects.filter(issue_id=source.pk).values_list("hash", "grouping_version")
    )
    foreign = [h for h in wanted if h not in owned]
    if foreign:
        raise ActionError("id", f"hash {foreign[0]!r} does not belong to this issue")
    if len(owned) <= len(wanted):
        raise ActionError("id", "an issue must keep at least one hash")
    now = timezone.now()
    target = Issue.objects.create(
        project_id=source.project_id,
        short_id=short,
        type=source.type,
        title=source.title,
        culprit=source.culprit,
        metadata=source.metadata,
        level=source.level,
        platform=source.platform,
        grouping_version=owned[wanted[0]],
        first_seen=source.first_seen,
        last_seen=source.last_seen,
        times_seen=0,
        status=Issue.Status.UNRESOLVED,
        substatus=Issue.Substatus.ONGOING,
    )
    GroupHash.objects.filter(issue_id=source.pk, hash__in=wanted).update(issue_id=target.pk)
    kept = timedelta(days=retention_days(source.project.retention_days))
    moved = move_events(source.pk, target.pk, wanted, kept)
    add_moved(target.pk, moved)
    subtract_moved(source.pk, moved)
    if moved.count:
        data = moved.latest
        target.title = text(data, "title", source.title, 512)
        target.culprit = text(data, "culprit", source.culprit, 200)
        target.level = text(data, "level", source.level, 8)
        target.platform = text(data, "platform", source.platform, 64)
        target.type = text(data, "type", source.type, 16)
        metadata = data.get("metadata")
        target.metadata = metadata if isinstance(metadata, dict) else source.metadata
        assert moved.first is not None and moved.last is not None
        target.first_seen, target.last_seen = moved.first, moved.last
        target.first_release = moved.first_release
    target.times_seen = moved.count
    target.users_seen = count_users(target.pk)
    if now - target.first_seen < NEW_FOR:
        target.substatus = Issue.Substatus.NEW
    target.save()
    remaining = Event.objects.filter(issue_id=source.pk).aggregate(
        first=Min("timestamp"), last=Max("timestamp")
    )
    source.times_seen = max(source.times_seen - moved.count, 0)
    source.users_seen = count_users(source.pk)
    source.first_seen = remaining["first"] or source.first_seen
    source.last_seen = remaining["last"] or source.last_seen
    source.save(update_fields=["times_seen", "users_seen", "first_seen", "last_seen"])
    for name in ("times_seen", "users_seen", "first_seen", "last_seen"):
        setattr(issue, name, getattr(source, name))
    record(source, actor, "unmerge_source", {"hashes": wanted, "destination_id": str(target.pk)})
    record(target, actor, "unmerge_destination", {"hashes": wanted, "source_id": str(source.pk)})
    return target


# -- delete --------------------------------------------------------------------------


def detach_hashes(rows: list[Issue], tombstones: dict[int, int] | None) -> None:
    """Hashes go with their issue; with tombstones they point there (events discarded)."""
    for row in rows:
        hashes = GroupHash.objects.filter(issue_id=row.pk)
        if tombstones is None:
            hashes.delete()
        else:
            hashes.update(issue_id=None, tombstone_id=tombstones[row.pk])


def delete_event_chunk(issue_ids: list[int]) -> int:
    """Delete up to CHUNK events of the issues, with their attachments and feedback."""
    rows = list(
        Event.objects.filter(issue_id__in=issue_ids)
        .order_by("id")
        .values_list("id", "project_id", "event_id")[:CHUNK]
    )
    by_project: dict[int, list[str]] = defaultdict(list)
    for _, project_id, event_id in rows:
        by_project[project_id].append(event_id)
    for project_id, event_ids in by_project.items():
        Attachment.objects.filter(project_id=project_id, event_id__in=event_ids).delete()
        UserReport.objects.filter(project_id=project_id, event_id__in=event_ids).delete()
    Event.objects.filter(id__in=[r[0] for r in rows]).delete()
    return len(rows)


def delete_issues(issues: list[Issue], actor: Any, *, discard: bool = False) -> None:
    """Delete the issues with their events (attachments and feedback too), CHUNK events a
    transaction so ingest and digest are never held up for long.

    The hashes are detached first, so events arriving meanwhile make a new issue or,
    with discard=True, are dropped by digest: each issue leaves a GroupTombstone that its
    hashes point to.
    """
    ids = sorted({i.pk for i in issues})
    if not ids:
        return
    tombstones: dict[int, int] | None = {} if discard else None
    with transaction.atomic():
        rows = lock_issues(ids, deleting=False)
        if tombstones is not None:
            now = timezone.now()
            for row in rows:
                tombstones[row.pk] = GroupTombstone.objects.create(
                    project_id=row.project_id,
                    title=row.title,
                    culprit=row.culprit,
                    level=row.level,
                    type=row.type,
                    metadata=row.metadata,
                    actor=acting_user(actor),
                    created_at=now,
                ).pk
        detach_hashes(rows, tombstones)
    settle()
    ids = [r.pk for r in rows]
    while True:
        with transaction.atomic():
            if delete_event_chunk(ids) < CHUNK:
                break
    with transaction.atomic():
        rows = lock_issues(ids)
        ids = [r.pk for r in rows]
        # Events and hashes digest added since the first step (it read the hashes before).
        detach_hashes(rows, tombstones)
        while delete_event_chunk(ids) == CHUNK:
            pass
        for table in ("issues_issuetagvalue", "issues_issuehourlycount", "issues_issuedailycount"):
            for issue_id in ids:
                execute(f"DELETE FROM {table} WHERE issue_id = %s", [issue_id])
        Issue.objects.filter(pk__in=ids).delete()
