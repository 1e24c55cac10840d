"""Store a batch of processed items in one transaction: bulk inserts, one hash lookup.

Several workers may store at once (PostgreSQL). Two of them can both miss a new hash
and both create an issue for it; hashes are therefore inserted with ON CONFLICT DO
NOTHING RETURNING, and an issue that lost any of its hashes to another worker is
dropped in favour of the winner's (see `assign_issues`). Rows are locked in a stable
order (projects, hashes, issues, tag values, counts, releases, environments, stats, all
sorted) so that concurrent batches wait for each other instead of deadlocking. The
issues of a batch are locked before anything about them is decided (lifecycle: see
`issues.batch_actions`); rollups beside events are in `digest.rollups`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection

from tracehound.alerts.evaluate import BatchEvent, evaluate_batch
from tracehound.digest.process import MAX_QUANTITY, ProcessedEvent, ProcessedItem, ProjectGrouping
from tracehound.digest.rollups import (
    MIN_MAX,
    Seen,
    counted_time,
    insert_new_users,
    insert_rows,
    seen_at,
    store_environments,
    store_releases,
    store_time_counts,
    upsert_counts,
)
from tracehound.events.models import Event, UserReport
from tracehound.issues.batch_actions import IssueEvents, apply_digest_lifecycle, lock_issues
from tracehound.issues.models import GroupHash, Issue
from tracehound.projects.models import Project

MAX_ATTACHMENT_SIZE = 2**31 - 1  # PositiveIntegerField


@dataclass(slots=True)
class IssueDelta:
    count: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    level: str = "error"
    tags: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    new_users: int = 0

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
    """Events not stored before (event ids are unique per project), in queue order.

    An unlocked read that spares grouping the events already stored; another worker
    may be storing the same event id meanwhile, and `insert_events` settles that.
    """
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


class HashOwner(NamedTuple):
    """What a hash belongs to: an issue, or (issue None) a tombstone."""

    issue_id: int | None
    tombstone_id: int | None


def known_hashes(events: list[tuple[int, ProcessedEvent]]) -> dict[tuple[int, str], HashOwner]:
    keys = {
        (project_id, h)
        for project_id, event in events
        for h in (*event.grouping.hashes, *event.secondary_hashes)
    }
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
    rows = sorted(rows, key=lambda r: (r.project_id, r.hash))
    inserted = insert_rows(
        "issues_grouphash (project_id, hash, issue_id, grouping_version)",
        "(%s, %s, %s, %s)",
        [(r.project_id, r.hash, r.issue_id, r.grouping_version) for r in rows],
        "(project_id, hash) DO NOTHING",
        "project_id, hash",
    )
    return {(project_id, hash_) for project_id, hash_ in inserted}


def hash_owners(keys: list[tuple[int, str]]) -> dict[tuple[int, str], HashOwner]:
    """The issue (or tombstone) each known (project, hash) belongs to now."""
    by_project: dict[int, list[str]] = defaultdict(list)
    for project_id, hash_ in keys:
        by_project[project_id].append(hash_)
    owners: dict[tuple[int, str], HashOwner] = {}
    for project_id, hashes in by_project.items():
        for part in chunks(hashes):
            rows = GroupHash.objects.filter(project_id=project_id, hash__in=part)
            for hash_, issue_id, tombstone_id in rows.values_list(
                "hash", "issue_id", "tombstone_id"
            ):
                owners[(project_id, hash_)] = HashOwner(issue_id, tombstone_id)
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


@dataclass(slots=True)
class Assignment:
    owners: list[HashOwner]  # per event: its issue, or the tombstone that discards it
    created: set[int]  # issues this batch created


def first_known(
    project_id: int, hashes: tuple[str, ...], known: dict[tuple[int, str], HashOwner]
) -> HashOwner | None:
    for h in hashes:
        owner = known.get((project_id, h))
        if owner is not None and (owner.issue_id is not None or owner.tombstone_id is not None):
            return owner
    return None


def assign_issues(
    events: list[tuple[int, ProcessedEvent]], groupings: dict[int, ProjectGrouping]
) -> Assignment:
    """The issue for each event (or the tombstone discarding it), creating issues as needed.

    Set-based: one lookup of the batch's hashes (primary and, during a grouping
    transition, secondary), new issues and their hashes inserted in bulk. The first
    known hash decides: an event matching only a secondary hash joins that issue, and
    its primary hashes are added to it, so the issue keeps its events after the window.
    New issues get primary hashes only. A new issue any of whose hashes another worker
    claimed first is replaced by that worker's issue, so a group never ends up as two.
    """
    known = known_hashes(events)
    pending: dict[tuple[int, str], Issue] = {}  # hash of a new issue → unsaved issue
    slots: list[tuple[int, str] | HashOwner] = []
    for project_id, event in events:
        hashes = event.grouping.hashes
        owner = first_known(project_id, (*hashes, *event.secondary_hashes), known)
        if owner is not None:
            slots.append(owner)
            continue
        key = next(((project_id, h) for h in hashes if (project_id, h) in pending), None)
        if key is None:
            key = (project_id, hashes[0])
            pending[key] = new_issue(project_id, event, groupings[project_id].version)
        issue = pending[key]
        for h in hashes:  # later events in the batch may match on a secondary hash
            pending.setdefault((project_id, h), issue)
        slots.append(key)
    if pending:
        create_issues(list({id(issue): issue for issue in pending.values()}.values()))
    owners = [
        slot if isinstance(slot, HashOwner) else HashOwner(pending[slot].pk, None) for slot in slots
    ]
    new_hashes: dict[tuple[int, str], GroupHash] = {}
    for (project_id, event), owner in zip(events, owners, strict=True):
        if owner.issue_id is None:
            continue  # discarded: its hashes stay unknown
        for h in event.grouping.hashes:
            if (project_id, h) not in known and (project_id, h) not in new_hashes:
                new_hashes[(project_id, h)] = GroupHash(
                    project_id=project_id,
                    hash=h,
                    issue_id=owner.issue_id,
                    grouping_version=groupings[project_id].version,
                )
    created = {issue.pk for issue in pending.values()}
    # Hashes added to existing issues (a grouping transition) reference them: lock those
    # issues in id order first, as deleting issues does, not in the hashes' order.
    existing = {h.issue_id for h in new_hashes.values() if h.issue_id not in created}
    if existing:
        lock_issues(i for i in existing if i is not None)
    won = insert_hashes(list(new_hashes.values()))
    lost_keys = [key for key in new_hashes if key not in won]
    if not lost_keys:
        return Assignment(owners, created)
    # Another worker created some of these hashes meanwhile: its issues win.
    now_owned = hash_owners(lost_keys)
    lost: dict[int, int] = {}
    for key in lost_keys:
        loser = new_hashes[key].issue_id
        winner = now_owned.get(key)
        winner_id = winner.issue_id if winner is not None else None
        if loser is not None and loser in created and winner_id not in (None, loser):
            lost.setdefault(loser, winner_id)  # type: ignore[arg-type]
    if lost:
        drop_lost_issues(lost)
    return Assignment(
        [HashOwner(lost.get(o.issue_id, o.issue_id), None) if o.issue_id else o for o in owners],
        created - set(lost),
    )


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


def insert_events(rows: list[tuple[int, ProcessedEvent, int]]) -> set[tuple[int, str]]:
    """Insert the events; returns the (project, event id) pairs this call inserted.

    An event id another worker stored first (committed, or committing: PostgreSQL
    waits for it) is skipped, so a resent event is stored once and counted once. Rows
    go in queue order, so event ids grow in the order events were received.
    """
    adapt = datetime_adapter()
    inserted = insert_rows(
        "events_event (project_id, issue_id, event_id, timestamp, received_at,"
        " level, release, environment, primary_hash, payload)",
        "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            (
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
            )
            for project_id, e, issue_id in rows
        ],
        "(project_id, event_id) DO NOTHING",
        "project_id, event_id",
    )
    return {(project_id, event_id) for project_id, event_id in inserted}


def update_issue_counters(deltas: dict[int, IssueDelta]) -> None:
    adapt = datetime_adapter()
    issue_rows = []
    tag_rows = []
    for issue_id, d in sorted(deltas.items()):  # rows locked in one order
        last = adapt(d.last_seen)
        first = adapt(d.first_seen)
        issue_rows.append([d.count, d.new_users, last, last, first, first, last, d.level, issue_id])
        for (key, value), (count, t_first, t_last) in sorted(d.tags.items()):
            tag_rows.append([issue_id, key, value, count, adapt(t_first), adapt(t_last)])
    with connection.cursor() as cursor:
        cursor.executemany(
            "UPDATE issues_issue SET times_seen = times_seen + %s, users_seen = users_seen + %s,"
            " last_seen = CASE WHEN last_seen < %s THEN %s ELSE last_seen END,"
            " first_seen = CASE WHEN first_seen > %s THEN %s ELSE first_seen END,"
            # The level of the latest event: a late event from before last_seen keeps it.
            " level = CASE WHEN last_seen <= %s THEN %s ELSE level END"
            " WHERE id = %s",
            issue_rows,
        )
    insert_rows(
        "issues_issuetagvalue (issue_id, key, value, times_seen, first_seen, last_seen)",
        "(%s, %s, %s, %s, %s, %s)",
        tag_rows,
        "(issue_id, key, value) DO UPDATE SET"
        " times_seen = issues_issuetagvalue.times_seen + excluded.times_seen,"
        f" {MIN_MAX.format(t='issues_issuetagvalue')}",
    )


def store_stats(items: list[ProcessedItem], totals: dict[tuple[int, date, str], int]) -> None:
    """Add the items' stats to `totals` (counts digest adds itself) and store them."""
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


