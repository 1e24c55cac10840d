"""Alert rules, the database side: read what a change needs, ask `alerts.rules`, enqueue.

Called inside the transaction of the change, so a notification exists exactly when the
change committed (a crash loses none; a replayed batch stores no event, changes
nothing and so enqueues nothing):

- `evaluate_batch` from digest (`digest.store.store_events`), once per batch, for the
  issues the batch stored events for. A batch whose projects have no enabled rule
  costs one query. Frequency counts come from IssueMinuteCount (windows up to an hour)
  or IssueHourlyCount, users from the `user` tag rows, never from events.
- `on_resolved` from every resolve (issues.actions.resolve, auto-resolve by age):
  rules with the "resolved" trigger, plus every channel whose backend
  `follows_resolve` and that was notified about the issue (or holds its ticket).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import connection

from tracehound.alerts import outbox, registry
from tracehound.alerts import rules as R
from tracehound.alerts.base import Notification as Message
from tracehound.alerts.messages import decoded, issue_message
from tracehound.alerts.models import (
    AlertRule,
    Channel,
    ExternalIssueLink,
    Notification,
    RuleFired,
)
from tracehound.issues.models import Issue

if TYPE_CHECKING:
    from tracehound.digest.process import ProcessedEvent
    from tracehound.events.models import Event
    from tracehound.issues.models import Activity

log = logging.getLogger("tracehound.alerts")

RULE_FIELDS = (
    "id",
    "project_id",
    "name",
    "triggers",
    "frequency_count",
    "frequency_window",
    "users_count",
    "users_window",
    "environment",
    "min_level",
    "release",
    "tag_filters",
    "throttle_minutes",
)
# Kinds after which a follows_resolve channel is owed the resolve.
TRIGGER_KINDS = (
    "issue.new",
    "issue.regression",
    "issue.frequency",
    "issue.users",
    "issue.unignored",
)
CHANGE_TRIGGER = {"first_seen": "new_issue", "set_regression": "regression"}


def enabled_rules(project_ids: Iterable[int]) -> tuple[list[R.Rule], dict[int, list[int]]]:
    """The projects' enabled rules that have an enabled channel, and each rule's enabled
    channel ids: one query (the rule columns ride on the rule-channel join)."""
    through = AlertRule.channels.through
    rows = (
        through.objects.filter(
            alertrule__project_id__in=sorted(set(project_ids)),
            alertrule__enabled=True,
            channel__enabled=True,
        )
        .order_by("alertrule_id", "channel_id")
        .values_list("channel_id", *(f"alertrule__{f}" for f in RULE_FIELDS))
    )
    rules: dict[int, R.Rule] = {}
    channels: dict[int, list[int]] = defaultdict(list)
    for channel_id, *values in rows:
        rule_id = values[0]
        if rule_id not in rules:
            rules[rule_id] = R.rule_from_values(dict(zip(RULE_FIELDS, values, strict=True)))
        channels[rule_id].append(channel_id)
    return list(rules.values()), channels


def facts_of(event: ProcessedEvent) -> R.EventFacts:
    return R.EventFacts(
        level=event.level,
        environment=event.environment,
        release=event.release,
        tags=tuple(event.tags),
        event_id=event.event_id,
    )


def stored_facts(event: Event | None) -> R.EventFacts:
    """Facts of a stored event: its columns, and the tags its payload carries."""
    if event is None:
        return R.EventFacts(level="", environment="", release="")
    data = decoded(event.payload)
    raw = data.get("tags")
    tags = [
        (str(p[0]), str(p[1])) for p in raw or () if isinstance(p, list | tuple) and len(p) == 2
    ]
    tags += [("level", event.level), ("environment", event.environment), ("release", event.release)]
    return R.EventFacts(event.level, event.environment, event.release, tuple(tags), event.event_id)


def window_sums(issue_ids: list[int], minutes: int, now: datetime) -> dict[int, int]:
    """Events per issue in the last `minutes`: minute rollup for short windows, hourly
    rollup (hour-granular) for longer ones."""
    if R.uses_minute_rollup(minutes):
        table, start = "alerts_issueminutecount", R.window_start(now, minutes)
    else:
        table, start = "issues_issuehourlycount", R.hour_window_start(now, minutes)
    placeholders = ", ".join(["%s"] * len(issue_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT issue_id, SUM(count) FROM {table} WHERE issue_id IN ({placeholders})"
            " AND bucket >= %s GROUP BY issue_id",
            [*issue_ids, start],
        )
        return {int(i): int(n) for i, n in cursor.fetchall()}


def read_counts(facts: dict[int, R.IssueFacts], rules: list[R.Rule], now: datetime) -> None:
    """Fill events_in_window / users_in_window for the rules that need them."""
    from datetime import timedelta

    from tracehound.issues.batch_actions import users_within

    by_project: dict[int, list[int]] = defaultdict(list)
    for f in facts.values():
        by_project[f.project_id].append(f.issue_id)
    sums: dict[tuple[int, int], dict[int, int]] = {}  # (project, window) → counts
    for rule in rules:
        freq, users = R.needs_counts(rule)
        issues = sorted(by_project.get(rule.project_id, ()))
        if not issues:
            continue
        if freq and rule.frequency_window:
            key = (rule.project_id, rule.frequency_window)
            if key not in sums:
                sums[key] = window_sums(issues, rule.frequency_window, now)
            for issue_id in issues:
                facts[issue_id].events_in_window[rule.id] = sums[key].get(issue_id, 0)
        if users and rule.users_window and rule.users_count is not None:
            since = now - timedelta(minutes=rule.users_window)
            for issue_id in issues:
                if rule.id in facts[issue_id].throttled:
                    continue
                n = users_within(issue_id, since, rule.users_count + 1)
                facts[issue_id].users_in_window[rule.id] = n


class LatestReleases(Mapping[int, "str | None"]):
    """Project id → its newest release, read on first use: only a rule filtering on
    release "latest" whose trigger held asks."""

    def __init__(self) -> None:
        self.known: dict[int, str | None] = {}

    def __getitem__(self, project_id: int) -> str | None:
        if project_id not in self.known:
            from tracehound.issues.actions import latest_release

            release = latest_release(project_id)
            self.known[project_id] = release.version if release is not None else None
        return self.known[project_id]

    def __iter__(self) -> Iterator[int]:
        return iter(self.known)

    def __len__(self) -> int:
        return len(self.known)


def mark_throttled(facts: dict[int, R.IssueFacts], rules: list[R.Rule], now: datetime) -> None:
    """Note the (rule, issue) pairs still inside the rule's throttle interval, so that
    no window count is read for them: one query over RuleFired."""
    throttles = {r.id: r.throttle_minutes for r in rules if r.throttle_minutes}
    if not throttles or not facts:
        return
    fired = RuleFired.objects.filter(rule_id__in=sorted(throttles), issue_id__in=sorted(facts))
    for rule_id, issue_id, last in fired.values_list("rule_id", "issue_id", "last_fired_at"):
        if last > R.throttle_cutoff(now, throttles[rule_id]):
            facts[issue_id].throttled.add(rule_id)


def claim(decisions: list[R.Decision], now: datetime) -> list[R.Decision]:
    """Apply the throttle atomically: upsert RuleFired for each (rule, issue), moving
    last_fired_at only where the previous one is older than the rule's interval; the
    rows it wrote are the decisions that go out. Concurrent batches serialize on the row."""
    by_throttle: dict[int, list[R.Decision]] = defaultdict(list)
    for d in decisions:
        by_throttle[d.rule.throttle_minutes].append(d)
    adapt = connection.ops.adapt_datetimefield_value
    fired: set[tuple[int, int]] = set()
    for minutes, group in sorted(by_throttle.items()):
        pairs = sorted({(d.rule.id, d.issue_id) for d in group})
        values = ", ".join(["(%s, %s, %s)"] * len(pairs))
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO alerts_rulefired (rule_id, issue_id, last_fired_at) VALUES {values}"
                " ON CONFLICT (rule_id, issue_id) DO UPDATE SET last_fired_at = excluded.last_fired_at"
                " WHERE alerts_rulefired.last_fired_at <= %s RETURNING rule_id, issue_id",
                [
                    *(v for r, i in pairs for v in (r, i, adapt(now))),
                    adapt(R.throttle_cutoff(now, minutes)),
                ],
            )
            fired.update((int(r), int(i)) for r, i in cursor.fetchall())
    return [d for d in decisions if (d.rule.id, d.issue_id) in fired]


@dataclass(slots=True)
class BatchEvent:
    """One stored event of the batch: what evaluate needs of digest's rows."""

    project_id: int
    issue_id: int
    event: ProcessedEvent


