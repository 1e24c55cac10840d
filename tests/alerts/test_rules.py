"""Alert rule decisions (alerts.rules): table tests of the pure logic, no database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tracehound.alerts import rules as R

NOW = datetime(2026, 12, 1, 12, 30, 30, tzinfo=UTC)
EVENT = R.EventFacts(
    level="error",
    environment="production",
    release="1.4.2",
    tags=(("browser", "Firefox 128"), ("server", "web-1"), ("server", "web-2")),
    event_id="e1",
)


def rule(**fields: object) -> R.Rule:
    values: dict[str, object] = {"id": 1, "project_id": 7, "name": "r", "triggers": ["new_issue"]}
    values.update(fields)
    return R.rule_from_values(values)


def issue(**fields: object) -> R.IssueFacts:
    facts = R.IssueFacts(issue_id=3, project_id=7, event=EVENT)
    for name, value in fields.items():
        setattr(facts, name, value)
    return facts


NEW = R.Change("new_issue", 11, {"event_id": "e1"})


@pytest.mark.parametrize(
    ("level", "minimum", "holds"),
    [
        ("error", "", True),
        ("debug", "", True),
        ("error", "error", True),
        ("fatal", "error", True),
        ("warning", "error", False),
        ("info", "warning", False),
        ("warning", "warning", True),
        ("debug", "info", False),
        ("ERROR", "error", True),
        ("nonsense", "error", True),  # unknown levels rank as error, as SDKs default
        ("nonsense", "fatal", False),
    ],
)
def test_level_at_least(level, minimum, holds):
    assert R.level_at_least(level, minimum) is holds


@pytest.mark.parametrize(
    ("op", "key", "value", "holds"),
    [
        ("eq", "browser", "Firefox 128", True),
        ("eq", "browser", "Firefox", False),
        ("eq", "missing", "", False),
        ("ne", "browser", "Chrome", True),
        ("ne", "browser", "Firefox 128", False),
        ("ne", "missing", "x", True),
        ("contains", "browser", "fox", True),
        ("contains", "browser", "Chrome", False),
        ("not_contains", "browser", "Chrome", True),
        ("not_contains", "browser", "fox", False),
        ("starts_with", "server", "web-", True),
        ("starts_with", "server", "db", False),
        ("ends_with", "server", "-2", True),
        ("ends_with", "server", "-3", False),
        ("eq", "server", "web-2", True),  # a key with several values: any may match
        ("set", "browser", "", True),
        ("set", "missing", "", False),
        ("not_set", "missing", "", True),
        ("not_set", "browser", "", False),
        ("bogus", "browser", "Firefox 128", False),  # an unknown op holds for nothing
    ],
)
def test_tag_conditions(op, key, value, holds):
    assert R.tag_holds(R.TagFilter(key, op, value), EVENT.tags) is holds


@pytest.mark.parametrize(
    ("filters", "latest", "holds"),
    [
        ({}, None, True),
        ({"environment": "production"}, None, True),
        ({"environment": "staging"}, None, False),
        ({"min_level": "error"}, None, True),
        ({"min_level": "fatal"}, None, False),
        ({"release": "1.4.2"}, None, True),
        ({"release": "1.4.1"}, None, False),
        ({"release": "latest"}, "1.4.2", True),
        ({"release": "latest"}, "1.5.0", False),
        ({"release": "latest"}, None, False),  # no release yet: nothing is the latest
        ({"tag_filters": [{"key": "browser", "op": "contains", "value": "Fire"}]}, None, True),
        (
            {
                "tag_filters": [
                    {"key": "browser", "op": "contains", "value": "Fire"},
                    {"key": "server", "op": "eq", "value": "db-1"},
                ]
            },
            None,
            False,
        ),
    ],
)
def test_filters(filters, latest, holds):
    assert R.filters_hold(rule(**filters), EVENT, latest) is holds


def test_bad_stored_tag_filters_are_dropped_not_fatal():
    r = rule(tag_filters=[{"key": 3}, "junk", {"key": "a", "op": "set"}])
    assert r.tag_filters == (R.TagFilter("a", "set", ""),)
    assert rule(tag_filters="junk").tag_filters == ()
    assert rule(triggers="new_issue").triggers == frozenset()


def test_new_issue_decision_and_key():
    [d] = R.decide([rule()], [issue(changes=[NEW])], NOW)
    assert (d.trigger, d.issue_id, d.dedupe_key) == ("new_issue", 3, "new:3")


def test_no_change_no_decision():
    assert R.decide([rule()], [issue()], NOW) == []


def test_rules_of_other_projects_do_not_apply():
    assert R.decide([rule(project_id=8)], [issue(changes=[NEW])], NOW) == []


def test_regression_uses_the_regressing_event_for_filters():
    old = R.EventFacts("error", "production", "1.0.0", event_id="e0")
    change = R.Change("regression", 12, {"event_id": "e0", "release": "1.0.0"})
    facts = issue(changes=[change], change_events={"regression": old})
    r = rule(triggers=["regression"], release="1.4.2")
    assert R.decide([r], [facts], NOW) == []  # the regressing event came from 1.0.0
    [d] = R.decide([rule(triggers=["regression"], release="1.0.0")], [facts], NOW)
    assert d.dedupe_key == "regression:3:12"
    assert d.event.event_id == "e0"


def test_unignored_key():
    change = R.Change("unignored", 13, {"condition": {"ignoreCount": 100}})
    [d] = R.decide([rule(triggers=["unignored"])], [issue(changes=[change])], NOW)
    assert d.dedupe_key == "unignored:3:13"
    assert R.reason("unignored", d.details) == "Unignored: 100 more events"


@pytest.mark.parametrize(("seen", "fires"), [(0, False), (99, False), (100, False), (101, True)])
def test_frequency_fires_above_n(seen, fires):
    r = rule(triggers=["frequency"], frequency_count=100, frequency_window=5)
    decisions = R.decide([r], [issue(events_in_window={1: seen})], NOW)
    assert bool(decisions) is fires
    if fires:
        start = int(NOW.timestamp()) // 60 - 4
        assert decisions[0].dedupe_key == f"frequency:3:1:{start}"
        assert R.reason("frequency", decisions[0].details) == "More than 100 events in 5 minutes"


@pytest.mark.parametrize(("seen", "fires"), [(2, False), (3, True)])
def test_users_fire_above_n(seen, fires):
    r = rule(triggers=["users"], users_count=2, users_window=60)
    decisions = R.decide([r], [issue(users_in_window={1: seen})], NOW)
    assert bool(decisions) is fires
    if fires:
        assert decisions[0].dedupe_key.startswith("users:3:1:")


def test_a_rule_without_threshold_never_fires_on_counts():
    r = rule(triggers=["frequency", "users"])
    assert (
        R.decide([r], [issue(events_in_window={1: 10**9}, users_in_window={1: 10**9})], NOW) == []
    )
    assert R.needs_counts(r) == (False, False)


def test_one_decision_per_rule_and_issue_new_wins():
    r = rule(triggers=["frequency", "new_issue"], frequency_count=1, frequency_window=1)
    [d] = R.decide([r], [issue(changes=[NEW], events_in_window={1: 5})], NOW)
    assert d.trigger == "new_issue"


def test_filters_apply_to_each_trigger():
    r = rule(triggers=["new_issue"], environment="staging")
    assert R.decide([r], [issue(changes=[NEW])], NOW) == []


def test_decisions_are_ordered_by_issue_then_rule():
    rules_ = [rule(id=2), rule(id=1)]
    issues = [R.IssueFacts(5, 7, EVENT, [NEW]), R.IssueFacts(4, 7, EVENT, [NEW])]
    order = [(d.issue_id, d.rule.id) for d in R.decide(rules_, issues, NOW)]
    assert order == [(4, 1), (4, 2), (5, 1), (5, 2)]


@pytest.mark.parametrize(
    ("minutes", "minute_table", "start"),
    [(1, True, 0), (5, True, -4), (60, True, -59), (61, False, None), (1440, False, None)],
)
def test_windows(minutes, minute_table, start):
    assert R.uses_minute_rollup(minutes) is minute_table
    if start is not None:
        assert R.window_start(NOW, minutes) == R.minute_bucket(NOW) + start
    else:
        assert R.hour_window_start(NOW, minutes) == (int(NOW.timestamp()) - minutes * 60) // 3600


@pytest.mark.parametrize(
    ("trigger", "details", "text"),
    [
        ("new_issue", {}, "New issue"),
        ("regression", {"release": "1.4.2"}, "Regression: seen again in 1.4.2"),
        ("regression", {"release": ""}, "Regression: seen again"),
        ("unignored", {"condition": {"ignoreUserCount": 5, "ignoreUserWindow": 60}},
         "Unignored: 5 more users in 60 minutes"),
        ("unignored", {"condition": {"ignoreUntil": "2026-01-01"}},
         "Unignored: the ignore period ended"),
        ("users", {"count": 10, "window": 1}, "More than 10 users in 1 minute"),
        ("resolved", {"by": "alice"}, "Resolved by alice"),
        ("resolved", {}, "Resolved"),
    ],
)  # fmt: skip
def test_reasons(trigger, details, text):
    assert R.reason(trigger, details) == text


def test_throttle_cutoff():
    assert (NOW - R.throttle_cutoff(NOW, 30)).total_seconds() == 1800
