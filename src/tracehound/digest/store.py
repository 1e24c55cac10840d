"""Store a batch of processed items in one transaction: bulk inserts, one hash lookup.

Several workers may store at once (PostgreSQL). Two of them can both miss a new hash
and both create an issue for it; hashes are therefore inserted with ON CONFLICT DO
NOTHING RETURNING, and an issue that lost any of its hashes to another worker is
dropped in favour of the winner's (see `assign_issues`). Rows are locked in a stable
order (projects, hashes, issues, tag values, stats all sorted) so that concurrent
batches wait for each other instead of deadlocking.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from django.db import connection

from tracehound.digest.process import MAX_QUANTITY, ProcessedEvent, ProcessedItem
from tracehound.events.models import Event, UserReport
from tracehound.issues.actions import reopen_regressed_issues
from tracehound.issues.models import GroupHash, Issue

MAX_ATTACHMENT_SIZE = 2**31 - 1  # PositiveIntegerField


@dataclass(slots=True)
class IssueDelta:
    count: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    level: str = "error"
    tags: dict[tuple[str, str], list[Any]] = field(default_factory=dict)

    def add(self, event: ProcessedEvent) -> None:
        self.count += 1
        ts = event.timestamp
        if self.first_seen is None or ts < self.first_seen:
            self.first_seen = ts
        if self.last_seen is None or ts >= self.last_seen:
            self.last_seen = ts
            self.level = event.level
        for pair in event.tags:
            entry = self.tags.get(pair)
            if entry is None:
                self.tags[pair] = [1, ts, ts]
            else:
                entry[0] += 1
                entry[1] = min(entry[1], ts)
                entry[2] = max(entry[2], ts)


def chunks(values: list[str], size: int = 500) -> list[list[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def new_events(items: list[ProcessedItem]) -> list[tuple[int, ProcessedEvent]]:
    """Events not stored before (event ids are unique per project), in queue order."""
    candidates = [(item.project_id, item.event) for item in items if item.event is not None]
    by_project: dict[int, list[str]] = defaultdict(list)
    for project_id, event in candidates:
        by_project[project_id].append(event.event_id)
    seen: set[tuple[int, str]] = set()
    for project_id, ids in by_project.items():
        for part in chunks(ids):
            rows = Event.objects.filter(project_id=project_id, event_id__in=part)
            seen.update((project_id, eid) for eid in rows.values_list("event_id", flat=True))
    fresh = []
    for project_id, event in candidates:
        key = (project_id, event.event_id)
        if key not in seen:
            seen.add(key)
            fresh.append((project_id, event))
    return fresh


def known_hashes(events: list[tuple[int, ProcessedEvent]]) -> dict[tuple[int, str], int]:
    keys = {(project_id, h) for project_id, event in events for h in event.grouping.hashes}
    return hash_owners(sorted(keys))


def reserve_short_ids(project_id: int, count: int) -> int:
    """Bump the project's issue counter; returns the first reserved short id."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE projects_project SET issue_counter = issue_counter + %s WHERE id = %s"
            " RETURNING issue_counter",
            [count, project_id],
        )
        last = int(cursor.fetchone()[0])
    return last - count + 1


def insert_hashes(rows: list[GroupHash]) -> set[tuple[int, str]]:
    """Insert hash rows; returns the (project, hash) pairs this call inserted.

    A pair another worker inserted first (committed, or committing: PostgreSQL waits
    for it) is skipped. Sorted, so concurrent inserts take index locks in one order.
    """
    won: set[tuple[int, str]] = set()
    rows = sorted(rows, key=lambda r: (r.project_id, r.hash))
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 500):
            part = rows[start : start + 500]
            values = ", ".join(["(%s, %s, %s, %s)"] * len(part))
            cursor.execute(
                "INSERT INTO issues_grouphash (project_id, hash, issue_id, grouping_version)"
                f" VALUES {values} ON CONFLICT (project_id, hash) DO NOTHING"
                " RETURNING project_id, hash",
                [v for r in part for v in (r.project_id, r.hash, r.issue_id, r.grouping_version)],
            )
            won.update((project_id, hash_) for project_id, hash_ in cursor.fetchall())
    return won


def hash_owners(keys: list[tuple[int, str]]) -> dict[tuple[int, str], int]:
    """The issue each (project, hash) belongs to now."""
    by_project: dict[int, list[str]] = defaultdict(list)
    for project_id, hash_ in keys:
        by_project[project_id].append(hash_)
    owners: dict[tuple[int, str], int] = {}
    for project_id, hashes in by_project.items():
        for part in chunks(hashes):
            rows = GroupHash.objects.filter(project_id=project_id, hash__in=part)
            for hash_, issue_id in rows.values_list("hash", "issue_id"):
                owners[(project_id, hash_)] = issue_id
    return owners


