"""Lifecycle actions: each change is one locked update plus one activity row."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from tests.issues.test_actions_support import activity_types, bare_issue, digest, send
from tracehound.events.models import Event
from tracehound.issues import actions
from tracehound.issues.actions import ActionError
from tracehound.issues.models import Activity, Issue, IssueBookmark, IssueSeen, Release

pytestmark = pytest.mark.django_db(transaction=True)
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def release(project: Any, version: str, days_ago: int = 0, **semver: Any) -> Release:
    seen = NOW - timedelta(days=days_ago)
    return Release.objects.create(
        project_id=project.id, version=version, first_seen=seen, last_seen=seen, **semver
    )


def snapshot(issue: Issue) -> dict[str, Any]:
    row = Issue.objects.filter(pk=issue.pk).values().get()
    return {**row, "activities": Activity.objects.filter(issue_id=issue.pk).count()}


# -- resolve ---------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_resolving_records_when_and_who(project, owner):
    issue = bare_issue(project)
    actions.resolve(issue, owner)
    row = Issue.objects.get(pk=issue.pk)
    assert (row.status, row.substatus, row.resolution) == ("resolved", "", "now")
    assert row.resolved_at == NOW and row.resolved_release == ""
    assert issue.status == "resolved"  # the caller's instance follows
    activity = Activity.objects.get(issue=issue)
    assert (activity.type, activity.user, activity.created_at) == ("set_resolved", owner, NOW)


def test_resolving_an_ignored_issue_clears_its_ignore_condition(project, owner):
    issue = bare_issue(project)
    actions.ignore(issue, owner, count=10, window_minutes=60)
    actions.resolve(issue, owner)
    row = Issue.objects.get(pk=issue.pk)
    assert row.status == "resolved"
    assert (row.ignored_at, row.ignore_count, row.ignore_window) == (None, None, None)
    assert row.ignore_base_times_seen is None
    assert activity_types(issue) == ["set_ignored", "set_resolved"]


def test_resolving_in_a_named_release(project, owner):
    release(project, "backend@2.0.0", major=2, minor=0, patch=0)
    issue = bare_issue(project)
    actions.resolve(issue, owner, in_release="backend@2.0.0")
    row = Issue.objects.get(pk=issue.pk)
    assert (row.resolution, row.resolved_release) == ("in_release", "backend@2.0.0")
    activity = Activity.objects.get(issue=issue)
    assert (activity.type, activity.data) == (
        "set_resolved_in_release",
        {"version": "backend@2.0.0"},
    )


def test_resolving_in_a_release_the_project_never_saw_is_refused(project, owner):
    release(project, "1.0")
    issue = bare_issue(project)
    before = snapshot(issue)
    with pytest.raises(ActionError) as err:
        actions.resolve(issue, owner, in_release="9.9")
    assert err.value.field == "inRelease"
    assert snapshot(issue) == before


def test_a_release_of_another_project_is_not_a_release_of_this_one(project, owner, outsider):
    from tracehound.projects.models import Project

    other = Project.objects.get(slug="web")
    Release.objects.create(project=other, version="3.0", first_seen=NOW, last_seen=NOW)
    with pytest.raises(ActionError):
        actions.resolve(bare_issue(project), owner, in_release="3.0")


def test_resolving_in_the_next_release_pins_the_newest_semver_release(project, owner):
    release(project, "1.9.0", days_ago=1, major=1, minor=9, patch=0)
    release(project, "1.10.0", days_ago=5, major=1, minor=10, patch=0)  # older, but higher
    release(project, "1.10.0-rc1", days_ago=0, major=1, minor=10, patch=0, prerelease="rc1")
    issue = bare_issue(project)
    actions.resolve(issue, owner, in_next_release=True)
    row = Issue.objects.get(pk=issue.pk)
    assert (row.resolution, row.resolved_release) == ("in_next_release", "1.10.0")
    assert Activity.objects.get(issue=issue).data == {"version": "1.10.0", "inNextRelease": True}


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        (("1.0.0-rc.9", "rc.9"), ("1.0.0-rc.10", "rc.10")),  # numerically, not as text
        (("1.0.0+9", ""), ("1.0.0+10", "")),  # numeric builds too
    ],
)
def test_the_next_release_follows_the_release_order(project, owner, older, newer):
    for (version, prerelease), days_ago in ((newer, 2), (older, 1)):  # older seen last
        release(project, version, days_ago, major=1, minor=0, patch=0, prerelease=prerelease)
    issue = bare_issue(project)
    actions.resolve(issue, owner, in_next_release=True)
    assert Issue.objects.get(pk=issue.pk).resolved_release == newer[0]


def test_without_semver_the_next_release_follows_the_latest_first_seen(project, owner):
    release(project, "abc123", days_ago=3)
    release(project, "def456", days_ago=1)
    issue = bare_issue(project)
    actions.resolve(issue, owner, in_next_release=True)
    assert Issue.objects.get(pk=issue.pk).resolved_release == "def456"


def test_resolving_in_the_next_release_without_any_release_is_a_plain_resolve(project, owner):
    issue = bare_issue(project)
    actions.resolve(issue, owner, in_next_release=True)
    assert Issue.objects.get(pk=issue.pk).resolution == "now"
    assert activity_types(issue) == ["set_resolved"]


def test_unresolving_clears_the_resolution(project, owner):
    release(project, "1.0")
    issue = bare_issue(project)
    actions.resolve(issue, owner, in_release="1.0")
    actions.unresolve(issue, owner)
    row = Issue.objects.get(pk=issue.pk)
    assert (row.status, row.substatus) == ("unresolved", "ongoing")
    assert (row.resolved_at, row.resolution, row.resolved_release) == (None, "", "")
    assert activity_types(issue) == ["set_resolved_in_release", "set_unresolved"]


# -- ignore ----------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_ignoring_forever(project, member):
    issue = bare_issue(project)
    actions.ignore(issue, member)
    row = Issue.objects.get(pk=issue.pk)
    assert (row.status, row.substatus, row.ignored_at) == ("ignored", "archived_forever", NOW)
    assert row.ignore_until is None and row.ignore_count is None
    activity = Activity.objects.get(issue=issue)
    assert (activity.type, activity.data, activity.user) == ("set_ignored", {}, member)


@time_machine.travel(NOW, tick=False)
def test_ignoring_for_a_duration_sets_the_end(project, member):
    issue = bare_issue(project)
    actions.ignore(issue, member, duration_minutes=90)
    row = Issue.objects.get(pk=issue.pk)
    assert row.substatus == "archived_until_condition_met"
    assert row.ignore_until == NOW + timedelta(minutes=90)
    data = Activity.objects.get(issue=issue).data
    assert data["ignoreDuration"] == 90 and data["ignoreUntil"].startswith("2026-11-20T13:30")


def test_ignoring_until_more_events_keeps_the_baseline(project, member):
    issue = bare_issue(project, times_seen=41, users_seen=7)
    actions.ignore(issue, member, count=100, window_minutes=60)
    row = Issue.objects.get(pk=issue.pk)
    assert (row.ignore_count, row.ignore_window) == (100, 60)
    assert (row.ignore_base_times_seen, row.ignore_base_users_seen) == (41, 7)
    assert Activity.objects.get(issue=issue).data == {"ignoreCount": 100, "ignoreWindow": 60}


def test_ignoring_until_more_users(project, member):
    issue = bare_issue(project, users_seen=3)
    actions.ignore(issue, member, user_count=5, user_window_minutes=1440)
    row = Issue.objects.get(pk=issue.pk)
    assert (row.ignore_user_count, row.ignore_user_window) == (5, 1440)
    assert row.ignore_base_users_seen == 3
    assert row.substatus == "archived_until_condition_met"


def test_ignoring_a_resolved_issue_clears_the_resolution(project, member):
    issue = bare_issue(project)
    actions.resolve(issue, member)
    actions.ignore(issue, member)
    row = Issue.objects.get(pk=issue.pk)
    assert (row.status, row.resolved_at, row.resolution) == ("ignored", None, "")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"duration_minutes": 0}, "ignoreDuration"),
        ({"duration_minutes": -5}, "ignoreDuration"),
        ({"duration_minutes": True}, "ignoreDuration"),
        ({"duration_minutes": "60"}, "ignoreDuration"),
        ({"duration_minutes": 1e300}, "ignoreDuration"),
        ({"duration_minutes": 2**64}, "ignoreDuration"),
        ({"count": 0}, "ignoreCount"),
        ({"count": 2**63}, "ignoreCount"),
        ({"count": 10, "window_minutes": 0}, "ignoreWindow"),
        ({"window_minutes": 60}, "ignoreWindow"),
        ({"user_count": [3]}, "ignoreUserCount"),
        ({"user_window_minutes": 60}, "ignoreUserWindow"),
    ],
)
def test_bad_ignore_conditions_are_refused_and_change_nothing(project, member, kwargs, field):
    issue = bare_issue(project)
    before = snapshot(issue)
    with pytest.raises(ActionError) as err:
        actions.ignore(issue, member, **kwargs)
    assert err.value.field == field
    assert snapshot(issue) == before


# -- assignment, comments, review ------------------------------------------------------


def test_assigning_records_the_assignee_once(project, owner, member):
    issue = bare_issue(project)
    actions.assign(issue, owner, member)
    actions.assign(issue, owner, member)  # again: nothing changes
    assert Issue.objects.get(pk=issue.pk).assignee == member
    activity = Activity.objects.get(issue=issue)
    assert activity.type == "assigned" and activity.user == owner
    assert activity.data["assignee"] == str(member.pk)
    actions.assign(issue, owner, None)
    assert Issue.objects.get(pk=issue.pk).assignee is None
    assert activity_types(issue) == ["assigned", "unassigned"]
    actions.assign(issue, owner, None)
    assert activity_types(issue) == ["assigned", "unassigned"]


def test_assigning_to_someone_outside_the_organization_is_refused(project, owner, outsider):
    issue = bare_issue(project)
    before = snapshot(issue)
    with pytest.raises(ActionError) as err:
        actions.assign(issue, owner, outsider)
    assert err.value.field == "assignedTo"
    assert snapshot(issue) == before


def test_a_comment_is_a_note_activity(project, member):
    issue = bare_issue(project)
    note = actions.add_comment(issue, member, "Looks like the cache again")
    assert (note.type, note.data, note.user) == (
        "note",
        {"text": "Looks like the cache again"},
        member,
    )


@pytest.mark.parametrize("text", ["", "   ", "a\x00b", "x" * 80_001, None, 5])
def test_bad_comments_are_refused(project, member, text):
    issue = bare_issue(project)
    with pytest.raises(ActionError) as err:
        actions.add_comment(issue, member, text)
    assert err.value.field == "text"
    assert not Activity.objects.exists()


def test_marking_reviewed_turns_new_into_ongoing_once(project, member):
    issue = bare_issue(project, substatus="new")
    actions.mark_reviewed(issue, member)
    assert Issue.objects.get(pk=issue.pk).substatus == "ongoing"
    actions.mark_reviewed(issue, member)
    assert activity_types(issue) == ["mark_reviewed"]


def test_a_regressed_issue_can_be_marked_reviewed_but_a_resolved_one_is_left(project, member):
    regressed = bare_issue(project, substatus="regressed")
    actions.mark_reviewed(regressed, member)
    assert Issue.objects.get(pk=regressed.pk).substatus == "ongoing"
    resolved = bare_issue(project, status="resolved", substatus="")
    actions.mark_reviewed(resolved, member)
    assert Issue.objects.get(pk=resolved.pk).substatus == ""
    assert activity_types(resolved) == []


def test_seen_and_bookmarks_are_per_user_and_idempotent(project, owner, member):
    issue = bare_issue(project)
    actions.mark_seen(issue, owner)
    actions.mark_seen(issue, owner)
    actions.set_bookmark(issue, member, True)
    actions.set_bookmark(issue, member, True)
    assert list(IssueSeen.objects.values_list("user", flat=True)) == [owner.pk]
    assert list(IssueBookmark.objects.values_list("user", flat=True)) == [member.pk]
    actions.set_bookmark(issue, member, False)
    assert not IssueBookmark.objects.exists()
    assert activity_types(issue) == []


def test_acting_on_a_deleted_issue_raises(project, member):
    issue = bare_issue(project)
    Issue.objects.filter(pk=issue.pk).delete()
    with pytest.raises(Issue.DoesNotExist):
        actions.resolve(issue, member)
    assert not Activity.objects.exists()


# -- concurrency -----------------------------------------------------------------------


def test_two_people_resolving_while_an_event_arrives_end_consistent(project, owner, member):
    """Each resolve writes its own activity; the event is counted once; the issue ends
    resolved (the event came first) or reopened (it came after)."""
    send(project, "RaceError")
    digest()
    issue = Issue.objects.get()
    send(project, "RaceError")
    start = threading.Barrier(3)
    errors: list[BaseException] = []

    def run(work: Any) -> None:
        from django.db import connection

        try:
            start.wait()
            work()
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(lambda: actions.resolve(issue, owner),)),
        threading.Thread(target=run, args=(lambda: actions.resolve(issue, member),)),
        threading.Thread(target=run, args=(digest,)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    digest()  # whatever a busy database postponed
    row = Issue.objects.get()
    assert row.times_seen == Event.objects.count() == 2
    resolves = Activity.objects.filter(issue=row, type="set_resolved")
    assert sorted(resolves.values_list("user", flat=True)) == sorted([owner.pk, member.pk])
    assert row.status in ("resolved", "unresolved")
    if row.status == "resolved":
        assert row.resolved_at is not None and row.resolution == "now"
