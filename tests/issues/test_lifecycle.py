"""The pure lifecycle rules digest applies: regressions and ignore conditions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tracehound.issues.lifecycle import IgnoreState, is_regression, met_ignore_condition
from tracehound.issues.versions import compare_releases

SEEN = {"aaa": datetime(2024, 1, 1, tzinfo=UTC), "bbb": datetime(2024, 2, 1, tzinfo=UTC)}


def order(a: str, b: str) -> int:
    return compare_releases(a, b, SEEN)


@pytest.mark.parametrize(
    ("resolution", "resolved_release", "event_release", "regresses"),
    [
        ("now", "", "", True),
        ("now", "", "1.0.0", True),
        ("by_age", "", "0.1.0", True),
        ("", "", "", True),  # resolved before resolutions were recorded
        ("in_release", "2.0.0", "1.9.9", False),  # older release: the fix is not in it
        ("in_release", "2.0.0", "2.0.0", True),  # the fix release itself
        ("in_release", "2.0.0", "2.0.1", True),
        ("in_release", "2.0.0", "2.0.0-rc.1", False),  # a prerelease precedes 2.0.0
        ("in_next_release", "2.0.0", "2.0.0", False),  # still the broken release
        ("in_next_release", "2.0.0", "1.0.0", False),
        ("in_next_release", "2.0.0", "2.0.1", True),
        ("in_release", "bbb", "aaa", False),  # not semver: aaa was first seen earlier
        ("in_release", "aaa", "bbb", True),
        ("in_next_release", "aaa", "aaa", False),
        ("in_next_release", "aaa", "bbb", True),
        ("in_release", "aaa", "zzz", True),  # a release never seen before is newer
        ("in_release", "2.0.0", "", False),  # no release: predates release tagging
        ("in_next_release", "2.0.0", "", False),
        ("in_next_release", "", "1.0.0", True),  # resolved when no release existed
    ],
)
def test_regression_follows_the_resolution(resolution, resolved_release, event_release, regresses):
    assert is_regression(resolution, resolved_release, event_release, order) is regresses


@pytest.mark.parametrize(
    ("received", "regresses"),
    [(-1, False), (0, False), (1, True)],  # seconds after the resolve
)
def test_only_events_received_after_the_resolve_regress(received, regresses):
    resolved_at = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    received_at = resolved_at + timedelta(seconds=received)
    assert (
        is_regression("now", "", "1.0", order, received_at=received_at, resolved_at=resolved_at)
        is regresses
    )


NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def state(**fields) -> IgnoreState:
    values = dict.fromkeys(IgnoreState.__slots__)
    values["ignored_at"] = NOW - timedelta(hours=1)
    values.update(fields)
    return IgnoreState(**values)


def met(s: IgnoreState, times_seen=0, users_seen=0, events=0, users=0):
    calls = []

    def events_within(minutes, limit):
        calls.append(("events", minutes, limit))
        return min(events, limit)

    def users_within(minutes, limit):
        calls.append(("users", minutes, limit))
        return min(users, limit)

    result = met_ignore_condition(
        s,
        now=NOW,
        times_seen=times_seen,
        users_seen=users_seen,
        events_within=events_within,
        users_within=users_within,
    )
    return result, calls


def test_ignore_forever_never_ends():
    assert not state().has_condition
    assert met(state(), times_seen=10**9, users_seen=10**9)[0] is None


def test_ignore_until_ends_when_the_time_has_come():
    until = NOW + timedelta(minutes=1)
    assert met(state(ignore_until=until))[0] is None
    assert met(state(ignore_until=NOW))[0] == {"ignoreUntil": NOW.isoformat()}


@pytest.mark.parametrize(
    ("count", "base", "seen", "name"),
    [
        ("ignore_count", "base_times_seen", "times_seen", "ignoreCount"),
        ("ignore_user_count", "base_users_seen", "users_seen", "ignoreUserCount"),
    ],
)
def test_counts_since_ignoring_end_the_ignore_at_n_more(count, base, seen, name):
    s = state(**{count: 10, base: 100})
    assert met(s, **{seen: 109})[0] is None
    assert met(s, **{seen: 110})[0] == {name: 10}


@pytest.mark.parametrize(
    ("count", "window", "kind", "names"),
    [
        ("ignore_count", "ignore_window", "events", ("ignoreCount", "ignoreWindow")),
        (
            "ignore_user_count",
            "ignore_user_window",
            "users",
            ("ignoreUserCount", "ignoreUserWindow"),
        ),
    ],
)
def test_counts_in_a_window_count_only_what_is_in_it(count, window, kind, names):
    s = state(**{count: 10, window: 60})
    result, calls = met(s, times_seen=1000, users_seen=1000, **{kind: 9})
    assert result is None  # many in all, but only 9 within the hour
    assert calls == [(kind, 60, 10)]  # asked to stop counting at the threshold
    assert met(s, **{kind: 10})[0] == {names[0]: 10, names[1]: 60}


def test_window_counts_are_not_asked_for_without_a_window_condition():
    assert met(state(ignore_count=5, base_times_seen=0), times_seen=1)[1] == []
