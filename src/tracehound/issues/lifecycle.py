"""Lifecycle decisions made at digest: pure rules, no database.

- **Regression**: an event for a resolved issue reopens it unless the resolution says
  the event's release predates the fix: `in_release` → events from a release older
  than `resolved_release` do not regress; `in_next_release` → events from
  `resolved_release` (the latest release when the issue was resolved) or older do not;
  `now` and `by_age` → every event regresses. Only events received after the
  resolve count: one received before it and digested later does not regress. An event without a release, for an issue
  resolved in a release, does not regress: it is taken to come from a deployment that
  predates release tagging (Sentry treats a release-less event the same way).
- **Unignore**: an ignored issue with a condition becomes unresolved (substatus
  `ongoing`: the issue is known and now active again; Sentry's `escalating` belongs to
  its forecast-based "until escalating", which Tracehound does not have) when the
  ignore period has passed, or N more events (optionally within a window of minutes)
  or N more users (optionally within a window) were seen since it was ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

RESOLVED = "resolved"
IGNORED = "ignored"
IN_RELEASE = "in_release"
IN_NEXT_RELEASE = "in_next_release"

# Compares two releases: -1, 0, 1 as the first is older, equal, newer.
ReleaseOrder = Callable[[str, str], int]


def is_regression(
    resolution: str,
    resolved_release: str,
    event_release: str,
    order: ReleaseOrder,
    *,
    received_at: datetime | None = None,
    resolved_at: datetime | None = None,
) -> bool:
    """Whether an event from `event_release` reopens an issue resolved this way.

    An event received before the resolve (digested late, as a queue catching up does)
    never does: the resolve already took it into account.
    """
    if received_at is not None and resolved_at is not None and received_at <= resolved_at:
        return False
    if resolution not in (IN_RELEASE, IN_NEXT_RELEASE) or not resolved_release:
        return True
    if not event_release:
        return False
    cmp = order(event_release, resolved_release)
    if resolution == IN_RELEASE:
        return cmp >= 0
    return cmp > 0


@dataclass(frozen=True, slots=True)
class IgnoreState:
    """The ignore fields of an issue (see issues.models.Issue), after a batch."""

    ignored_at: datetime | None
    ignore_until: datetime | None
    ignore_count: int | None
    ignore_window: int | None
    ignore_user_count: int | None
    ignore_user_window: int | None
    base_times_seen: int | None
    base_users_seen: int | None

    @property
    def has_condition(self) -> bool:
        return any(
            v is not None for v in (self.ignore_until, self.ignore_count, self.ignore_user_count)
        )


def met_ignore_condition(
    state: IgnoreState,
    *,
    now: datetime,
    times_seen: int,
    users_seen: int,
    events_within: Callable[[int, int], int],
    users_within: Callable[[int, int], int],
) -> dict[str, Any] | None:
    """The condition (in Sentry's statusDetails names) that ends the ignore, or None.

    `events_within(minutes, limit)` / `users_within(minutes, limit)` count events /
    distinct users of the issue since max(now - minutes, ignored_at) (events by the
    hour: the count may include up to an hour before), users stopping at `limit`;
    they are called only for a window condition.
    """
    if state.ignore_until is not None and now >= state.ignore_until:
        return {"ignoreUntil": state.ignore_until.isoformat()}
    conditions = (
        ("ignoreCount", "ignoreWindow", state.ignore_count, state.ignore_window,
         times_seen - (state.base_times_seen or 0), events_within),
        ("ignoreUserCount", "ignoreUserWindow", state.ignore_user_count, state.ignore_user_window,
         users_seen - (state.base_users_seen or 0), users_within),
    )  # fmt: skip
    for name, window_name, count, window, since_ignored, within in conditions:
        if count is None:
            continue
        if window:
            if within(window, count) >= count:
                return {name: count, window_name: window}
        elif since_ignored >= count:
            return {name: count}
    return None
