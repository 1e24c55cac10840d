"""Alert rule decisions: pure functions, plain data in, decisions out (no database).

`alerts.evaluate` reads the batch's rules, counts and throttle rows and asks this module
which rules fire for which issues; this module never queries. Table tests cover it.

Semantics (documented in docs/alerts.md, "Rules"):

- Triggers: new_issue, regression, unignored (state changes made by this batch, one
  per activity), frequency (more than N events in M minutes for one issue), users
  (more than N distinct users in M minutes), resolved (see `evaluate.on_resolved`).
- Filters narrow every trigger and are checked against the triggering event (for
  frequency and users: the batch's last event of the issue): environment (exact),
  level at least `min_level`, release (exact, or "latest": the project's newest
  release), and every tag condition.
- One notification per rule and issue per batch: when several triggers of a rule hold
  for an issue at once, the first of PRIORITY is sent (a new issue that also crossed a
  frequency threshold in its first batch is reported as new).
- Throttle, as Sentry's "action interval": at most one notification per rule and issue
  per `throttle_minutes`, whatever the trigger; a regression within the interval of a
  frequency alert of the same rule is therefore not sent again. `resolved` is the
  exception: it reports a person's (or auto-resolve's) decision, is rare, and the
  systems that close things must hear it, so it is never throttled.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

# Sentry's level order; an unknown level ranks with "error" (what SDKs default to).
LEVELS = ("debug", "info", "warning", "error", "fatal")
LEVEL_RANK = {name: rank for rank, name in enumerate(LEVELS)} | {"sample": 0, "warn": 2}
PRIORITY = ("new_issue", "regression", "unignored", "frequency", "users")
DIGEST_TRIGGERS = frozenset(PRIORITY)
LATEST = "latest"
MINUTE = 60
HOUR = 3600
MINUTE_WINDOW_MAX = 60  # windows up to this many minutes read the minute rollup

# Notification kinds (alerts.base.KINDS) by trigger.
KIND_OF = {
    "new_issue": "issue.new",
    "regression": "issue.regression",
    "unignored": "issue.unignored",
    "frequency": "issue.frequency",
    "users": "issue.users",
    "resolved": "issue.resolved",
}


@dataclass(frozen=True, slots=True)
class TagFilter:
    key: str
    op: str  # AlertRule.TAG_OPS
    value: str = ""


@dataclass(frozen=True, slots=True)
class Rule:
    """An enabled rule as plain data (from AlertRule)."""

    id: int
    project_id: int
    name: str
    triggers: frozenset[str]
    frequency_count: int | None = None
    frequency_window: int | None = None  # minutes
    users_count: int | None = None
    users_window: int | None = None  # minutes
    environment: str = ""
    min_level: str = ""
    release: str = ""
    tag_filters: tuple[TagFilter, ...] = ()
    throttle_minutes: int = 30


@dataclass(frozen=True, slots=True)
class EventFacts:
    """What filters look at in the triggering event."""

    level: str
    environment: str
    release: str
    tags: tuple[tuple[str, str], ...] = ()
    event_id: str = ""  # lets evaluate find the event again for the message


@dataclass(frozen=True, slots=True)
class Change:
    """A state change digest made to an issue in this batch (an Activity row)."""

    trigger: str  # new_issue, regression, unignored
    activity_id: int
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class IssueFacts:
    """What one batch brought to one issue, plus counts evaluate read for it."""

    issue_id: int
    project_id: int
    event: EventFacts  # the batch's last event of the issue
    changes: list[Change] = field(default_factory=list)
    # Per rule id: events in the rule's frequency window / users in its users window.
    events_in_window: dict[int, int] = field(default_factory=dict)
    users_in_window: dict[int, int] = field(default_factory=dict)
    # Per trigger: the event that caused the change (regression), else `event`.
    change_events: dict[str, EventFacts] = field(default_factory=dict)
    # Rules that fired for this issue within their throttle interval (read up front so
    # no count is read for them; `evaluate.claim` checks again atomically).
    throttled: set[int] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Decision:
    """Rule `rule` fires `trigger` for `issue_id`; `dedupe` completes the outbox key."""

    rule: Rule
    issue_id: int
    trigger: str
    event: EventFacts
    dedupe_key: str
    details: Mapping[str, Any]


def rule_from_values(values: Mapping[str, Any]) -> Rule:
    """A Rule from AlertRule field values (as `.values()` gives them); bad stored tag
    filters (not a list of objects) are dropped rather than failing the batch."""
    tags = []
    raw = values.get("tag_filters") or []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict) and isinstance(item.get("key"), str):
            tags.append(
                TagFilter(item["key"], str(item.get("op", "eq")), str(item.get("value", "")))
            )
    triggers = values.get("triggers") or []
    return Rule(
        id=int(values["id"]),
        project_id=int(values["project_id"]),
        name=str(values.get("name", "")),
        triggers=frozenset(t for t in triggers if isinstance(t, str))
        if isinstance(triggers, list)
        else frozenset(),
        frequency_count=values.get("frequency_count"),
        frequency_window=values.get("frequency_window"),
        users_count=values.get("users_count"),
        users_window=values.get("users_window"),
        environment=values.get("environment") or "",
        min_level=values.get("min_level") or "",
        release=values.get("release") or "",
        tag_filters=tuple(tags),
        throttle_minutes=int(values.get("throttle_minutes") or 0),
    )


def level_at_least(level: str, minimum: str) -> bool:
    if not minimum:
        return True
    rank = LEVEL_RANK.get(level.lower(), LEVEL_RANK["error"])
    return rank >= LEVEL_RANK.get(minimum.lower(), LEVEL_RANK["error"])


def tag_holds(condition: TagFilter, tags: Sequence[tuple[str, str]]) -> bool:
    """One tag condition; an unknown op holds for nothing (it cannot be what was meant)."""
    values = [v for k, v in tags if k == condition.key]
    op, want = condition.op, condition.value
    if op == "set":
        return bool(values)
    if op == "not_set":
        return not values
    if op == "ne":
        return want not in values
    if op == "not_contains":
        return not any(want in v for v in values)
    return op in POSITIVE_OPS and any(value_holds(op, v, want) for v in values)


POSITIVE_OPS = ("eq", "contains", "starts_with", "ends_with")


def value_holds(op: str, value: str, want: str) -> bool:
    if op == "eq":
        return value == want
    if op == "contains":
        return want in value
    if op == "starts_with":
        return value.startswith(want)
    return value.endswith(want)


def filters_hold(rule: Rule, event: EventFacts, latest_release: str | None = None) -> bool:
    """Whether the rule's filters all hold for the event. `latest_release` is the
    project's newest release (needed only when rule.release is "latest")."""
    if rule.environment and event.environment != rule.environment:
        return False
    if not level_at_least(event.level, rule.min_level):
        return False
    if rule.release:
        wanted = latest_release if rule.release == LATEST else rule.release
        if not wanted or event.release != wanted:
            return False
    return all(tag_holds(c, event.tags) for c in rule.tag_filters)


