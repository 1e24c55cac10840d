"""issue.resolved: rules with the "resolved" trigger, and channels that close what they
opened (follows_resolve), from every way an issue gets resolved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from tests.alerts.test_evaluate import channel, digest_events, rows, rule
from tests.api.conftest import api  # noqa: F401 - the fixture
from tests.api.test_issue_actions import BULK, put
from tests.issues.digesting import error
from tracehound.alerts import evaluate, registry
from tracehound.alerts.base import Backend, Delivery, Notification, Sent
from tracehound.alerts.models import ExternalIssueLink
from tracehound.alerts.models import Notification as Row
from tracehound.issues import actions
from tracehound.issues.batch_actions import auto_resolve_idle_issues
from tracehound.issues.models import Activity, Issue

pytestmark = pytest.mark.django_db(transaction=True)


class ClosingBackend(Backend):
    """TEST STAND-IN for a backend that closes what it opened (PagerDuty, ticket systems
    come from other branches): only its `follows_resolve` matters here."""

    kind = "test_closing"
    label = "Closes things (test)"
    follows_resolve: ClassVar[bool] = True

    def send(self, notification: Notification, delivery: Delivery) -> Sent:
        return Sent(status=202)


@pytest.fixture
def closing(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setitem(registry.BUILTIN, "test_closing", f"{__name__}:ClosingBackend")
    registry.backends.cache_clear()
    yield
    registry.backends.cache_clear()


def one_issue(wsgi, project, digest_all, **fields: Any) -> Issue:
    digest_events(wsgi, project, digest_all, error(**fields))
    return Issue.objects.get()


def test_a_resolved_rule_enqueues_with_who_resolved(wsgi, project, digest_all, owner):
    hook = channel(project)
    r = rule(project, [hook], ["resolved"])
    issue = one_issue(wsgi, project, digest_all)
    actions.resolve(issue, owner)
    activity = Activity.objects.get(type="set_resolved")
    [n] = rows()
    assert (n.kind, n.rule_id, n.channel_id) == ("issue.resolved", r.pk, hook.pk)
    assert n.dedupe_key == f"resolved:{issue.pk}:{activity.pk}"
    assert n.payload["reason"] == "Resolved by owner"
    assert n.payload["issue"]["status"] == "resolved"
    assert n.payload["event"]["event_id"] == issue.events.get().event_id


@pytest.mark.parametrize(("environment", "fires"), [("production", True), ("staging", False)])
def test_resolved_rules_check_filters_on_the_latest_event(
    wsgi, project, digest_all, environment, fires
):
    rule(project, [channel(project)], ["resolved"], environment="production")
    issue = one_issue(wsgi, project, digest_all, environment=environment)
    actions.resolve(issue, None)
    assert len(rows()) == (1 if fires else 0)


@pytest.mark.parametrize(("op", "fires"), [("eq", True), ("ne", False)])
def test_resolved_rules_check_tags_of_the_stored_event(wsgi, project, digest_all, op, fires):
    rule(project, [channel(project)], ["resolved"],
         tag_filters=[{"key": "browser", "op": op, "value": "Firefox"}])  # fmt: skip
    issue = one_issue(wsgi, project, digest_all, tags={"browser": "Firefox"})
    actions.resolve(issue, None)
    assert len(rows()) == (1 if fires else 0)


def test_without_resolved_rules_nothing_is_sent(wsgi, project, digest_all):
    rule(project, [channel(project)], ["new_issue"])
    issue = one_issue(wsgi, project, digest_all)
    actions.resolve(issue, None)
    assert [n.kind for n in rows()] == ["issue.new"]  # a webhook does not follow resolves


def test_follows_resolve_channels_hear_of_issues_they_were_told_about(
    wsgi, project, digest_all, closing
):
    pager, chat = channel(project, "pager", kind="test_closing"), channel(project, "chat")
    rule(project, [pager, chat], ["new_issue"])  # no "resolved" trigger
    issue = one_issue(wsgi, project, digest_all)
    actions.resolve(issue, None)
    activity = Activity.objects.get(type="set_resolved")
    resolved = rows(kind="issue.resolved")
    assert [(n.channel_id, n.rule_id, n.dedupe_key) for n in resolved] == [
        (pager.pk, None, f"resolved:{issue.pk}:{activity.pk}")
    ]
    # Unresolve and resolve again: a new cause, a new row.
    actions.unresolve(issue, None)
    actions.resolve(issue, None)
    assert len(rows(kind="issue.resolved")) == 2


def test_follows_resolve_needs_a_notification_or_a_link(wsgi, project, digest_all, closing):
    pager = channel(project, "pager", kind="test_closing")
    rule(project, [pager], ["new_issue"], environment="nowhere")  # never matches
    issue = one_issue(wsgi, project, digest_all)
    actions.resolve(issue, None)
    assert rows() == []
    # A ticket made for the issue counts too (a Jira channel that opened one).
    ExternalIssueLink.objects.create(
        issue=issue, channel=pager, external_key="OPS-1", created_at=datetime.now(UTC)
    )
    actions.unresolve(issue, None)
    actions.resolve(issue, None)
    assert [n.channel_id for n in rows(kind="issue.resolved")] == [pager.pk]


def test_a_disabled_following_channel_gets_nothing(wsgi, project, digest_all, closing):
    pager = channel(project, "pager", kind="test_closing")
    rule(project, [pager], ["new_issue"])
    issue = one_issue(wsgi, project, digest_all)
    pager.enabled = False
    pager.save()
    actions.resolve(issue, None)
    assert rows(kind="issue.resolved") == []


def test_a_rule_and_a_follow_on_one_channel_make_one_row(wsgi, project, digest_all, closing):
    pager = channel(project, "pager", kind="test_closing")
    r = rule(project, [pager], ["new_issue", "resolved"])
    issue = one_issue(wsgi, project, digest_all)
    actions.resolve(issue, None)
    [n] = rows(kind="issue.resolved")
    assert n.rule_id == r.pk


def test_auto_resolve_by_age_enqueues(wsgi, project, digest_all, closing):
    pager = channel(project, "pager", kind="test_closing")
    rule(project, [pager], ["new_issue"])
    issue = one_issue(wsgi, project, digest_all)
    project.project.auto_resolve_days = 1
    project.project.save()
    Issue.objects.filter(pk=issue.pk).update(last_seen=datetime.now(UTC) - timedelta(days=2))
    assert auto_resolve_idle_issues(datetime.now(UTC)) == 1
    activity = Activity.objects.get(type="set_resolved_by_age")
    [n] = rows(kind="issue.resolved")
    assert n.dedupe_key == f"resolved:{issue.pk}:{activity.pk}"
    assert n.payload["reason"] == "Resolved by auto-resolve after 1 days without events"


def test_api_bulk_resolve_enqueues_per_issue(wsgi, project, digest_all, api, member):  # noqa: F811
    rule(project, [channel(project)], ["resolved"])
    digest_events(wsgi, project, digest_all, error("A"), error("B"))
    response = put(api, BULK, member, {"status": "resolved"}, query="status=unresolved")
    assert response.status == 200
    keys = sorted(n.issue_id for n in rows(kind="issue.resolved"))
    assert keys == sorted(Issue.objects.values_list("pk", flat=True))
    assert {n.payload["reason"] for n in rows()} == {"Resolved by member"}


def test_a_crash_after_enqueue_rolls_back_the_resolve(wsgi, project, digest_all, monkeypatch):
    rule(project, [channel(project)], ["resolved"])
    issue = one_issue(wsgi, project, digest_all)
    real = evaluate.on_resolved

    def crash(*args: Any, **kwargs: Any) -> int:
        assert real(*args, **kwargs) == 1
        raise RuntimeError("crash after enqueue")

    monkeypatch.setattr(evaluate, "on_resolved", crash)
    with pytest.raises(RuntimeError):
        actions.resolve(issue, None)
    issue.refresh_from_db()
    assert issue.status == "unresolved"
    assert (Row.objects.count(), Activity.objects.filter(type="set_resolved").count()) == (0, 0)
