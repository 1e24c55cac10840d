"""Retention: delete what projects no longer keep, in slices that never hold the database long.

What goes (docs/architecture.md, "Retention", says why it is done this way):
- events older than the project's retention (by event timestamp), with their attachments
  and user feedback; attachments and feedback whose event never came, by their own age;
- issues whose events are all gone and whose last event is older than the retention,
  with everything that hangs off them;
- events of an issue beyond TRACEHOUND_ISSUE_EVENT_CAP, with their attachments: the
  first, the latest N, one per hour before those, the events regressions were
  recorded with and events with user feedback stay (issue counters, tag counts and
  charts are not touched; the cap never deletes feedback);
- counts over time past their window (hourly 14 days, daily 90), and hashes that
  belong to neither an issue nor a tombstone.

Every statement deletes a bounded batch in its own short transaction. The batch size
adapts so each transaction takes about `Pacing.target`, and a pause after each one
lets waiting writers in (on SQLite, a UI action waits for the one write lock
meanwhile; ingest does not, it writes to its spool files, queue.spool). `Retention.run(budget)` does as much as fits in the budget and
returns; the worker calls it between digest batches (queue.housekeeping).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.db import DatabaseError, connection, models, transaction
from django.utils import timezone

from tracehound.events.models import Attachment, Event, UserReport
from tracehound.issues.models import (
    Activity,
    Issue,
    IssueDailyCount,
    IssueHourlyCount,
    ProjectDailyCount,
    ProjectHourlyCount,
)
from tracehound.projects.models import Project

log = logging.getLogger("tracehound.retention")

HOURLY_DAYS = 14
DAILY_DAYS = 90
MAX_ROWS = 1000  # per transaction, whatever the timing says
MIN_ROWS = 10
# A retention pass starts this long after the previous one finished.
PASS_INTERVAL = 60.0
# After a database error (busy, a lock, a constraint), retention rests this long.
ERROR_PAUSE = 5
# PostgreSQL only: the worker holding this advisory lock runs the pass; others skip it.
ADVISORY_LOCK = 0x7472_6163_6572  # "tracer"


@dataclass
class Pacing:
    """Batch size and pauses for one database: short transactions, room for others between."""

    target: float  # seconds per transaction
    pause: float  # seconds to wait after each transaction, at least
    pause_ratio: float  # and this many times the transaction's own duration

    @classmethod
    def for_vendor(cls, vendor: str) -> Pacing:
        if vendor == "sqlite":
            # A UI action or API call waits for the write lock while a batch deletes, and
            # SQLite's busy handler sleeps 1, 2, 5, 10 ms between its tries: batches of
            # ~25 ms and a gap after each. (Before ingest had its spool files it waited
            # too, and batches were kept to 4 ms with 8 ms pauses: ~300-500 rows/s.)
            return cls(target=0.025, pause=0.008, pause_ratio=0.5)
        # PostgreSQL: deletes do not block inserts into the queue; the pause leaves the
        # CPU to ingest on a small machine.
        return cls(target=0.05, pause=0.002, pause_ratio=0.5)


@dataclass
class Limit:
    """Rows per transaction for one kind of statement, adjusted toward the target time."""

    rows: int = 100

    def adjust(self, elapsed: float, target: float) -> None:
        """After a full batch (a partial one says little about the cost of a full one)."""
        scale = min(2.0, max(0.25, target / max(elapsed, 1e-6)))
        self.rows = min(MAX_ROWS, max(MIN_ROWS, int(self.rows * scale)))


def retention_days(project_days: int | None) -> int:
    return project_days or settings.TRACEHOUND_RETENTION_DAYS


def placeholders(values: list[int] | list[str]) -> str:
    return ", ".join(["%s"] * len(values))


def execute(sql: str, params: Sequence[Any]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


# Deleting rows without loading them: Django's cascade would select every dependent row.


def dependents(model: type[models.Model]) -> list[tuple[type[models.Model], str, bool]]:
    """(model, column, cascade) for every foreign key pointing at `model`, including
    those declared with related_name="+" (hidden from `_meta.related_objects`)."""
    found = []
    for rel in model._meta.get_fields(include_hidden=True):
        if not isinstance(rel, models.ForeignObjectRel):
            continue
        if rel.many_to_many or not isinstance(rel.field, models.ForeignKey):
            continue
        cascade = rel.on_delete is models.CASCADE
        if cascade or rel.on_delete is models.SET_NULL:
            found.append((cast(type[models.Model], rel.related_model), rel.field.column, cascade))
    return found


def delete_where(model: type[models.Model], where: str, params: Sequence[Any]) -> int:
    """Delete rows of `model` matching `where` and, first, whatever cascades from them."""
    table, pk = model._meta.db_table, model._meta.pk.column
    ids = f"SELECT {pk} FROM {table} WHERE {where}"
    for child, column, cascade in dependents(model):
        if cascade:
            delete_where(child, f"{column} IN ({ids})", params)
        else:
            execute(
                f"UPDATE {child._meta.db_table} SET {column} = NULL WHERE {column} IN ({ids})",
                params,
            )
    return execute(f"DELETE FROM {table} WHERE {where}", params)


def delete_events(rows: list[tuple[int, int, str]], *, feedback: bool = True) -> int:
    """Delete events (id, project, event id) with their attachments and, unless
    feedback=False, their user feedback."""
    if not rows:
        return 0
    ids = [row[0] for row in rows]
    deleted = execute(f"DELETE FROM events_event WHERE id IN ({placeholders(ids)})", ids)
    by_project: dict[int, list[str]] = {}
    for _, project_id, event_id in rows:
        by_project.setdefault(project_id, []).append(event_id)
    tables = [Attachment._meta.db_table] + ([UserReport._meta.db_table] if feedback else [])
    for project_id, event_ids in sorted(by_project.items()):
        for table in tables:
            execute(
                f"DELETE FROM {table} WHERE project_id = %s"
                f" AND event_id IN ({placeholders(event_ids)})",
                [project_id, *event_ids],
            )
    return deleted


# The steps. Each takes a row limit, runs inside one transaction, and returns the rows
# it deleted and whether there is more to do in this pass.

Step = Callable[[int], tuple[int, bool]]


def expired_events(project_id: int, cutoff: datetime) -> Step:
    # Each batch starts at the last one's timestamp: on PostgreSQL the index keeps the
    # deleted rows' entries until VACUUM, and starting from the front every time would
    # step over all of them again.
    since: list[datetime] = []

    def step(limit: int) -> tuple[int, bool]:
        events = Event.objects.filter(project_id=project_id, timestamp__lt=cutoff)
        if since:
            events = events.filter(timestamp__gte=since[0])
        rows = list(
            events.order_by("timestamp").values_list("id", "project_id", "event_id", "timestamp")[
                :limit
            ]
        )
        if rows:
            since[:] = [rows[-1][3]]
        return delete_events([row[:3] for row in rows]), len(rows) == limit

    return step


def orphans(model: type[Attachment] | type[UserReport], project_id: int, cutoff: datetime) -> Step:
    """Attachments or feedback older than the retention whose event is not stored."""
    table = model._meta.db_table

    def step(limit: int) -> tuple[int, bool]:
        # created_at < cutoff uses the (project, created_at) index; an event arriving
        # meanwhile is younger than the cutoff and keeps its attachments.
        deleted = execute(
            f"DELETE FROM {table} WHERE id IN (SELECT a.id FROM {table} a"
            " WHERE a.project_id = %s AND a.created_at < %s AND NOT EXISTS"
            " (SELECT 1 FROM events_event e WHERE e.project_id = a.project_id"
            " AND e.event_id = a.event_id) ORDER BY a.created_at LIMIT %s)",
            [project_id, adapt(cutoff), limit],
        )
        return deleted, deleted == limit

    return step


def adapt(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


@dataclass
class Cursor:
    """Where a step that walks a table by id got to in this pass."""

    after: int = 0


def empty_issues(project_id: int, cutoff: datetime) -> Step:
    """Issues last seen before the cutoff with no event left, with all their rows."""
    cursor = Cursor()

    def step(limit: int) -> tuple[int, bool]:
        limit = max(1, limit // 10)  # an issue brings hashes, tags, counts, activity
        candidates = list(
            Issue.objects.filter(project_id=project_id, id__gt=cursor.after, last_seen__lt=cutoff)
            .order_by("id")
            .values_list("id", flat=True)[:limit]
        )
        if not candidates:
            return 0, False
        cursor.after = candidates[-1]
        # Checked again in the deleting transaction: an event stored meanwhile keeps it.
        lock = " FOR UPDATE" if connection.vendor == "postgresql" else ""
        with connection.cursor() as c:
            c.execute(
                f"SELECT id FROM issues_issue i WHERE id IN ({placeholders(candidates)})"
                " AND last_seen < %s AND NOT EXISTS"
                f" (SELECT 1 FROM events_event e WHERE e.issue_id = i.id) ORDER BY id{lock}",
                [*candidates, adapt(cutoff)],
            )
            doomed = [row[0] for row in c.fetchall()]
        deleted = delete_where(Issue, f"id IN ({placeholders(doomed)})", doomed) if doomed else 0
        return deleted, len(candidates) == limit

    return step


def orphan_hashes(limit: int) -> tuple[int, bool]:
    deleted = execute(
        "DELETE FROM issues_grouphash WHERE id IN (SELECT id FROM issues_grouphash"
        " WHERE issue_id IS NULL AND tombstone_id IS NULL LIMIT %s)",
        [limit],
    )
    return deleted, deleted == limit


def old_issue_counts(now: datetime) -> Step:
    """Hourly counts past 14 days and daily past 90, a range of issues at a time."""
    hourly = int(now.timestamp()) // 3600 - HOURLY_DAYS * 24
    daily = int(now.timestamp()) // 86400 - DAILY_DAYS
    cursor = Cursor()

    def step(limit: int) -> tuple[int, bool]:
        limit = max(1, limit // 10)  # issues; each may have a few old rows
        ids = list(
            Issue.objects.filter(id__gt=cursor.after)
            .order_by("id")
            .values_list("id", flat=True)[:limit]
        )
        if not ids:
            return 0, False
        first, last = ids[0], ids[-1]
        cursor.after = last
        deleted = 0
        for model, bucket in ((IssueHourlyCount, hourly), (IssueDailyCount, daily)):
            deleted += execute(
                f"DELETE FROM {model._meta.db_table} WHERE issue_id >= %s AND issue_id <= %s"
                " AND bucket < %s",
                [first, last, bucket],
            )
        return deleted, len(ids) == limit

    return step


def old_project_counts(now: datetime) -> Step:
    hourly = int(now.timestamp()) // 3600 - HOURLY_DAYS * 24
    daily = int(now.timestamp()) // 86400 - DAILY_DAYS

    def step(limit: int) -> tuple[int, bool]:
        more = False
        deleted = 0
        for model, bucket in ((ProjectHourlyCount, hourly), (ProjectDailyCount, daily)):
            table = model._meta.db_table
            rows = execute(
                f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE bucket < %s"
                " LIMIT %s)",
                [bucket, limit],
            )
            deleted += rows
            more = more or rows == limit
        return deleted, more

    return step


# The per-issue cap.


def hour_of(value: datetime) -> tuple[int, int, int, int]:
    return (value.year, value.month, value.day, value.hour)


@dataclass
class CapScan:
    """How far the cap got through one issue's older events, and the hours it kept."""

    after: int = 0
    kept_hours: set[tuple[int, int, int, int]] = field(default_factory=set)