def store_attachments(items: list[ProcessedItem], discarded: set[tuple[int, str]]) -> None:
    """Insert attachments, once per (project, event, name): a resent envelope adds none.

    Attachments of discarded events (tombstoned issues) are dropped with them.
    """
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
        if (item.project_id, a.event_id) not in discarded
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


def retention(project_ids: set[int]) -> dict[int, timedelta]:
    default = int(getattr(settings, "TRACEHOUND_RETENTION_DAYS", 30))
    rows = Project.objects.filter(id__in=project_ids).values_list("id", "retention_days")
    return {project_id: timedelta(days=days or default) for project_id, days in rows}


def count_discarded(tombstones: dict[int, int]) -> None:
    with connection.cursor() as cursor:
        cursor.executemany(
            "UPDATE issues_grouptombstone SET times_discarded = times_discarded + %s WHERE id = %s",
            [[n, tombstone_id] for tombstone_id, n in sorted(tombstones.items())],
        )


def user_tag_seen(deltas: dict[int, IssueDelta]) -> dict[tuple[int, str], Seen]:
    return {
        (issue_id, value): Seen(first, last)
        for issue_id, d in deltas.items()
        for (key, value), (_, first, last) in d.tags.items()
        if key == "user"
    }


def store_events(rows: list[tuple[int, ProcessedEvent, int]], created: set[int]) -> int:
    """Events, counters, rollups and lifecycle decisions for events that have an issue.

    Everything after the INSERT follows only the events it inserted. Returns how many.
    """
    locked = lock_issues({issue_id for _, _, issue_id in rows})
    inserted = insert_events(rows)
    rows = [row for row in rows if (row[0], row[1].event_id) in inserted]
    kept = retention({project_id for project_id, _, _ in rows})
    deltas: dict[int, IssueDelta] = defaultdict(IssueDelta)
    batch: dict[int, IssueEvents] = defaultdict(IssueEvents)
    releases: dict[tuple[int, str], Seen] = {}
    environments: dict[tuple[int, str], Seen] = {}
    counted: list[tuple[int, int, datetime]] = []
    first_event: dict[int, str] = {}
    new_issues: dict[tuple[int, str], int] = defaultdict(int)
    for project_id, e, issue_id in rows:
        deltas[issue_id].add(e)
        ts = counted_time(e.timestamp, e.received_at, kept[project_id])
        counted.append((project_id, issue_id, ts))
        entry = batch[issue_id]
        entry.count += 1
        entry.events.append((e.event_id, e.release, e.received_at))
        if e.release:
            seen_at(releases, (project_id, e.release[:200]), ts)
        if e.environment:
            seen_at(environments, (project_id, e.environment[:64]), ts)
        if issue_id in created and issue_id not in first_event:
            first_event[issue_id] = e.event_id
            if e.release:
                new_issues[(project_id, e.release[:200])] += 1
    adapt = datetime_adapter()
    for issue_id, n in insert_new_users(user_tag_seen(deltas), adapt).items():
        deltas[issue_id].new_users = batch[issue_id].new_users = n
    update_issue_counters(deltas)
    store_time_counts(counted)
    store_minute_counts(counted)
    store_releases(releases, new_issues, adapt)
    store_environments(environments, adapt)
    now = datetime.now(tz=UTC)
    changes = apply_digest_lifecycle(locked, batch, first_event, now)
    evaluate_batch([BatchEvent(p, i, e) for p, e, i in rows], changes, now)
    return len(rows)