def issue_facts(
    events: Sequence[BatchEvent], activities: Sequence[Activity], project_ids: set[int]
) -> dict[int, R.IssueFacts]:
    """Per touched issue of a project with rules: its last event and the changes made."""
    facts: dict[int, R.IssueFacts] = {}
    by_id: dict[str, R.EventFacts] = {}
    for row in events:
        if row.project_id not in project_ids:
            continue
        event_facts = facts_of(row.event)
        by_id[row.event.event_id] = event_facts
        entry = facts.get(row.issue_id)
        if entry is None:
            facts[row.issue_id] = R.IssueFacts(row.issue_id, row.project_id, event_facts)
        else:
            entry.event = event_facts
    for activity in activities:
        entry = facts.get(activity.issue_id)
        if entry is None:
            continue
        data = activity.data if isinstance(activity.data, dict) else {}
        trigger = CHANGE_TRIGGER.get(activity.type)
        if activity.type == "set_unresolved" and data.get("reason") == "unignored":
            trigger = "unignored"
        if trigger is None:
            continue
        entry.changes.append(R.Change(trigger, activity.pk, data))
        cause = by_id.get(str(data.get("event_id", "")))
        if cause is not None:
            entry.change_events[trigger] = cause
    return facts


def evaluate_batch(
    events: Sequence[BatchEvent], activities: Sequence[Activity], now: datetime
) -> int:
    """Enqueue what the batch's rules owe; returns how many outbox rows were made."""
    if not events:
        return 0
    rules, channels = enabled_rules({e.project_id for e in events})
    rules = [r for r in rules if r.triggers & R.DIGEST_TRIGGERS]
    if not rules:
        return 0
    facts = issue_facts(events, activities, {r.project_id for r in rules})
    mark_throttled(facts, rules, now)
    read_counts(facts, rules, now)
    decisions = R.decide(rules, facts.values(), now, LatestReleases())
    if not decisions:
        return 0
    fired = claim(decisions, now)
    processed = {e.event.event_id: e.event for e in events}
    return send(fired, channels, processed, now)