def over_cap_boundary(issue_id: int, cap: int) -> int | None:
    """Id of the newest event beyond the latest `cap`, or None if the issue is within it."""
    ids = list(
        Event.objects.filter(issue_id=issue_id)
        .order_by("-id")
        .values_list("id", flat=True)[cap : cap + 1]
    )
    return ids[0] if ids else None


def cap_keeps(issue_id: int, project_id: int, event_ids: list[str]) -> set[str]:
    """Of `event_ids`, those the cap never deletes: events a regression was recorded with
    (Activity.data["event_id"]) and events with user feedback (whose issue page finds
    the feedback through its event)."""
    activities = Activity.objects.filter(issue_id=issue_id, type="set_regression")
    keep = {e for e in activities.values_list("data__event_id", flat=True) if isinstance(e, str)}
    reports = UserReport.objects.filter(project_id=project_id, event_id__in=event_ids)
    return keep | set(reports.values_list("event_id", flat=True))


def capped_issue(issue_id: int, boundary: int, scan: CapScan) -> Step:
    """Delete an issue's events up to `boundary`, keeping the first one of each hour.

    Walking up from the issue's oldest event, the first event is always kept, and so is
    the first of every later hour: what remains is a time-spread sample. Events a
    regression was recorded with, and events with user feedback, stay too (`cap_keeps`).
    Attachments go with their events; feedback is never deleted by the cap (not even
    feedback arriving as its event goes): retention removes it by its own age (`orphans`).
    """

    def step(limit: int) -> tuple[int, bool]:
        rows = list(
            Event.objects.filter(issue_id=issue_id, id__gt=scan.after, id__lte=boundary)
            .order_by("id")
            .values_list("id", "timestamp", "project_id", "event_id")[:limit]
        )
        keep = cap_keeps(issue_id, rows[0][2], [r[3] for r in rows]) if rows else set()
        doomed = []
        for event_pk, timestamp, project_id, event_id in rows:
            hour = hour_of(timestamp)
            if hour not in scan.kept_hours:
                scan.kept_hours.add(hour)
            elif event_id not in keep:
                doomed.append((event_pk, project_id, event_id))
        if rows:
            scan.after = rows[-1][0]
        return delete_events(doomed, feedback=False), len(rows) == limit

    return step


