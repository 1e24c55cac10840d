"""Counts over time for charts and `stats` arrays, read from the count rows digest writes."""

from __future__ import annotations

import pytest

from tracehound.issues.stats import PeriodError, buckets, issue_series, project_series

pytestmark = pytest.mark.django_db(transaction=True)

NOW = 1_764_000_000 + 1234  # some second inside an hour


def test_24h_is_24_hourly_points_ending_with_the_current_hour():
    size, span = buckets("24h", NOW)
    assert size == 3600 and len(span) == 24 and span[-1] == NOW // 3600


def test_14d_and_90d_are_daily_points_ending_today():
    for period, points in (("14d", 14), ("90d", 90)):
        size, span = buckets(period, NOW)
        assert size == 86400 and len(span) == points and span[-1] == NOW // 86400


@pytest.mark.parametrize("period", ["", "1h", "7d", "24H", "\x00"])
def test_another_period_is_refused_naming_stats_period(period):
    with pytest.raises(PeriodError, match="statsPeriod"):
        buckets(period, NOW)


def test_issue_series_are_zero_filled_and_ignore_other_buckets(project, digest_all, wsgi):
    from tests.envelopes import envelope, exception_event
    from tracehound.issues.models import Issue, IssueDailyCount, IssueHourlyCount

    for type_ in ("ValueError", "KeyError"):
        body = envelope(exception_event(type_, "x", timestamp=NOW - 30 * 86400))
        assert (
            wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth).status == 200
        )
    digest_all()
    a, b = Issue.objects.order_by("id").values_list("id", flat=True)
    hour = NOW // 3600
    IssueHourlyCount.objects.bulk_create(
        [
            IssueHourlyCount(issue_id=a, bucket=hour, count=3),
            IssueHourlyCount(issue_id=a, bucket=hour - 5, count=1),
            IssueHourlyCount(issue_id=a, bucket=hour - 24, count=50),  # before the window
            IssueHourlyCount(issue_id=a, bucket=hour + 1, count=70),  # after it
            IssueHourlyCount(issue_id=b, bucket=hour - 23, count=2),
        ]
    )
    IssueDailyCount.objects.create(issue_id=b, bucket=NOW // 86400 - 1, count=9)
    series = issue_series([a, b], "24h", NOW)
    assert [ts for ts, _ in series[a]] == [(hour - 23 + n) * 3600 for n in range(24)]
    assert series[a][-1] == (hour * 3600, 3) and series[a][-6] == ((hour - 5) * 3600, 1)
    assert sum(n for _, n in series[a]) == 4
    assert series[b][0] == ((hour - 23) * 3600, 2) and sum(n for _, n in series[b]) == 2
    daily = issue_series([b], "14d", NOW)[b]
    assert daily[-2] == ((NOW // 86400 - 1) * 86400, 9) and len(daily) == 14
    assert issue_series([], "24h", NOW) == {}


def test_project_series_read_the_project_rows(project):
    from tracehound.issues.models import ProjectDailyCount, ProjectHourlyCount

    hour, day = NOW // 3600, NOW // 86400
    ProjectHourlyCount.objects.create(project=project.project, bucket=hour - 1, count=7)
    ProjectDailyCount.objects.create(project=project.project, bucket=day - 89, count=4)
    hourly = project_series(project.id, "24h", NOW)
    assert len(hourly) == 24 and hourly[-2] == ((hour - 1) * 3600, 7)
    daily = project_series(project.id, "90d", NOW)
    assert len(daily) == 90 and daily[0] == ((day - 89) * 86400, 4)
    assert sum(n for _, n in project_series(project.id, "14d", NOW)) == 0