def create_issues(issues: list[Issue]) -> None:
    per_project: dict[int, list[Issue]] = defaultdict(list)
    for issue in issues:
        per_project[issue.project_id].append(issue)
    for project_id in sorted(per_project):  # the counter rows are locked in one order
        first = reserve_short_ids(project_id, len(per_project[project_id]))
        for offset, issue in enumerate(per_project[project_id]):
            issue.short_id = first + offset
    Issue.objects.bulk_create(issues)


def drop_lost_issues(lost: dict[int, int]) -> None:
    """Hand the hashes of issues that lost a race to the winners' issues; delete them.

    They were created in this transaction and hold no event yet.
    """
    with connection.cursor() as cursor:
        cursor.executemany(
            "UPDATE issues_grouphash SET issue_id = %s WHERE issue_id = %s",
            [[winner, loser] for loser, winner in sorted(lost.items())],
        )
    Issue.objects.filter(id__in=list(lost)).delete()


def new_issue(project_id: int, event: ProcessedEvent, version: str) -> Issue:
    g = event.grouping
    return Issue(
        project_id=project_id,
        type=g.type,
        title=g.title[:512],
        culprit=g.culprit[:200],
        metadata=g.metadata,
        level=event.level,
        platform=event.platform[:64],
        grouping_version=version,
        first_seen=event.timestamp,
        last_seen=event.timestamp,
        times_seen=0,
        first_release=event.release,
    )


def assign_issues(events: list[tuple[int, ProcessedEvent]], versions: dict[int, str]) -> list[int]:
    """The issue id for each event, creating issues for hashes never seen.

    Set-based: one lookup of the batch's hashes, new issues and their hashes inserted in
    bulk. A new issue any of whose hashes another worker claimed first is replaced by
    that worker's issue, so a group never ends up as two issues.
    """
    known = known_hashes(events)
    pending: dict[tuple[int, str], Issue] = {}  # hash of a new issue → unsaved issue
    slots: list[tuple[int, str] | int] = []
    for project_id, event in events:
        hashes = event.grouping.hashes
        issue_id = next((known[(project_id, h)] for h in hashes if (project_id, h) in known), None)
        if issue_id is not None:
            slots.append(issue_id)
            continue
        key = next(((project_id, h) for h in hashes if (project_id, h) in pending), None)
        if key is None:
            key = (project_id, hashes[0])
            pending[key] = new_issue(project_id, event, versions[project_id])
        issue = pending[key]
        for h in hashes:  # later events in the batch may match on a secondary hash
            pending.setdefault((project_id, h), issue)
        slots.append(key)
    if pending:
        create_issues(list({id(issue): issue for issue in pending.values()}.values()))
    issue_ids = [slot if isinstance(slot, int) else pending[slot].pk for slot in slots]
    new_hashes: dict[tuple[int, str], GroupHash] = {}
    for (project_id, event), issue_id in zip(events, issue_ids, strict=True):
        for h in event.grouping.hashes:
            if (project_id, h) not in known and (project_id, h) not in new_hashes:
                new_hashes[(project_id, h)] = GroupHash(
                    project_id=project_id,
                    hash=h,
                    issue_id=issue_id,
                    grouping_version=versions[project_id],
                )
    won = insert_hashes(list(new_hashes.values()))
    lost_keys = [key for key in new_hashes if key not in won]
    if not lost_keys:
        return issue_ids
    # Another worker created some of these hashes meanwhile: its issues win.
    owners = hash_owners(lost_keys)
    created = {issue.pk for issue in pending.values()}
    lost: dict[int, int] = {}
    for key in lost_keys:
        loser = new_hashes[key].issue_id
        if loser in created and key in owners:
            lost.setdefault(loser, owners[key])
    if lost:
        drop_lost_issues(lost)
    return [lost.get(issue_id, issue_id) for issue_id in issue_ids]


def datetime_adapter() -> Callable[[datetime | None], Any]:
    """Django's datetime adaptation, once per distinct value: a batch repeats them a lot."""
    adapt = connection.ops.adapt_datetimefield_value
    cache: dict[datetime | None, Any] = {}

    def adapted(value: datetime | None) -> Any:
        try:
            return cache[value]
        except KeyError:
            result = cache[value] = adapt(value)
            return result

    return adapted


def insert_events(rows: list[tuple[int, ProcessedEvent, int]]) -> None:
    # Plain executemany: bulk_create's per-field preparation cost ~60 us per event.
    adapt = datetime_adapter()
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO events_event (project_id, issue_id, event_id, timestamp, received_at,"
            " level, release, environment, primary_hash, payload)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                [
                    project_id,
                    issue_id,
                    e.event_id,
                    adapt(e.timestamp),
                    adapt(e.received_at),
                    e.level,
                    e.release[:200],
                    e.environment[:64],
                    e.grouping.hashes[0],
                    e.payload,
                ]
                for project_id, e, issue_id in rows
            ],
        )