def over_cap_issues(cap: int, since: datetime | None) -> list[int]:
    """Issues that may store more than `cap` events: times_seen bounds the stored count,
    and only issues with events since the last pass can have grown."""
    issues = Issue.objects.filter(times_seen__gt=cap)
    if since is not None:
        issues = issues.filter(last_seen__gte=since)
    return list(issues.order_by("id").values_list("id", flat=True))


class Retention:
    """Runs retention passes in budgeted slices; keeps its place between calls."""

    def __init__(self) -> None:
        self.pacing = Pacing.for_vendor(connection.vendor)
        self.limits: dict[str, Limit] = {}
        self.steps: Iterator[tuple[str, Step]] | None = None
        self.current: tuple[str, Step] | None = None
        self.next_pass = 0.0  # monotonic time; 0: the first call starts one
        self.cap_since: datetime | None = None  # last_seen bound for the cap's candidates
        self.cap_scans: dict[int, CapScan] = {}
        self.deleted = 0  # rows, in this process's lifetime
        self.paused_until = 0.0  # after a database error
        self.lock = PassLock()

    @property
    def busy(self) -> bool:
        """A pass is under way (more slices to run soon)."""
        return self.steps is not None

    def plan(self, now: datetime) -> Iterator[tuple[str, Step]]:
        """The steps of one pass, made as it goes (each project's cutoff when reached)."""
        projects = list(Project.objects.order_by("id").values_list("id", "retention_days"))
        for project_id, days in projects:
            cutoff = now - timedelta(days=retention_days(days))
            yield "events", expired_events(project_id, cutoff)
            yield "attachments", orphans(Attachment, project_id, cutoff)
            yield "feedback", orphans(UserReport, project_id, cutoff)
            yield "issues", empty_issues(project_id, cutoff)
        cap = settings.TRACEHOUND_ISSUE_EVENT_CAP
        if cap:
            candidates = over_cap_issues(cap, self.cap_since)
            self.cap_since = now - timedelta(hours=1)  # events arrive a little late
            pending = sorted(set(candidates) | set(self.cap_scans))
            for issue_id in pending:
                boundary = over_cap_boundary(issue_id, cap)
                if boundary is None:
                    self.cap_scans.pop(issue_id, None)
                    continue
                # The scan is kept: the next pass goes on from where this one ended.
                scan = self.cap_scans.setdefault(issue_id, CapScan())
                yield "cap", capped_issue(issue_id, boundary, scan)
        yield "issue counts", old_issue_counts(now)
        yield "project counts", old_project_counts(now)
        yield "hashes", orphan_hashes

    def run(self, budget: float, now: datetime | None = None) -> int:
        """Run transactions for up to `budget` seconds (at least one); returns rows deleted.

        A database error (a lock, a busy database) ends the slice; the step is tried
        again after ERROR_PAUSE seconds. Any other error abandons the pass until the next one is due.
        """
        started = time.monotonic()
        if started < self.paused_until:
            return 0
        if self.steps is None and started < self.next_pass:
            return 0
        deleted = 0
        try:
            if not self.lock.acquire():
                # Another worker is running a pass (or took over the one this worker had
                # when its lock went, with an error or a new connection).
                self.finish_pass()
                return 0
            if self.steps is None:
                self.steps = self.plan(now or timezone.now())
            while (rows := self.run_one()) is not None:
                deleted += rows
                if time.monotonic() - started >= budget:
                    break
        except DatabaseError as exc:
            log.warning("retention paused for %d s: %s", ERROR_PAUSE, exc)
            self.paused_until = time.monotonic() + ERROR_PAUSE
            self.lock.release()  # others may go on meanwhile; the next slice asks again
        except Exception:
            self.finish_pass()
            raise
        finally:
            self.deleted += deleted
        return deleted

    def finish_pass(self) -> None:
        self.steps = self.current = None
        self.next_pass = time.monotonic() + PASS_INTERVAL
        self.lock.release()

    def run_one(self) -> int | None:
        """One transaction of the current step: rows deleted, None when the pass is over."""
        assert self.steps is not None
        if self.current is None:
            self.current = next(self.steps, None)
            if self.current is None:
                self.finish_pass()
                return None
        name, step = self.current
        limit = self.limits.setdefault(name, Limit())
        with transaction.atomic():
            # Timed from here: on SQLite, BEGIN IMMEDIATE may have waited for another
            # writer, which says nothing about what a batch costs.
            began = time.monotonic()
            deleted, more = step(limit.rows)
        elapsed = time.monotonic() - began
        if not more:
            self.current = None
        else:
            limit.adjust(elapsed, self.pacing.target)
        time.sleep(self.pacing.pause + elapsed * self.pacing.pause_ratio)
        return deleted


