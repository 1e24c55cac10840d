"""Counts over time are kept 14 days (hourly) and 90 days (daily); stray hashes go."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from tests.envelopes import envelope, exception_event
from tracehound.events.retention import run_retention
from tracehound.issues.models import (
    GroupHash,
    GroupTombstone,
    Issue,
    IssueDailyCount,
    IssueHourlyCount,
    ProjectDailyCount,
    ProjectHourlyCount,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_counts_past_their_window_go_and_recent_ones_stay(wsgi, project, digest_all):
    body = envelope(exception_event())
    assert wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth).status == 200
    digest_all()
    issue = Issue.objects.get()
    hour, day = int(time.time()) // 3600, int(time.time()) // 86400
    for bucket in (hour - 14 * 24 - 2, hour - 14 * 24 + 2, hour):
        IssueHourlyCount.objects.create(issue=issue, bucket=bucket, count=3)
        ProjectHourlyCount.objects.create(project_id=project.id, bucket=bucket, count=3)
    for bucket in (day - 91, day - 89, day):
        IssueDailyCount.objects.create(issue=issue, bucket=bucket, count=3)
        ProjectDailyCount.objects.create(project_id=project.id, bucket=bucket, count=3)

    run_retention()

    hourly = [hour - 14 * 24 + 2, hour]
    daily = [day - 89, day]
    assert sorted(IssueHourlyCount.objects.values_list("bucket", flat=True)) == hourly
    assert sorted(ProjectHourlyCount.objects.values_list("bucket", flat=True)) == hourly
    assert sorted(IssueDailyCount.objects.values_list("bucket", flat=True)) == daily
    assert sorted(ProjectDailyCount.objects.values_list("bucket", flat=True)) == daily


def test_hashes_of_neither_an_issue_nor_a_tombstone_go(wsgi, project, digest_all):
    body = envelope(exception_event())
    assert wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth).status == 200
    digest_all()
    issue_hashes = set(GroupHash.objects.values_list("hash", flat=True))
    tombstone = GroupTombstone.objects.create(
        project_id=project.id, title="gone", created_at=timezone.now()
    )
    GroupHash.objects.create(
        project_id=project.id, hash="b" * 32, tombstone=tombstone, grouping_version="v"
    )
    GroupHash.objects.create(project_id=project.id, hash="c" * 32, grouping_version="v")

    run_retention()

    assert set(GroupHash.objects.values_list("hash", flat=True)) == issue_hashes | {"b" * 32}
