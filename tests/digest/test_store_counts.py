"""What digest counts beside events: counts over time, releases, environments, users."""

from __future__ import annotations

import time

import pytest
from tests.issues.digesting import error, send

from tracehound.issues.models import (
    Environment,
    Issue,
    IssueDailyCount,
    IssueHourlyCount,
    IssueTagValue,
    ProjectDailyCount,
    ProjectHourlyCount,
    Release,
)
from tracehound.issues.queries import user_counts

pytestmark = pytest.mark.django_db(transaction=True)


def counts(model, **filters) -> dict[int, int]:
    return dict(model.objects.filter(**filters).values_list("bucket", "count"))


def test_events_are_counted_per_hour_and_day_of_their_timestamp(wsgi, project, digest_all):
    now = time.time()
    two_hours_ago, three_days_ago = now - 2 * 3600, now - 3 * 86400
    for ts in (two_hours_ago, two_hours_ago, three_days_ago):
        send(wsgi, project, error(timestamp=ts))
    send(wsgi, project, error("OtherError", timestamp=two_hours_ago))
    digest_all()
    issue = Issue.objects.get(title__startswith="ValueError")
    hour, day = int(two_hours_ago // 3600), int(two_hours_ago // 86400)
    old_hour, old_day = int(three_days_ago // 3600), int(three_days_ago // 86400)
    assert counts(IssueHourlyCount, issue=issue) == {hour: 2, old_hour: 1}
    assert counts(IssueDailyCount, issue=issue) == {day: 2, old_day: 1}
    assert counts(ProjectHourlyCount, project_id=project.id) == {hour: 3, old_hour: 1}
    assert counts(ProjectDailyCount, project_id=project.id) == {day: 3, old_day: 1}


def test_counts_add_up_across_batches(wsgi, project, digest_all):
    ts = time.time()
    send(wsgi, project, error(timestamp=ts))
    digest_all()
    send(wsgi, project, error(timestamp=ts))
    digest_all()
    assert counts(ProjectHourlyCount, project_id=project.id) == {int(ts // 3600): 2}


def leveled(level: str, timestamp: float) -> dict:
    event = error(timestamp=timestamp)
    event["level"] = level
    return event


def test_the_issue_level_is_the_level_of_its_latest_event(wsgi, project, digest_all):
    now = time.time()
    send(wsgi, project, leveled("fatal", now))
    digest_all()
    send(wsgi, project, leveled("warning", now - 3600))  # late, from an hour ago
    digest_all()
    issue = Issue.objects.get()
    assert (issue.level, issue.times_seen) == ("fatal", 2)
    send(wsgi, project, leveled("info", now + 1))
    digest_all()
    issue.refresh_from_db()
    assert issue.level == "info"


def test_a_timestamp_from_a_wrong_clock_is_counted_when_received(wsgi, project, digest_all):
    before = time.time()
    send(wsgi, project, error(timestamp=before + 5 * 86400))  # the future
    send(wsgi, project, error(timestamp=before - 60 * 86400))  # older than 30 days' retention
    digest_all()
    after = time.time()
    hours = counts(ProjectHourlyCount, project_id=project.id)
    assert sum(hours.values()) == 2
    assert set(hours) <= {int(before // 3600), int(after // 3600)}


def test_a_project_retention_decides_what_is_too_old(wsgi, project, digest_all):
    project.project.retention_days = 7
    project.project.save(update_fields=["retention_days"])
    now = time.time()
    send(wsgi, project, error(timestamp=now - 10 * 86400))  # past the project's 7 days
    send(wsgi, project, error(timestamp=now - 5 * 86400))
    digest_all()
    days = counts(ProjectDailyCount, project_id=project.id)
    assert days.get(int((now - 5 * 86400) // 86400)) == 1
    assert int((now - 10 * 86400) // 86400) not in days
    assert sum(days.values()) == 2


def test_releases_and_environments_become_rows(wsgi, project, digest_all):
    t0 = time.time() - 600
    send(
        wsgi,
        project,
        error("A", release="app@1.2.3-rc.1+b7", environment="production", timestamp=t0),
    )
    send(
        wsgi,
        project,
        error("A", release="app@1.2.3-rc.1+b7", environment="staging", timestamp=t0 + 60),
    )
    send(wsgi, project, error("B", release="abc123", environment="production", timestamp=t0 + 120))
    digest_all()
    send(wsgi, project, error("A", release="abc123", timestamp=t0 + 180))  # old issue, no new one
    send(wsgi, project, error("C", release="abc123", timestamp=t0 + 240))
    digest_all()
    rc = Release.objects.get(project_id=project.id, version="app@1.2.3-rc.1+b7")
    assert (rc.times_seen, rc.new_issues) == (2, 1)
    assert (rc.major, rc.minor, rc.patch, rc.revision, rc.prerelease) == (1, 2, 3, 0, "rc.1")
    assert rc.first_seen.timestamp() == pytest.approx(t0, abs=0.01)
    assert rc.last_seen.timestamp() == pytest.approx(t0 + 60, abs=0.01)
    sha = Release.objects.get(project_id=project.id, version="abc123")
    assert (sha.times_seen, sha.new_issues, sha.major, sha.prerelease) == (3, 2, None, "")
    envs = {e.name: e.times_seen for e in Environment.objects.filter(project_id=project.id)}
    assert envs == {"production": 2, "staging": 1}


def test_users_are_counted_once_each_however_often_they_come_back(wsgi, project, digest_all):
    for user in ("1", "2", "1", "1", "3"):
        send(wsgi, project, error(user=user))
    digest_all()
    for user in ("2", "3", "4"):
        send(wsgi, project, error(user=user))
    send(wsgi, project, error())  # no user
    digest_all()
    issue = Issue.objects.get()
    assert issue.users_seen == 4
    assert issue.times_seen == 9
    assert user_counts([issue.id]) == {issue.id: 4}
    ones = IssueTagValue.objects.get(issue=issue, key="user", value="id:1")
    assert ones.times_seen == 3  # the tag counts still count events