def send(
    decisions: list[R.Decision],
    channels: dict[int, list[int]],
    events: dict[str, ProcessedEvent],
    now: datetime,
) -> int:
    if not decisions:
        return 0
    issues = Issue.objects.select_related("project__organization").in_bulk(
        sorted({d.issue_id for d in decisions})
    )
    by_id = Channel.objects.in_bulk(sorted({c for d in decisions for c in channels[d.rule.id]}))
    made = 0
    built: dict[tuple[int, str, str], Message] = {}  # one build per issue and cause
    for d in decisions:
        issue = issues.get(d.issue_id)
        if issue is None:
            continue
        cause = (d.issue_id, d.trigger, d.event.event_id)
        if cause not in built or d.trigger in ("frequency", "users"):
            built[cause] = issue_message(
                issue,
                R.KIND_OF[d.trigger],
                R.reason(d.trigger, d.details),
                event=events.get(d.event.event_id),
                rule=d.rule.name,
                details=d.details,
            )
        message = replace(built[cause], rule=d.rule.name[:200])
        targets = [by_id[c] for c in channels[d.rule.id] if c in by_id]
        made += len(
            outbox.enqueue(
                targets,
                message,
                dedupe_key=d.dedupe_key,
                rule_id=d.rule.id,
                project_id=d.rule.project_id,
                issue_id=d.issue_id,
                now=now,
            )
        )
    return made


def on_unignored(activities: Sequence[Activity], now: datetime) -> int:
    """Rules for issues unignored without an event (their ignore period ran out, found by
    housekeeping): the issue's latest stored event stands in for the triggering one."""
    from tracehound.alerts.messages import latest_event

    if not activities:
        return 0
    rules, channels = enabled_rules({a.project_id for a in activities})
    rules = [r for r in rules if "unignored" in r.triggers]
    if not rules:
        return 0
    with_rules = {r.project_id for r in rules}
    issues = Issue.objects.in_bulk(sorted({a.issue_id for a in activities}))
    facts: dict[int, R.IssueFacts] = {}
    for activity in activities:
        issue = issues.get(activity.issue_id)
        if issue is None or activity.project_id not in with_rules:
            continue
        entry = R.IssueFacts(issue.pk, activity.project_id, stored_facts(latest_event(issue)))
        data = activity.data if isinstance(activity.data, dict) else {}
        entry.changes.append(R.Change("unignored", activity.pk, data))
        facts[issue.pk] = entry
    mark_throttled(facts, rules, now)
    decisions = R.decide(rules, facts.values(), now, LatestReleases())
    return send(claim(decisions, now), channels, {}, now) if decisions else 0