def store_minute_counts(counted: list[tuple[int, int, datetime]]) -> None:
    """Events per issue per minute (alerts.IssueMinuteCount): what frequency alert rules
    with windows up to an hour read. One upsert per (issue, minute) per batch; kept two
    hours (queue.housekeeping.prune_old_rows)."""
    minutes: dict[tuple[int, int], int] = defaultdict(int)
    for _, issue_id, ts in counted:
        minutes[(issue_id, int(ts.timestamp()) // 60)] += 1
    upsert_counts("alerts_issueminutecount", "issue_id", minutes)


def store_batch(items: list[ProcessedItem], groupings: dict[int, ProjectGrouping]) -> int:
    """Store everything the items hold; the caller owns the transaction. Returns events stored."""
    events = new_events(items)
    rows: list[tuple[int, ProcessedEvent, int]] = []
    stored = 0
    discarded: set[tuple[int, str]] = set()
    stats: dict[tuple[int, date, str], int] = defaultdict(int)
    if events:
        assignment = assign_issues(events, groupings)
        tombstones: dict[int, int] = defaultdict(int)
        for (project_id, e), owner in zip(events, assignment.owners, strict=True):
            if owner.issue_id is not None:
                rows.append((project_id, e, owner.issue_id))
            elif owner.tombstone_id is not None:
                tombstones[owner.tombstone_id] += 1
                discarded.add((project_id, e.event_id))
                stats[(project_id, e.received_at.date(), "discarded:tombstone:error")] += 1
        if tombstones:
            count_discarded(tombstones)
        if rows:
            stored = store_events(rows, assignment.created)
    now = datetime.now(tz=UTC)
    store_attachments(items, discarded)
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
    store_stats(items, stats)
    return stored
