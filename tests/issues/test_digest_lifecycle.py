"""Lifecycle decisions digest makes: new issues, regressions, unignores, tombstones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.envelopes import envelope, item
from tests.issues.digesting import error, send
from tracehound.events.models import Attachment, Event
from tracehound.events.retention import run_retention
from tracehound.issues import actions
from tracehound.issues.batch_actions import unignore_expired
from tracehound.issues.models import Activity, GroupHash, GroupTombstone, Issue, IssueTagValue
from tracehound.projects.models import ProjectStat

pytestmark = pytest.mark.django_db(transaction=True)


def one_issue(wsgi, project, digest_all, **fields) -> Issue:
    send(wsgi, project, error(**fields))
    digest_all()
    return Issue.objects.get()


def resolve(issue: Issue, resolution: str, release: str = "") -> None:
    Issue.objects.filter(id=issue.id).update(
        status=Issue.Status.RESOLVED,
        substatus="",
        resolution=resolution,
        resolved_release=release,
        resolved_at=datetime.now(tz=UTC),
    )


def activities(issue: Issue, type_: str) -> list[dict]:
    return list(Activity.objects.filter(issue=issue, type=type_).values_list("data", flat=True))


def test_a_new_issue_is_new_and_records_its_first_event(wsgi, project, digest_all):
    event_id = send(wsgi, project, error())
    send(wsgi, project, error())
    digest_all()
    issue = Issue.objects.get()
    assert (issue.status, issue.substatus) == ("unresolved", "new")
    assert activities(issue, "first_seen") == [{"event_id": event_id}]


@pytest.mark.parametrize("resolution", ["now", "by_age", ""])
def test_any_event_reopens_an_issue_resolved_now_or_by_age(wsgi, project, digest_all, resolution):
    issue = one_issue(wsgi, project, digest_all, release="1.0.0")
    resolve(issue, resolution)
    event_id = send(wsgi, project, error(release="0.1.0"))
    digest_all()
    issue.refresh_from_db()
    assert (issue.status, issue.substatus) == ("unresolved", "regressed")
    assert (issue.resolution, issue.resolved_at) == ("", None)
    assert activities(issue, "set_regression") == [
        {"event_id": event_id, "release": "0.1.0", "version": "0.1.0", "resolved_in_version": ""}
    ]


@pytest.mark.parametrize(
    ("resolution", "resolved_in", "stays_resolved", "regresses"),
    [
        ("in_release", "2.0.0", ["1.9.9", "2.0.0-rc.1", ""], "2.0.0"),
        ("in_release", "2.0.0", ["1.0.0"], "10.0.0"),
        ("in_next_release", "2.0.0", ["2.0.0", "1.0.0", ""], "2.0.1"),
    ],
)
def test_semver_releases_older_than_the_fix_do_not_regress(
    wsgi, project, digest_all, resolution, resolved_in, stays_resolved, regresses
):
    issue = one_issue(wsgi, project, digest_all, release=resolved_in)
    resolve(issue, resolution, resolved_in)
    for release in stays_resolved:
        send(wsgi, project, error(release=release or None))
        digest_all()
        issue.refresh_from_db()
        assert issue.status == "resolved", release
    assert activities(issue, "set_regression") == []
    event_id = send(wsgi, project, error(release=regresses))
    digest_all()
    issue.refresh_from_db()
    assert (issue.status, issue.substatus) == ("unresolved", "regressed")
    assert issue.times_seen == 2 + len(stays_resolved)
    [data] = activities(issue, "set_regression")
    assert (data["event_id"], data["release"], data["resolved_in_version"]) == (
        event_id,
        regresses,
        resolved_in,
    )


def test_releases_that_are_not_semver_are_ordered_by_first_seen(wsgi, project, digest_all):
    t0 = datetime.now(tz=UTC).timestamp() - 3600
    send(wsgi, project, error(release="zzz-old", timestamp=t0))
    digest_all()
    send(wsgi, project, error(release="aaa-fix", timestamp=t0 + 60))
    digest_all()
    issue = Issue.objects.get()
    resolve(issue, "in_release", "aaa-fix")
    send(wsgi, project, error(release="zzz-old"))  # first seen before the fix: not a regression
    digest_all()
    issue.refresh_from_db()
    assert issue.status == "resolved"
    send(wsgi, project, error(release="mmm-new"))  # a release after the fix
    digest_all()
    issue.refresh_from_db()
    assert issue.substatus == "regressed"


def test_an_event_received_before_the_resolve_does_not_regress(wsgi, project, digest_all):
    issue = one_issue(wsgi, project, digest_all, release="1.0")
    send(wsgi, project, error(release="1.0"))  # received, still queued
    actions.resolve(issue, None)
    digest_all()
    issue.refresh_from_db()
    assert (issue.status, issue.times_seen) == ("resolved", 2)
    assert activities(issue, "set_regression") == []
    send(wsgi, project, error(release="1.0"))  # received after the resolve
    digest_all()
    issue.refresh_from_db()
    assert (issue.status, issue.substatus) == ("unresolved", "regressed")


def test_in_one_batch_the_regression_names_the_event_that_caused_it(wsgi, project, digest_all):
    issue = one_issue(wsgi, project, digest_all, release="2.0.0")
    resolve(issue, "in_release", "2.0.0")
    send(wsgi, project, error(release="1.0.0"))
    newer = send(wsgi, project, error(release="2.1.0"))
    send(wsgi, project, error(release="3.0.0"))
    digest_all()
    [data] = activities(issue, "set_regression")
    assert data["event_id"] == newer


def ignore(issue: Issue, **conditions) -> None:
    issue.refresh_from_db()
    Issue.objects.filter(id=issue.id).update(
        status=Issue.Status.IGNORED,
        substatus=Issue.Substatus.ARCHIVED_UNTIL_CONDITION_MET
        if conditions
        else Issue.Substatus.ARCHIVED_FOREVER,
        ignored_at=conditions.pop("ignored_at", datetime.now(tz=UTC)),
        ignore_base_times_seen=issue.times_seen,
        ignore_base_users_seen=issue.users_seen,
        **conditions,
    )


def unignored(issue: Issue) -> list[dict]:
    issue.refresh_from_db()
    return [d for d in activities(issue, "set_unresolved") if d["reason"] == "unignored"]


def test_an_issue_ignored_forever_stays_ignored(wsgi, project, digest_all):
    issue = one_issue(wsgi, project, digest_all)
    ignore(issue)
    for _ in range(5):
        send(wsgi, project, error())
    digest_all()
    assert unignored(issue) == []
    assert (issue.status, issue.times_seen) == ("ignored", 6)


def test_an_expired_ignore_ends_with_the_next_event(wsgi, project, digest_all):
    issue = one_issue(wsgi, project, digest_all)
    until = datetime.now(tz=UTC) - timedelta(seconds=1)
    ignore(issue, ignore_until=until)
    send(wsgi, project, error())
    digest_all()
    assert unignored(issue) == [
        {"reason": "unignored", "condition": {"ignoreUntil": until.isoformat()}}
    ]
    assert (issue.status, issue.substatus, issue.ignore_until) == ("unresolved", "ongoing", None)


def test_an_expired_ignore_without_events_ends_on_the_periodic_check(wsgi, project, digest_all):
    send(wsgi, project, error("A"))
    send(wsgi, project, error("B"))
    digest_all()
    a, b = Issue.objects.order_by("id")
    now = datetime.now(tz=UTC)
    ignore(a, ignore_until=now - timedelta(minutes=1))
    ignore(b, ignore_until=now + timedelta(minutes=1))
    assert unignore_expired(now) == 1
    assert len(unignored(a)) == 1 and a.status == "unresolved"
    assert unignored(b) == [] and b.status == "ignored"
    assert unignore_expired(now) == 0  # once


def test_the_worker_schedule_ends_expired_ignores(wsgi, project, digest_all):
    from tracehound.queue.housekeeping import Schedule

    send(wsgi, project, error("A"))
    digest_all()
    issue = Issue.objects.get()
    ignore(issue, ignore_until=datetime.now(tz=UTC) - timedelta(minutes=1))
    Schedule().run(0.5)
    assert len(unignored(issue)) == 1 and issue.status == "unresolved"


def test_ignore_until_n_more_events(wsgi, project, digest_all):
    issue = one_issue(wsgi, project, digest_all)
    ignore(issue, ignore_count=3)
    send(wsgi, project, error())
    send(wsgi, project, error())
    digest_all()
    assert unignored(issue) == [] and issue.status == "ignored"
    send(wsgi, project, error())
    digest_all()
    assert unignored(issue) == [{"reason": "unignored", "condition": {"ignoreCount": 3}}]
    assert issue.status == "unresolved"


def test_ignore_until_n_events_within_a_window(wsgi, project, digest_all):
    two_hours_ago = datetime.now(tz=UTC) - timedelta(hours=2)
    # Three events so far, two hours ago: outside a one-hour window.
    for _ in range(3):
        send(wsgi, project, error(timestamp=two_hours_ago.timestamp()))
    digest_all()
    issue = Issue.objects.get()
    ignore(issue, ignore_count=3, ignore_window=60, ignored_at=two_hours_ago - timedelta(hours=1))
    send(wsgi, project, error())
    send(wsgi, project, error())
    digest_all()
    assert unignored(issue) == [] and issue.status == "ignored"  # 2 within the hour
    send(wsgi, project, error())
    digest_all()
    assert unignored(issue) == [
        {"reason": "unignored", "condition": {"ignoreCount": 3, "ignoreWindow": 60}}
    ]


def test_a_window_counts_events_the_per_issue_cap_deleted(wsgi, project, digest_all, settings):
    settings.TRACEHOUND_ISSUE_EVENT_CAP = 5
    issue = one_issue(wsgi, project, digest_all)
    ignore(issue, ignore_count=10, ignore_window=60)
    for _ in range(8):
        send(wsgi, project, error())
    digest_all()
    run_retention()  # the cap keeps some of the 9 events, the window still counts all 8
    assert Event.objects.filter(issue=issue).count() < 9
    send(wsgi, project, error())
    digest_all()
    assert unignored(issue) == [] and issue.status == "ignored"  # 9 within the hour
    send(wsgi, project, error())
    digest_all()
    assert len(unignored(issue)) == 1 and issue.status == "unresolved"
    assert issue.times_seen == 11


def test_events_before_the_ignore_do_not_count_toward_a_window(wsgi, project, digest_all):
    issue = one_issue(wsgi, project, digest_all)
    send(wsgi, project, error())
    digest_all()
    ignore(issue, ignore_count=2, ignore_window=60)  # ignored after both events
    send(wsgi, project, error())
    digest_all()
    assert unignored(issue) == []
    send(wsgi, project, error())
    digest_all()
    assert len(unignored(issue)) == 1


def test_ignore_until_n_more_users(wsgi, project, digest_all):
    issue = one_issue(wsgi, project, digest_all, user="a")
    ignore(issue, ignore_user_count=2)
    for user in ("a", "a", "b"):  # one new user
        send(wsgi, project, error(user=user))
    digest_all()
    assert unignored(issue) == [] and issue.status == "ignored"
    send(wsgi, project, error(user="c"))
    digest_all()
    assert unignored(issue) == [{"reason": "unignored", "condition": {"ignoreUserCount": 2}}]


def test_ignore_until_n_users_within_a_window(wsgi, project, digest_all):
    for user in ("a", "b", "c"):
        send(wsgi, project, error(user=user))
    digest_all()
    issue = Issue.objects.get()
    long_ago = datetime.now(tz=UTC) - timedelta(hours=3)
    IssueTagValue.objects.filter(issue=issue, key="user").update(last_seen=long_ago)
    ignore(issue, ignore_user_count=2, ignore_user_window=60, ignored_at=long_ago)
    send(wsgi, project, error(user="d"))
    digest_all()
    assert unignored(issue) == []  # only d within the hour
    send(wsgi, project, error(user="a"))  # an old user, back within the window
    digest_all()
    assert unignored(issue) == [
        {"reason": "unignored", "condition": {"ignoreUserCount": 2, "ignoreUserWindow": 60}}
    ]


def tombstone(issue: Issue) -> GroupTombstone:
    """Delete the issue and discard its future events (what helper `actions` does)."""
    stone = GroupTombstone.objects.create(
        project_id=issue.project_id, title=issue.title, created_at=datetime.now(tz=UTC)
    )
    GroupHash.objects.filter(issue=issue).update(issue=None, tombstone=stone)
    issue.delete()
    return stone


def test_events_of_a_tombstoned_issue_are_discarded_and_counted(wsgi, project, digest_all):
    stone = tombstone(one_issue(wsgi, project, digest_all))
    discarded = send(wsgi, project, error())
    with_attachment = "a" * 32
    body = envelope(
        error(event_id=with_attachment),
        item("attachment", b"log", filename="log.txt"),
        event_id=with_attachment,
    )
    assert wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth).status == 200
    send(wsgi, project, error("OtherError"))
    digest_all()
    assert list(Issue.objects.values_list("title", flat=True)) == ["OtherError: boom"]
    assert not Event.objects.filter(event_id=discarded).exists()
    assert not Attachment.objects.exists()
    stone.refresh_from_db()
    assert stone.times_discarded == 2
    stat = ProjectStat.objects.get(project_id=project.id, key="discarded:tombstone:error")
    assert stat.quantity == 2