# --- resolve ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Resolved:
    issue_id: int
    project_id: int
    activity_id: int


def follow_channels(issue_ids: list[int]) -> dict[int, set[int]]:
    """Per issue, the channels notified about it (a trigger kind) or holding its ticket."""
    out: dict[int, set[int]] = defaultdict(set)
    notified = (
        Notification.objects.filter(issue_id__in=issue_ids, kind__in=TRIGGER_KINDS)
        .values_list("issue_id", "channel_id")
        .distinct()
    )
    linked = ExternalIssueLink.objects.filter(issue_id__in=issue_ids).values_list(
        "issue_id", "channel_id"
    )
    for issue_id, channel_id in [*notified, *linked]:
        out[issue_id].add(channel_id)
    return out


def follows_resolve(channel: Channel) -> bool:
    cls = registry.get(channel.kind)
    return cls is not None and cls.follows_resolve


def on_resolved(resolved: Sequence[Resolved], by: str, now: datetime) -> int:
    """Enqueue issue.resolved for the resolved issues (in the resolve's transaction);
    returns how many outbox rows were made. Not throttled (see alerts.rules)."""
    if not resolved:
        return 0
    ids = sorted({r.issue_id for r in resolved})
    rules, rule_channels = enabled_rules({r.project_id for r in resolved})
    rules = [r for r in rules if "resolved" in r.triggers]
    following = follow_channels(ids)
    if not rules and not following:
        return 0
    channel_ids = {c for cs in following.values() for c in cs}
    channel_ids |= {c for r in rules for c in rule_channels[r.id]}
    by_id = {c.pk: c for c in Channel.objects.filter(pk__in=sorted(channel_ids), enabled=True)}
    issues = Issue.objects.select_related("project__organization").in_bulk(ids)
    latest = LatestReleases()
    made = 0
    for item in sorted(resolved, key=lambda r: r.issue_id):
        issue = issues.get(item.issue_id)
        if issue is None:
            continue
        made += resolve_one(issue, item, rules, rule_channels, following, by_id, latest, by, now)
    return made


def resolve_one(
    issue: Issue,
    item: Resolved,
    rules: list[R.Rule],
    rule_channels: dict[int, list[int]],
    following: dict[int, set[int]],
    by_id: dict[int, Channel],
    latest: Mapping[int, str | None],
    by: str,
    now: datetime,
) -> int:
    from tracehound.alerts.messages import latest_event

    event = latest_event(issue)
    facts = stored_facts(event)
    key = f"resolved:{issue.pk}:{item.activity_id}"
    plan: list[tuple[int | None, str, list[Channel]]] = []
    covered: set[int] = set()
    for rule in rules:
        if rule.project_id != item.project_id:
            continue
        newest = latest.get(rule.project_id) if rule.release == R.LATEST else None
        if not R.filters_hold(rule, facts, newest):
            continue
        targets = [by_id[c] for c in rule_channels[rule.id] if c in by_id]
        covered.update(c.pk for c in targets)
        plan.append((rule.id, rule.name, targets))
    extra = [
        by_id[c]
        for c in sorted(following.get(issue.pk, ()))
        if c in by_id and c not in covered and follows_resolve(by_id[c])
    ]
    if extra:
        plan.append((None, "", extra))
    made = 0
    for rule_id, rule_name, targets in plan:
        message = issue_message(
            issue,
            "issue.resolved",
            R.reason("resolved", {"by": by}),
            event=event,
            rule=rule_name,
            details={"by": by} if by else {},
        )
        made += len(
            outbox.enqueue(
                targets,
                message,
                dedupe_key=key,
                rule_id=rule_id,
                project_id=item.project_id,
                issue_id=issue.pk,
                now=now,
            )
        )
    return made


def actor_name(actor: Any) -> str:
    """Who resolved: a user's name, an organization token's label, or "" (Tracehound)."""
    if actor is None:
        return ""
    label = getattr(actor, "label", None)
    user = getattr(actor, "user", None) if hasattr(actor, "token") else actor
    if user is not None:
        name = getattr(user, "get_username", None)
        if callable(name):
            return str(name())[:150]
    return str(label or "")[:150]