def minute_bucket(now: datetime) -> int:
    return int(now.timestamp()) // MINUTE


def window_start(now: datetime, minutes: int) -> int:
    """First minute bucket of the window of `minutes` ending now (the current minute
    counts as one): the frequency and users dedupe keys use it."""
    return minute_bucket(now) - max(minutes, 1) + 1


def uses_minute_rollup(minutes: int) -> bool:
    return minutes <= MINUTE_WINDOW_MAX


def hour_window_start(now: datetime, minutes: int) -> int:
    """First hour bucket of a long window (hour-granular: may include up to an hour more)."""
    return int((now - timedelta(minutes=minutes)).timestamp()) // HOUR


def throttle_cutoff(now: datetime, minutes: int) -> datetime:
    """A rule that last fired for the issue at or before this may fire again."""
    return now - timedelta(minutes=minutes)


def candidates(
    rule: Rule, facts: IssueFacts, now: datetime, latest: Mapping[int, str | None] | None = None
) -> Decision | None:
    """The notification `rule` owes for this issue after the batch, before the throttle:
    the first trigger in PRIORITY that holds and whose triggering event passes the filters.
    A rule known to be throttled for the issue owes nothing. `latest` (project id → its
    newest release) is looked up only for a rule filtering on release "latest"."""
    if rule.project_id != facts.project_id or rule.id in facts.throttled:
        return None
    for trigger in PRIORITY:
        if trigger not in rule.triggers:
            continue
        decision = _trigger(rule, facts, trigger, now)
        if decision is None:
            continue
        newest = None
        if rule.release == LATEST and latest is not None:  # (an unread mapping is empty)
            newest = latest.get(rule.project_id)
        if filters_hold(rule, decision.event, newest):
            return decision
    return None