def update_issue_counters(deltas: dict[int, IssueDelta]) -> None:
    adapt = datetime_adapter()
    issue_rows = []
    tag_rows = []
    for issue_id, d in sorted(deltas.items()):  # rows locked in one order
        last = adapt(d.last_seen)
        first = adapt(d.first_seen)
        issue_rows.append([d.count, last, last, first, first, d.level, issue_id])
        for (key, value), (count, t_first, t_last) in sorted(d.tags.items()):
            tag_rows.append([issue_id, key, value, count, adapt(t_first), adapt(t_last)])
    with connection.cursor() as cursor:
        cursor.executemany(
            "UPDATE issues_issue SET times_seen = times_seen + %s,"
            " last_seen = CASE WHEN last_seen < %s THEN %s ELSE last_seen END,"
            " first_seen = CASE WHEN first_seen > %s THEN %s ELSE first_seen END,"
            " level = %s"
            " WHERE id = %s",
            issue_rows,
        )
        cursor.executemany(
            "INSERT INTO issues_issuetagvalue (issue_id, key, value, times_seen, first_seen,"
            " last_seen) VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (issue_id, key, value) DO UPDATE SET"
            " times_seen = issues_issuetagvalue.times_seen + excluded.times_seen,"
            " first_seen = CASE WHEN excluded.first_seen < issues_issuetagvalue.first_seen"
            " THEN excluded.first_seen ELSE issues_issuetagvalue.first_seen END,"
            " last_seen = CASE WHEN excluded.last_seen > issues_issuetagvalue.last_seen"
            " THEN excluded.last_seen ELSE issues_issuetagvalue.last_seen END",
            tag_rows,
        )


def store_stats(items: list[ProcessedItem]) -> None:
    totals: dict[tuple[int, date, str], int] = defaultdict(int)
    for item in items:
        day = datetime.fromtimestamp(item.received_at, tz=UTC).date()
        for key, quantity in item.stats.items():
            totals[(item.project_id, day, key.replace("\x00", "")[:128])] += quantity
    if not totals:
        return
    adapt = connection.ops.adapt_datefield_value
    # Saturating: both terms are at most MAX_QUANTITY, so their sum fits the column.
    total = "projects_projectstat.quantity + excluded.quantity"
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO projects_projectstat (project_id, day, key, quantity)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (project_id, day, key)"
            f" DO UPDATE SET quantity = CASE WHEN {total} > {MAX_QUANTITY}"
            f" THEN {MAX_QUANTITY} ELSE {total} END",
            [
                [p, adapt(day), key, min(max(q, 0), MAX_QUANTITY)]
                for (p, day, key), q in sorted(totals.items())
            ],
        )


def store_attachments(items: list[ProcessedItem]) -> None:
    """Insert attachments, once per (project, event, name): a resent envelope adds none."""
    adapt = datetime_adapter()
    now = adapt(datetime.now(tz=UTC))
    rows = {
        (item.project_id, a.event_id, a.name): [
            item.project_id,
            a.event_id,
            a.name,
            a.content_type,
            a.attachment_type,
            min(a.size, MAX_ATTACHMENT_SIZE),
            a.data,
            now,
        ]
        for item in items
        for a in item.attachments
    }
    if not rows:
        return
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO events_attachment (project_id, event_id, name, content_type,"
            " attachment_type, size, data, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (project_id, event_id, name) DO NOTHING",
            [rows[key] for key in sorted(rows)],
        )


def store_batch(items: list[ProcessedItem], versions: dict[int, str]) -> int:
    """Store everything the items hold; the caller owns the transaction. Returns events stored."""
    events = new_events(items)
    if events:
        issue_ids = assign_issues(events, versions)
        insert_events(
            [
                (project_id, e, issue_id)
                for (project_id, e), issue_id in zip(events, issue_ids, strict=True)
            ]
        )
        deltas: dict[int, IssueDelta] = defaultdict(IssueDelta)
        for (_, event), issue_id in zip(events, issue_ids, strict=True):
            deltas[issue_id].add(event)
        update_issue_counters(deltas)
        reopen_regressed_issues(list(deltas))
    now = datetime.now(tz=UTC)
    store_attachments(items)
    reports = [
        UserReport(
            project_id=item.project_id,
            event_id=r.event_id,
            feedback_id=r.feedback_id,
            name=r.name,
            email=r.email,
            comments=r.comments,
            url=r.url,
            created_at=now,
        )
        for item in items
        for r in item.reports
    ]
    UserReport.objects.bulk_create(reports, ignore_conflicts=True)
    store_stats(items)
    return len(events)
