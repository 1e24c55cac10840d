"""Alert rules evaluated in digest: real envelopes through ingest and the digest worker,
outbox rows read back from the database (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.issues.digesting import error, send
from tracehound.alerts import evaluate
from tracehound.alerts.models import AlertRule, Channel, IssueMinuteCount, Notification, RuleFired
from tracehound.digest import store
from tracehound.digest.batch import requeue_failed
from tracehound.issues import actions
from tracehound.issues.models import Activity, Issue

pytestmark = pytest.mark.django_db(transaction=True)


def channel(project: Any, name: str = "hook", kind: str = "webhook", **fields: Any) -> Channel:
    """A channel row (enqueueing needs no backend: delivery is another branch's part)."""
    return Channel.objects.create(
        organization=project.project.organization,
        name=name,
        kind=kind,
        config={"url": "https://hooks.example.com/x"},
        created_at=datetime.now(tz=UTC),
        **fields,
    )


def rule(project: Any, channels: list[Channel], triggers: list[str], **fields: Any) -> AlertRule:
    made = AlertRule.objects.create(
        project=project.project,
        name=fields.pop("name", f"rule {uuid.uuid4().hex[:6]}"),
        triggers=triggers,
        created_at=datetime.now(tz=UTC),
        **fields,
    )
    made.channels.set(channels)
    return made


def rows(**filters: Any) -> list[Notification]:
    return list(Notification.objects.filter(**filters).order_by("created_at", "channel_id"))


def digest_events(wsgi, project, digest_all, *events: dict[str, Any]) -> None:
    for event in events:
        send(wsgi, project, event)
    digest_all()


def test_a_new_issue_makes_one_row_per_channel(wsgi, project, digest_all):
    a, b = channel(project, "a"), channel(project, "b")
    r = rule(project, [a, b], ["new_issue"])
    digest_events(wsgi, project, digest_all, error(), error())
    issue = Issue.objects.get()
    made = rows()
    assert [(n.channel_id, n.kind, n.dedupe_key) for n in made] == [
        (a.pk, "issue.new", f"new:{issue.pk}"),
        (b.pk, "issue.new", f"new:{issue.pk}"),
    ]
    n = made[0]
    assert (n.rule_id, n.project_id, n.issue_id, n.state) == (r.pk, project.id, issue.pk, "pending")
    assert n.payload["reason"] == "New issue"
    assert n.payload["rule"] == r.name
    assert n.payload["issue"]["short_id"] == "BACKEND-1"
    assert n.payload["issue"]["url"].endswith(f"/organizations/acme/issues/{issue.pk}/")
    assert n.payload["issue"]["frames"][0]["function"] == "run"
    assert n.payload["event"]["level"] == "error"
    # Later events of the issue are not new: nothing more.
    digest_events(wsgi, project, digest_all, error())
    assert len(rows()) == 2


def test_a_replayed_batch_makes_nothing(wsgi, project, digest_all):
    rule(project, [channel(project)], ["new_issue", "frequency"], frequency_count=0,
         frequency_window=5, throttle_minutes=0)  # fmt: skip
    event = error()
    digest_events(wsgi, project, digest_all, event)
    first = rows()
    assert [n.kind for n in first] == ["issue.new"]
    # The same envelope again (an SDK retrying): no event stored, nothing enqueued,
    # not even the frequency alert a throttle of 0 would let through.
    digest_events(wsgi, project, digest_all, dict(event))
    assert rows() == first
    assert Issue.objects.get().times_seen == 1


def test_projects_without_rules_cost_nothing_and_get_nothing(wsgi, project, digest_all):
    digest_events(wsgi, project, digest_all, error())
    assert rows() == []
    assert IssueMinuteCount.objects.get().count == 1  # the rollup is written regardless


def test_regression_makes_one_row(wsgi, project, digest_all):
    hook = channel(project)
    rule(project, [hook], ["regression"])
    digest_events(wsgi, project, digest_all, error(release="1.0.0"))
    issue = Issue.objects.get()
    actions.resolve(issue, None)
    digest_events(wsgi, project, digest_all, error(release="1.4.2"), error(release="1.4.2"))
    activity = Activity.objects.get(type="set_regression")
    [n] = rows()
    assert (n.kind, n.dedupe_key) == ("issue.regression", f"regression:{issue.pk}:{activity.pk}")
    assert n.payload["reason"] == "Regression: seen again in 1.4.2"
    assert n.payload["event"]["event_id"] == activity.data["event_id"]


def test_unignore_makes_one_row(wsgi, project, digest_all):
    rule(project, [channel(project)], ["unignored"])
    digest_events(wsgi, project, digest_all, error())
    issue = Issue.objects.get()
    actions.ignore(issue, None, count=2)
    digest_events(wsgi, project, digest_all, error())
    assert rows() == []
    digest_events(wsgi, project, digest_all, error())
    activity = Activity.objects.get(type="set_unresolved")
    [n] = rows()
    assert (n.kind, n.dedupe_key) == ("issue.unignored", f"unignored:{issue.pk}:{activity.pk}")
    assert n.payload["reason"] == "Unignored: 2 more events"


def test_an_ignore_period_running_out_without_events_makes_one_row(wsgi, project, digest_all):
    """Housekeeping unignores an issue whose ignore period passed with no event: the
    "unignored" trigger fires for it too, once."""
    from datetime import timedelta

    from tracehound.issues.batch_actions import unignore_expired

    rule(project, [channel(project)], ["unignored"], environment="production")
    digest_events(wsgi, project, digest_all, error(environment="production"))
    issue = Issue.objects.get()
    actions.ignore(issue, None, duration_minutes=5)
    assert unignore_expired(datetime.now(tz=UTC)) == 0
    later = datetime.now(tz=UTC) + timedelta(minutes=6)
    assert unignore_expired(later) == 1
    assert unignore_expired(later) == 0
    activity = Activity.objects.get(type="set_unresolved")
    [n] = rows()
    assert (n.kind, n.dedupe_key) == ("issue.unignored", f"unignored:{issue.pk}:{activity.pk}")
    assert n.payload["issue"]["id"] == issue.pk


def test_frequency_fires_once_above_n_then_is_throttled(wsgi, project, digest_all):
    r = rule(project, [channel(project)], ["frequency"], frequency_count=3, frequency_window=5)
    digest_events(wsgi, project, digest_all, error(), error(), error())
    assert rows() == []  # 3 events: not more than 3
    digest_events(wsgi, project, digest_all, error())
    [n] = rows()
    issue = Issue.objects.get()
    assert n.kind == "issue.frequency"
    assert n.dedupe_key.startswith(f"frequency:{issue.pk}:{r.pk}:")
    assert n.payload["reason"] == "More than 3 events in 5 minutes"
    assert n.payload["details"] == {"count": 3, "window": 5, "seen": 4}
    fired = RuleFired.objects.get().last_fired_at
    digest_events(wsgi, project, digest_all, error(), error())
    assert len(rows()) == 1  # throttled for 30 minutes
    assert RuleFired.objects.get().last_fired_at == fired  # the throttle did not move
    # Once the interval has passed the rule fires again (RuleFired moves); within the
    # same window the outbox key (window start) is the same, so still one row for it.
    RuleFired.objects.update(last_fired_at=datetime(2000, 1, 1, tzinfo=UTC))
    digest_events(wsgi, project, digest_all, error())
    assert RuleFired.objects.get().last_fired_at > datetime(2000, 1, 2, tzinfo=UTC)
    assert len(rows()) == 1


def test_frequency_counts_only_events_inside_the_window(wsgi, project, digest_all):
    rule(project, [channel(project)], ["frequency"], frequency_count=1, frequency_window=5)
    old = datetime.now(tz=UTC).timestamp() - 3600
    digest_events(wsgi, project, digest_all, error(timestamp=old), error(timestamp=old))
    assert rows() == []  # two events, but an hour ago
    digest_events(wsgi, project, digest_all, error(), error())
    assert [n.kind for n in rows()] == ["issue.frequency"]


def test_frequency_over_an_hour_reads_the_hourly_rollup(wsgi, project, digest_all):
    rule(project, [channel(project)], ["frequency"], frequency_count=2, frequency_window=120)
    old = datetime.now(tz=UTC).timestamp() - 90 * 60
    digest_events(wsgi, project, digest_all, error(timestamp=old), error(timestamp=old))
    assert rows() == []
    digest_events(wsgi, project, digest_all, error())
    assert [n.kind for n in rows()] == ["issue.frequency"]


def test_users_fires_above_n_distinct_users(wsgi, project, digest_all):
    rule(project, [channel(project)], ["users"], users_count=2, users_window=60)
    digest_events(wsgi, project, digest_all, error(user="a"), error(user="b"), error(user="a"))
    assert rows() == []
    digest_events(wsgi, project, digest_all, error(user="c"))
    [n] = rows()
    assert n.kind == "issue.users"
    assert n.payload["reason"] == "More than 2 users in 60 minutes"


@pytest.mark.parametrize(
    ("filters", "event_fields", "fires"),
    [
        ({"environment": "production"}, {"environment": "production"}, True),
        ({"environment": "production"}, {"environment": "staging"}, False),
        ({"min_level": "error"}, {"level": "fatal"}, True),
        ({"min_level": "error"}, {"level": "warning"}, False),
        ({"release": "2.0.0"}, {"release": "2.0.0"}, True),
        ({"release": "2.0.0"}, {"release": "1.0.0"}, False),
        ({"tag_filters": [{"key": "browser", "op": "eq", "value": "Firefox"}]},
         {"tags": {"browser": "Firefox"}}, True),
        ({"tag_filters": [{"key": "browser", "op": "eq", "value": "Firefox"}]},
         {"tags": {"browser": "Chrome"}}, False),
        ({"tag_filters": [{"key": "browser", "op": "ne", "value": "Firefox"}]},
         {"tags": {"browser": "Chrome"}}, True),
        ({"tag_filters": [{"key": "browser", "op": "ne", "value": "Firefox"}]},
         {"tags": {"browser": "Firefox"}}, False),
        ({"tag_filters": [{"key": "browser", "op": "contains", "value": "fox"}]},
         {"tags": {"browser": "Firefox"}}, True),
        ({"tag_filters": [{"key": "browser", "op": "contains", "value": "fox"}]},
         {"tags": {"browser": "Chrome"}}, False),
        ({"tag_filters": [{"key": "browser", "op": "set"}]}, {"tags": {"browser": "x"}}, True),
        ({"tag_filters": [{"key": "browser", "op": "set"}]}, {"tags": {"os": "x"}}, False),
    ],
)  # fmt: skip
def test_filters_both_ways(wsgi, project, digest_all, filters, event_fields, fires):
    rule(project, [channel(project)], ["new_issue"], **filters)
    digest_events(wsgi, project, digest_all, error(**event_fields))
    assert len(rows()) == (1 if fires else 0)


@pytest.mark.parametrize(("newer_elsewhere", "fires"), [(False, True), (True, False)])
def test_release_latest(wsgi, project, digest_all, newer_elsewhere, fires):
    if newer_elsewhere:  # another issue already brought a newer release
        digest_events(wsgi, project, digest_all, error("KeyError", release="2.0.0"))
    rule(project, [channel(project)], ["new_issue"], release="latest")
    digest_events(wsgi, project, digest_all, error(release="1.0.0"))
    assert len(rows()) == (1 if fires else 0)


def test_disabled_rule_or_channel_sends_nothing(wsgi, project, digest_all):
    on, off = channel(project, "on"), channel(project, "off", enabled=False)
    rule(project, [on], ["new_issue"], enabled=False)
    rule(project, [off], ["new_issue"])
    digest_events(wsgi, project, digest_all, error())
    assert rows() == []
    rule(project, [on, off], ["new_issue"])
    digest_events(wsgi, project, digest_all, error("KeyError"))
    assert [n.channel_id for n in rows()] == [on.pk]


def test_rules_of_another_project_do_not_fire(wsgi, project, digest_all, outsider):
    from tracehound.projects.models import Project

    other = Project.objects.get(slug="web")
    hook = Channel.objects.create(
        organization=other.organization, name="h", kind="webhook", created_at=datetime.now(UTC)
    )
    r = AlertRule.objects.create(
        project=other, name="theirs", triggers=["new_issue"], created_at=datetime.now(UTC)
    )
    r.channels.add(hook)
    digest_events(wsgi, project, digest_all, error())
    assert rows() == []


def test_one_notification_per_rule_even_with_many_triggers(wsgi, project, digest_all):
    rule(project, [channel(project)], ["new_issue", "frequency", "users"], frequency_count=0,
         frequency_window=1, users_count=0, users_window=1)  # fmt: skip
    digest_events(wsgi, project, digest_all, error(user="a"), error(user="b"))
    assert [n.kind for n in rows()] == ["issue.new"]


def test_a_crash_after_enqueue_rolls_back_issue_and_row(wsgi, project, digest_all, monkeypatch):
    rule(project, [channel(project)], ["new_issue"])
    real = store.evaluate_batch

    def crash(*args: Any, **kwargs: Any) -> int:
        made = real(*args, **kwargs)
        assert made == 1  # the row was written in this transaction...
        raise RuntimeError("crash after enqueue")

    monkeypatch.setattr(store, "evaluate_batch", crash)
    digest_events(wsgi, project, digest_all, error())
    # ...and rolled back with the issue: the item waits as failed.
    assert (Issue.objects.count(), Notification.objects.count()) == (0, 0)
    monkeypatch.setattr(store, "evaluate_batch", real)
    assert requeue_failed() == 1
    digest_all()
    assert Issue.objects.count() == 1
    assert [n.kind for n in rows()] == ["issue.new"]


def test_one_query_when_no_project_has_rules(wsgi, project, digest_all):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        made = evaluate.evaluate_batch(
            [evaluate.BatchEvent(project.id, 1, object())],  # type: ignore[arg-type]
            [],
            datetime.now(tz=UTC),
        )
    assert made == 0
    assert len(queries) == 1


def test_the_throttle_covers_every_trigger_of_the_rule_but_resolved(wsgi, project, digest_all):
    """Sentry's action interval: a regression soon after a frequency alert of the same
    rule is not sent again; the resolve in between is (it is never throttled)."""
    r = rule(project, [channel(project)], ["frequency", "regression", "resolved"],
             frequency_count=1, frequency_window=5)  # fmt: skip
    digest_events(wsgi, project, digest_all, error(), error())
    assert [n.kind for n in rows()] == ["issue.frequency"]
    issue = Issue.objects.get()
    actions.resolve(issue, None)
    digest_events(wsgi, project, digest_all, error())
    assert Issue.objects.get().substatus == "regressed"
    assert [n.kind for n in rows()] == ["issue.frequency", "issue.resolved"]
    # A rule with its own interval is not held back by another rule's.
    other = rule(project, [channel(project, "other")], ["regression"])
    actions.resolve(issue, None)
    digest_events(wsgi, project, digest_all, error())
    assert [(n.kind, n.rule_id) for n in rows(kind="issue.regression")] == [
        ("issue.regression", other.pk)
    ]
    assert r.pk != other.pk


def test_retention_removes_an_empty_issue_with_its_alert_rows(wsgi, project, digest_all):
    """IssueMinuteCount and RuleFired point at the issue with related_name="+": retention's
    set-based delete must find them too (it failed on a foreign key before)."""
    from datetime import timedelta

    from tracehound.events.models import Event
    from tracehound.events.retention import run_retention

    rule(project, [channel(project)], ["new_issue"])
    digest_events(wsgi, project, digest_all, error())
    assert (RuleFired.objects.count(), IssueMinuteCount.objects.count(), len(rows())) == (1, 1, 1)
    Event.objects.all().delete()
    Issue.objects.update(last_seen=datetime.now(UTC) - timedelta(days=60))
    run_retention()
    assert Issue.objects.count() == 0
    assert (RuleFired.objects.count(), IssueMinuteCount.objects.count(), len(rows())) == (0, 0, 0)


def test_housekeeping_prunes_minute_counts_older_than_two_hours(wsgi, project, digest_all):
    import time

    from tracehound.queue.housekeeping import prune_old_rows

    digest_events(wsgi, project, digest_all, error())
    issue = Issue.objects.get()
    minute = int(time.time() // 60)
    IssueMinuteCount.objects.create(issue=issue, bucket=minute - 121, count=5)
    IssueMinuteCount.objects.create(issue=issue, bucket=minute - 100, count=7)
    prune_old_rows()
    assert sorted(IssueMinuteCount.objects.values_list("count", flat=True)) == [1, 7]