def _trigger(rule: Rule, facts: IssueFacts, trigger: str, now: datetime) -> Decision | None:
    issue = facts.issue_id
    if trigger in ("new_issue", "regression", "unignored"):
        change = next((c for c in facts.changes if c.trigger == trigger), None)
        if change is None:
            return None
        key = (
            f"new:{issue}" if trigger == "new_issue" else f"{trigger}:{issue}:{change.activity_id}"
        )
        event = facts.change_events.get(trigger, facts.event)
        return Decision(rule, issue, trigger, event, key, dict(change.details))
    if trigger == "frequency":
        count, window = rule.frequency_count, rule.frequency_window
        seen = facts.events_in_window.get(rule.id, 0)
    else:
        count, window = rule.users_count, rule.users_window
        seen = facts.users_in_window.get(rule.id, 0)
    if count is None or not window or seen <= count:
        return None
    key = f"{trigger}:{issue}:{rule.id}:{window_start(now, window)}"
    details = {"count": count, "window": window, "seen": seen}
    return Decision(rule, issue, trigger, facts.event, key, details)


def decide(
    rules: Iterable[Rule],
    issues: Iterable[IssueFacts],
    now: datetime,
    latest: Mapping[int, str | None] | None = None,
) -> list[Decision]:
    """Every (rule, issue) notification the batch owes, before the throttle, in a stable
    order (issue, then rule). `latest` maps project id → its newest release."""
    by_project: dict[int, list[Rule]] = {}
    for rule in rules:
        by_project.setdefault(rule.project_id, []).append(rule)
    out = []
    for facts in sorted(issues, key=lambda f: f.issue_id):
        for rule in sorted(by_project.get(facts.project_id, ()), key=lambda r: r.id):
            decision = candidates(rule, facts, now, latest)
            if decision is not None:
                out.append(decision)
    return out


def needs_counts(rule: Rule) -> tuple[bool, bool]:
    """Whether evaluate must read event / user counts in a window for this rule."""
    freq = (
        "frequency" in rule.triggers
        and bool(rule.frequency_window)
        and rule.frequency_count is not None
    )
    users = "users" in rule.triggers and bool(rule.users_window) and rule.users_count is not None
    return freq, users


def reason(trigger: str, details: Mapping[str, Any]) -> str:
    """The human line of a notification ("More than 100 events in 5 minutes")."""
    if trigger == "new_issue":
        return "New issue"
    if trigger == "regression":
        release = str(details.get("release") or "")[:200]
        return f"Regression: seen again in {release}" if release else "Regression: seen again"
    if trigger == "unignored":
        return "Unignored: " + _condition_text(details.get("condition"))
    if trigger in ("frequency", "users"):
        noun = "events" if trigger == "frequency" else "users"
        n, window = details.get("count"), details.get("window")
        return f"More than {n} {noun} in {window} minute{'s' if window != 1 else ''}"
    if trigger == "resolved":
        by = str(details.get("by") or "")[:200]
        return f"Resolved by {by}" if by else "Resolved"
    return trigger


def _condition_text(condition: Any) -> str:
    """Sentry's statusDetails names of the ignore condition that ended, as words."""
    if not isinstance(condition, Mapping):
        return "the ignore ended"
    if "ignoreCount" in condition:
        text = f"{condition['ignoreCount']} more events"
        if condition.get("ignoreWindow"):
            text += f" in {condition['ignoreWindow']} minutes"
        return text
    if "ignoreUserCount" in condition:
        text = f"{condition['ignoreUserCount']} more users"
        if condition.get("ignoreUserWindow"):
            text += f" in {condition['ignoreUserWindow']} minutes"
        return text
    if "ignoreUntil" in condition:
        return "the ignore period ended"
    return "the ignore ended"