class PassLock:
    """PostgreSQL: one worker runs a retention pass, the others skip it and digest.

    A session-level advisory lock, taken when a pass starts and released when it ends
    or a database error pauses it (a transaction-level lock would let workers alternate
    per transaction, each repeating the same pass). A pass runs in slices across many
    calls; if the connection was replaced meanwhile (the lock went with the old
    session), the next slice takes the lock again or, when another worker has it,
    abandons the pass. SQLite has one writer: nothing to share.
    """

    def __init__(self) -> None:
        self.held_on: Any = None  # the DB-API connection whose session holds the lock

    def acquire(self) -> bool:
        if connection.vendor != "postgresql":
            return True
        connection.ensure_connection()
        if self.held_on is not None and self.held_on is connection.connection:
            return True
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK])
            taken = bool(cursor.fetchone()[0])
        self.held_on = connection.connection if taken else None
        return taken

    def release(self) -> None:
        held_on, self.held_on = self.held_on, None
        if held_on is None or held_on is not connection.connection:
            return  # never taken, or its session ended and the lock with it
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK])
        except DatabaseError as exc:
            # Not left held by a live session: closing it ends the session and its lock.
            log.warning("retention lock not released (%s); closing the connection", exc)
            if not connection.in_atomic_block:
                connection.close()


def run_retention(now: datetime | None = None) -> int:
    """A whole pass at once (tests, the command line); returns rows deleted."""
    retention = Retention()
    retention.pacing = Pacing(target=retention.pacing.target, pause=0.0, pause_ratio=0.0)
    total = retention.run(float("inf"), now)
    while retention.busy:
        total += retention.run(float("inf"), now)
    return total
