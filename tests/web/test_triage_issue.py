"""The issue page's forms: each changes the issue through one action and shows the
result; refused input answers 400 with the field named and changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from tests.envelopes import envelope, exception_event

from tracehound.issues.models import Activity, GroupHash, Issue, IssueBookmark, Release

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def issue(wsgi, project, digest_all) -> Issue:
    for _ in range(3):
        body = envelope(exception_event("KeyError", "'sku'", release="shop@1.0.0"))
        assert (
            wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth).status == 200
        )
    digest_all()
    return Issue.objects.get()


@pytest.fixture
def logged_in(client, member):
    client.force_login(member)
    return client


def url(issue: Issue, action: str) -> str:
    return f"/organizations/acme/issues/{issue.id}/actions/{action}/"


def page(client, issue: Issue) -> str:
    response = client.get(f"/organizations/acme/issues/{issue.id}/")
    assert response.status_code == 200
    return str(response.content.decode())


def post(client, issue: Issue, action: str, **data: object):
    return client.post(url(issue, action), data)


def snapshot(issue: Issue) -> tuple[object, ...]:
    row = Issue.objects.get(pk=issue.pk)
    fields = ("status", "substatus", "resolution", "resolved_release", "ignore_count")
    return (*(getattr(row, f) for f in fields), row.assignee_id, Activity.objects.count())


def assert_refused(response, issue: Issue, before: tuple[object, ...], field: str) -> None:
    assert response.status_code == 400
    body = response.content.decode()
    assert 'class="error action-error"' in body and f"<strong>{field}</strong>" in body
    assert snapshot(issue) == before


def release(issue: Issue, version: str, major: int, minor: int) -> None:
    Release.objects.get_or_create(
        project=issue.project,
        version=version,
        defaults={
            "first_seen": timezone.now(),
            "last_seen": timezone.now(),
            "major": major,
            "minor": minor,
            "patch": 0,
        },
    )


def test_resolving_now_redirects_to_the_issue_showing_it_resolved(logged_in, issue):
    response = post(logged_in, issue, "resolve", resolve="now")
    assert (
        response.status_code == 302
        and response["Location"] == f"/organizations/acme/issues/{issue.id}/"
    )
    assert Issue.objects.get().status == "resolved"
    html = page(logged_in, issue)
    assert ">Resolved</dd>" in html and "member</strong> resolved the issue" in html
    assert "Unresolve" in html


def test_resolving_in_a_release_picked_from_the_projects_releases(logged_in, issue):
    release(issue, "shop@1.2.0", 1, 2)
    assert "<option>shop@1.2.0</option>" in page(logged_in, issue)
    post(logged_in, issue, "resolve", resolve="inRelease", inRelease="shop@1.2.0")
    row = Issue.objects.get()
    assert (row.status, row.resolution, row.resolved_release) == (
        "resolved",
        "in_release",
        "shop@1.2.0",
    )
    assert "Resolved in shop@1.2.0" in page(logged_in, issue)


def test_resolving_in_the_next_release_names_the_latest_one(logged_in, issue):
    release(issue, "shop@1.10.0", 1, 10)
    release(issue, "shop@1.9.0", 1, 9)
    post(logged_in, issue, "resolve", resolve="inNextRelease")
    assert "Resolved in the next release after shop@1.10.0" in page(logged_in, issue)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"resolve": "inRelease", "inRelease": "no-such-release"}, "inRelease"),
        ({"resolve": "inRelease", "inRelease": ""}, "inRelease"),
        ({"resolve": "sometime"}, "resolve"),
    ],
)
def test_a_bad_resolution_is_refused_and_changes_nothing(logged_in, issue, data, field):
    before = snapshot(issue)
    assert_refused(post(logged_in, issue, "resolve", **data), issue, before, field)


def test_unresolving_a_resolved_issue(logged_in, issue):
    post(logged_in, issue, "resolve", resolve="now")
    post(logged_in, issue, "unresolve")
    assert Issue.objects.get().status == "unresolved"
    assert "unresolved the issue" in page(logged_in, issue)


@pytest.mark.parametrize(
    ("data", "shown"),
    [
        ({}, ">Ignored</dd>"),
        ({"ignoreDuration": "30"}, ">Ignored until 20"),
        ({"ignoreCount": "10"}, "Ignored until 10 more events</dd>"),
        (
            {"ignoreCount": "100", "ignoreWindow": "60"},
            "Ignored until 100 more events within an hour",
        ),
        ({"ignoreUserCount": "5"}, "Ignored until 5 more users</dd>"),
        (
            {"ignoreUserCount": "5", "ignoreUserWindow": "1440"},
            "Ignored until 5 more users within a day",
        ),
    ],
)
def test_each_ignore_condition_is_stored_and_shown(logged_in, issue, data, shown):
    response = post(logged_in, issue, "ignore", **data)
    assert response.status_code == 302
    row = Issue.objects.get()
    assert row.status == "ignored"
    assert row.ignore_count == (int(data["ignoreCount"]) if "ignoreCount" in data else None)
    assert row.ignore_user_count == (
        int(data["ignoreUserCount"]) if "ignoreUserCount" in data else None
    )
    if "ignoreDuration" in data:
        assert row.ignore_until - timezone.now() == pytest.approx(
            timedelta(minutes=30), abs=timedelta(seconds=30)
        )
    assert shown in page(logged_in, issue)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"ignoreCount": "ten"}, "ignoreCount"),
        ({"ignoreCount": "0"}, "ignoreCount"),
        ({"ignoreCount": "-5"}, "ignoreCount"),
        ({"ignoreCount": str(2**64)}, "ignoreCount"),
        ({"ignoreCount": "1e300"}, "ignoreCount"),
        ({"ignoreCount": "１０"}, "ignoreCount"),
        ({"ignoreWindow": "60"}, "ignoreWindow"),
        ({"ignoreUserCount": "5", "ignoreUserWindow": "x"}, "ignoreUserWindow"),
        ({"ignoreDuration": str(10**12)}, "ignoreDuration"),
    ],
)
def test_a_bad_ignore_condition_is_refused_and_changes_nothing(logged_in, issue, data, field):
    before = snapshot(issue)
    assert_refused(post(logged_in, issue, "ignore", **data), issue, before, field)


def test_assigning_to_a_member_and_back_to_nobody(logged_in, issue, owner):
    post(logged_in, issue, "assign", assignedTo=str(owner.id))
    assert Issue.objects.get().assignee == owner
    html = page(logged_in, issue)
    assert '<dd class="assignee">owner</dd>' in html
    assert "assigned the issue to owner" in html
    assert f'<option value="{owner.id}" selected>owner</option>' in html
    post(logged_in, issue, "assign", assignedTo="")
    assert Issue.objects.get().assignee is None
    assert "unassigned the issue" in page(logged_in, issue)


@pytest.mark.parametrize("who", ["outsider", "nobody", "garbage", "huge"])
def test_assigning_to_someone_outside_the_organization_is_refused(logged_in, issue, outsider, who):
    value = {"outsider": str(outsider.id), "nobody": "999999", "garbage": "ann", "huge": str(2**64)}
    before = snapshot(issue)
    response = post(logged_in, issue, "assign", assignedTo=value[who])
    assert_refused(response, issue, before, "assignedTo")


def test_marking_a_new_issue_reviewed(logged_in, issue):
    assert Issue.objects.get().substatus == "new"
    assert "Mark reviewed" in page(logged_in, issue)
    post(logged_in, issue, "review")
    assert Issue.objects.get().substatus == "ongoing"
    html = page(logged_in, issue)
    assert "Mark reviewed" not in html and "marked the issue reviewed" in html


def test_bookmarking_and_removing_the_bookmark(logged_in, issue, member):
    post(logged_in, issue, "bookmark", isBookmarked="1")
    assert IssueBookmark.objects.filter(issue=issue, user=member).exists()
    assert "Remove bookmark" in page(logged_in, issue)
    post(logged_in, issue, "bookmark", isBookmarked="0")
    assert not IssueBookmark.objects.exists()


def test_a_comment_shows_in_the_activity_escaped_and_in_order(logged_in, issue):
    post(logged_in, issue, "resolve", resolve="now")
    post(logged_in, issue, "comment", text="<b>fixed</b> by #42\nsee log")
    html = page(logged_in, issue)
    assert "&lt;b&gt;fixed&lt;/b&gt; by #42<br>see log" in html
    assert html.index("resolved the issue") < html.index("commented")


@pytest.mark.parametrize("text", ["", "   ", "nul\x00here", "x" * 80_001])
def test_an_empty_or_hostile_comment_is_refused(logged_in, issue, text):
    before = snapshot(issue)
    assert_refused(post(logged_in, issue, "comment", text=text), issue, before, "text")


def test_viewing_the_issue_marks_it_seen(logged_in, issue, member):
    page(logged_in, issue)
    assert issue.seen_by.filter(user=member).exists()


def test_unmerging_a_hash_makes_a_new_issue(logged_in, wsgi, project, digest_all, issue):
    body = envelope(exception_event("TypeError", "other"))
    assert wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth).status == 200
    digest_all()
    other = Issue.objects.exclude(pk=issue.pk).get()
    merged = logged_in.post("/acme/backend/bulk/", {"id": [issue.id, other.id], "action": "merge"})
    assert merged.status_code == 302
    survivor = Issue.objects.get()
    hashes = list(GroupHash.objects.filter(issue=survivor).values_list("hash", flat=True))
    assert len(hashes) == 2
    html = page(logged_in, survivor)
    assert all(f'name="hash" value="{h}"' in html for h in hashes)
    response = post(logged_in, survivor, "unmerge", hash=hashes[1])
    assert response.status_code == 302
    assert Issue.objects.count() == 2
    assert GroupHash.objects.get(hash=hashes[1]).issue_id != survivor.id
    assert "unmerged 1 hash off this issue" in page(logged_in, survivor)


@pytest.mark.parametrize(
    ("action", "data", "field"),
    [
        ("resolve", {"resolve": "inRelease", "inRelease": "1.0\x00"}, "inRelease"),
        ("unmerge", {"hash": "ab\x00"}, "hash"),
        ("assign", {"assignedTo": "1\x00"}, "assignedTo"),
        ("ignore", {"ignoreCount": "\x00"}, "ignoreCount"),
    ],
)
def test_nul_in_any_field_is_refused_by_name(logged_in, issue, action, data, field):
    before = snapshot(issue)
    assert_refused(post(logged_in, issue, action, **data), issue, before, field)


def test_unmerging_nothing_is_refused(logged_in, issue):
    before = snapshot(issue)
    assert_refused(post(logged_in, issue, "unmerge"), issue, before, "hash")


def test_deleting_asks_first_then_deletes(logged_in, issue):
    form = logged_in.post("/acme/backend/bulk/", {"id": issue.id, "action": "delete"})
    assert form.status_code == 200 and "Delete 1 issue?" in form.content.decode()
    assert Issue.objects.exists()
    done = logged_in.post(
        "/acme/backend/bulk/", {"id": issue.id, "action": "delete", "confirmed": "1"}
    )
    assert done.status_code == 302 and done["Location"].startswith("/acme/backend/?")
    assert not Issue.objects.exists()


def test_delete_and_discard_tombstones_the_hashes(logged_in, issue):
    form = logged_in.post(
        "/acme/backend/bulk/", {"id": issue.id, "action": "delete", "discard": "1"}
    )
    assert "and discard future events?" in form.content.decode()
    logged_in.post(
        "/acme/backend/bulk/",
        {"id": issue.id, "action": "delete", "discard": "1", "confirmed": "1"},
    )
    assert not Issue.objects.exists()
    assert GroupHash.objects.filter(issue=None, tombstone__isnull=False).exists()


@pytest.mark.parametrize("action", ["resolve", "ignore", "assign", "comment", "unmerge", "review"])
def test_an_outsider_gets_404_and_changes_nothing(client, outsider, issue, action):
    client.force_login(outsider)
    before = snapshot(issue)
    assert post(client, issue, action, text="hi", resolve="now").status_code == 404
    assert snapshot(issue) == before


def test_the_issue_under_another_organizations_slug_is_404(client, outsider, owner, issue):
    client.force_login(owner)
    assert client.get(f"/organizations/other-org/issues/{issue.id}/").status_code == 404
    assert post(client, issue, "resolve").status_code == 302
    wrong_org = f"/organizations/other-org/issues/{issue.id}/actions/unresolve/"
    assert client.post(wrong_org).status_code == 404
    assert Issue.objects.get().status == "resolved"


def test_unknown_actions_are_404_and_actions_need_post(logged_in, issue):
    assert post(logged_in, issue, "explode").status_code == 404
    assert logged_in.get(url(issue, "resolve")).status_code == 405
    assert Issue.objects.get().status == "unresolved"


def test_a_post_without_the_csrf_token_is_refused(member, issue):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    assert client.post(url(issue, "resolve"), {"resolve": "now"}).status_code == 403
    assert Issue.objects.get().status == "unresolved"


def test_forms_need_a_login(client, issue):
    response = post(client, issue, "resolve", resolve="now")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert Issue.objects.get().status == "unresolved"


def test_the_chart_shows_hourly_and_daily_counts_for_the_chosen_period(logged_in, issue):
    import time

    from tracehound.issues.models import IssueDailyCount, IssueHourlyCount

    base = f"/organizations/acme/issues/{issue.id}/"
    # Digest counted the fixture's events in the current hour and day.
    digested = logged_in.get(base).content.decode()
    assert f'aria-label="Last 24 hours: {issue.times_seen} events"' in digested
    IssueHourlyCount.objects.filter(issue=issue).delete()
    IssueDailyCount.objects.filter(issue=issue).delete()
    now = int(time.time())
    IssueHourlyCount.objects.create(issue=issue, bucket=now // 3600, count=7)
    IssueHourlyCount.objects.create(issue=issue, bucket=now // 3600 - 5, count=2)
    IssueDailyCount.objects.create(issue=issue, bucket=now // 86400 - 3, count=40)
    IssueDailyCount.objects.create(issue=issue, bucket=now // 86400 - 30, count=500)
    hourly = logged_in.get(base).content.decode()
    assert 'aria-label="Last 24 hours: 9 events"' in hourly
    assert hourly.count('<rect class="bar"') == 24
    daily = logged_in.get(base, {"period": "14d"}).content.decode()
    assert 'aria-label="Last 14 days: 40 events"' in daily
    assert daily.count('<rect class="bar"') == 14
    quarter = logged_in.get(base, {"period": "90d"}).content.decode()
    assert 'aria-label="Last 90 days: 540 events"' in quarter
    assert 'aria-current="page">Last 90 days' in quarter


def test_an_ignored_issue_can_be_resolved_or_unresolved_from_its_page(logged_in, issue):
    post(logged_in, issue, "ignore", ignoreCount="10")
    html = page(logged_in, issue)
    assert 'name="resolve" value="now"' in html and ">Unresolve</button>" in html
    assert "Ignore forever" not in html  # already ignored
    post(logged_in, issue, "resolve", resolve="now")
    row = Issue.objects.get()
    assert (row.status, row.ignore_count) == ("resolved", None)
    html = page(logged_in, issue)
    assert 'name="resolve" value="now"' not in html and "Ignore forever" in html
