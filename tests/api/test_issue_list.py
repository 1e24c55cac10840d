"""Issue lists through the API: search, Sentry's shape, stats, and the organization list."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.utils import timezone

from tests.envelopes import envelope, exception_event

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/api/0/projects/acme/backend/issues/"
LINK = re.compile(r'<([^>]*)>; rel="(\w+)"; results="(true|false)"; cursor="([^"]*)"')


def send(wsgi, project, *events) -> None:
    for event in events:
        body = envelope(event)
        assert (
            wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth).status == 200
        )


@pytest.fixture
def two_issues(wsgi, project, digest_all) -> dict[str, int]:
    from tracehound.issues.models import Issue

    send(
        wsgi,
        project,
        exception_event("ValueError", "card declined", environment="production"),
        exception_event("ValueError", "card declined", environment="production"),
        exception_event("KeyError", "sku", environment="staging", level="warning"),
    )
    digest_all()
    return {i.metadata["type"]: i.id for i in Issue.objects.all()}


def ids(response) -> list[int]:
    assert response.status == 200, response.body
    return [int(i["id"]) for i in response.json()]


def next_cursor(response) -> tuple[str, bool]:
    for _, rel, results, cursor in LINK.findall(response.headers["link"]):
        if rel == "next":
            return cursor, results == "true"
    raise AssertionError("no next link")


# Sentry's documented issue fields (List a Project's Issues / Retrieve an Issue).
SENTRY_ISSUE_FIELDS = {
    "annotations",
    "assignedTo",
    "count",
    "culprit",
    "firstSeen",
    "hasSeen",
    "id",
    "isBookmarked",
    "isPublic",
    "isSubscribed",
    "isUnhandled",
    "lastSeen",
    "level",
    "logger",
    "metadata",
    "numComments",
    "permalink",
    "project",
    "shareId",
    "shortId",
    "status",
    "statusDetails",
    "substatus",
    "subscriptionDetails",
    "title",
    "type",
    "userCount",
}


def test_issues_carry_every_field_sentry_documents(api, owner, two_issues):
    [first] = [i for i in api(PATH, owner).json() if i["metadata"]["type"] == "ValueError"]
    assert set(first) >= SENTRY_ISSUE_FIELDS
    assert first["title"] == "ValueError: card declined"
    assert first["count"] == "2" and isinstance(first["userCount"], int)
    assert first["project"] == {
        "id": str(first["project"]["id"]),
        "name": "backend",
        "slug": "backend",
        "platform": "python",
    }
    assert first["permalink"].endswith(f"/organizations/acme/issues/{first['id']}/")
    assert first["assignedTo"] is None and first["statusDetails"] == {}
    assert first["hasSeen"] is False and first["isBookmarked"] is False
    assert first["numComments"] == 0


def test_list_items_carry_24_hourly_points_by_default(api, owner, two_issues):
    from tracehound.issues.models import IssueHourlyCount

    # Hours digest does not write to (its events are from now), so the test owns them.
    hour = int(time.time()) // 3600
    issue_id = two_issues["ValueError"]
    IssueHourlyCount.objects.create(issue_id=issue_id, bucket=hour - 2, count=2)
    IssueHourlyCount.objects.create(issue_id=issue_id, bucket=hour - 23, count=5)
    IssueHourlyCount.objects.create(issue_id=issue_id, bucket=hour - 24, count=99)  # too old
    items = {i["id"]: i for i in api(PATH, owner).json()}
    points = items[str(issue_id)]["stats"]["24h"]
    assert [ts for ts, _ in points] == [(hour - 23 + n) * 3600 for n in range(24)]
    assert points[0] == [(hour - 23) * 3600, 5]
    assert points[-3] == [(hour - 2) * 3600, 2]
    assert sum(n for _, n in points[:-2]) == 7
    other = items[str(two_issues["KeyError"])]["stats"]["24h"]
    assert all(n == 0 for _, n in other[:-2])


def test_stats_period_14d_gives_daily_points_and_empty_gives_none(api, owner, two_issues):
    from tracehound.issues.models import IssueDailyCount

    day = int(time.time()) // 86400
    IssueDailyCount.objects.create(issue_id=two_issues["KeyError"], bucket=day - 13, count=4)
    items = {i["id"]: i for i in api(PATH, owner, query="statsPeriod=14d").json()}
    points = items[str(two_issues["KeyError"])]["stats"]["14d"]
    assert len(points) == 14 and points[0] == [(day - 13) * 86400, 4]
    for item in api(PATH, owner, query="stats_period=").json():
        assert "stats" not in item


@pytest.mark.parametrize("period", ["1h", "90d", "24H", "x" * 300])
def test_a_stats_period_sentry_does_not_offer_is_a_400(api, owner, project, period):
    response = api(PATH, owner, query=f"statsPeriod={quote(period)}")
    assert response.status == 400 and "statsPeriod" in response.json()["detail"]


def test_the_query_filters_the_list(api, owner, two_issues):
    assert ids(api(PATH, owner, query="query=level:warning")) == [two_issues["KeyError"]]
    assert ids(api(PATH, owner, query=f"query={quote('card declined')}")) == [
        two_issues["ValueError"]
    ]


def test_the_default_query_is_unresolved_and_an_empty_one_lists_all(api, owner, two_issues):
    from tracehound.issues.models import Issue

    Issue.objects.filter(id=two_issues["KeyError"]).update(status="resolved")
    assert ids(api(PATH, owner)) == [two_issues["ValueError"]]
    assert sorted(ids(api(PATH, owner, query="query="))) == sorted(two_issues.values())


@pytest.mark.parametrize(
    ("query", "position"),
    [("is:sleeping", 3), ("level:error times_seen:lots", 23), ('browser:"Chro', 8)],
)
def test_a_bad_query_is_a_400_naming_the_query_and_the_position(
    api, owner, project, query, position
):
    response = api(PATH, owner, query=f"query={quote(query)}")
    assert response.status == 400
    detail = response.json()["detail"]
    assert detail.startswith("query: ") and detail.endswith(f"(at position {position})")


def test_a_query_with_a_nul_is_a_400_not_a_500(api, owner, project):
    response = api(PATH, owner, query="query=level%3Aerror%00")
    assert response.status == 400 and "NUL" in response.json()["detail"]


@pytest.mark.parametrize("cursor", ["abc", "1:2", "1:2:3", "1:99999999:0", "1:5:0:7", "x" * 500])
def test_a_bad_cursor_is_a_400_naming_the_cursor(api, owner, project, cursor):
    response = api(PATH, owner, query=f"cursor={quote(cursor)}")
    assert response.status == 400 and "cursor" in response.json()["detail"]


def test_environment_is_repeatable(api, owner, two_issues):
    assert ids(api(PATH, owner, query="environment=staging")) == [two_issues["KeyError"]]
    both = api(PATH, owner, query="environment=staging&environment=production")
    assert sorted(ids(both)) == sorted(two_issues.values())


def test_short_id_lookup_answers_the_issue_whatever_its_status(api, owner, two_issues):
    from tracehound.issues.models import Issue

    issue = Issue.objects.select_related("project").get(id=two_issues["KeyError"])
    Issue.objects.filter(id=issue.id).update(status="resolved")
    response = api(PATH, owner, query="shortIdLookup=1&query=backend-" + str(issue.short_id))
    assert ids(response) == [issue.id]


def test_per_user_fields_come_from_bookmarks_seen_marks_and_comments(
    api, owner, member, two_issues
):
    from tracehound.issues.models import Activity, Issue, IssueBookmark, IssueSeen

    issue = Issue.objects.get(id=two_issues["ValueError"])
    now = timezone.now()
    IssueBookmark.objects.create(issue=issue, user=owner, created_at=now)
    IssueSeen.objects.create(issue=issue, user=owner, last_seen=now)
    for text in ("first", "second"):
        Activity.objects.create(
            project=issue.project,
            issue=issue,
            user=owner,
            type="note",
            data={"text": text},
            created_at=now,
        )
    Issue.objects.filter(id=issue.id).update(assignee=member)
    mine = {i["id"]: i for i in api(PATH, owner).json()}[str(issue.id)]
    assert mine["isBookmarked"] is True and mine["hasSeen"] is True
    assert mine["numComments"] == 2
    assert mine["assignedTo"] == {
        "type": "user",
        "id": str(member.id),
        "name": "member",
        "email": member.email,
    }
    theirs = {i["id"]: i for i in api(PATH, member).json()}[str(issue.id)]
    assert theirs["isBookmarked"] is False and theirs["hasSeen"] is False


def test_an_issue_seen_before_its_last_event_is_not_seen(api, owner, two_issues):
    from tracehound.issues.models import Issue, IssueSeen

    issue = Issue.objects.get(id=two_issues["ValueError"])
    IssueSeen.objects.create(issue=issue, user=owner, last_seen=issue.last_seen - timedelta(1))
    mine = {i["id"]: i for i in api(PATH, owner).json()}[str(issue.id)]
    assert mine["hasSeen"] is False


def test_status_details_say_how_an_issue_was_resolved_or_ignored(api, owner, two_issues):
    from tracehound.issues.models import Issue

    Issue.objects.filter(id=two_issues["ValueError"]).update(
        status="resolved", resolution="in_release", resolved_release="shop@2.0"
    )
    Issue.objects.filter(id=two_issues["KeyError"]).update(
        status="ignored",
        substatus="archived_until_condition_met",
        ignore_count=100,
        ignore_window=60,
    )
    items = {i["id"]: i for i in api(PATH, owner, query="query=").json()}
    assert items[str(two_issues["ValueError"])]["statusDetails"] == {"inRelease": "shop@2.0"}
    ignored = items[str(two_issues["KeyError"])]
    assert ignored["statusDetails"] == {"ignoreCount": 100, "ignoreWindow": 60}
    assert ignored["substatus"] == "archived_until_condition_met"


def test_a_new_issue_older_than_7_days_is_ongoing_and_no_longer_for_review(api, owner, project):
    from tests.issues.test_actions_support import bare_issue

    old = timezone.now() - timedelta(days=60)
    new_old = bare_issue(project, first_seen=old, last_seen=old)
    regressed_old = bare_issue(project, first_seen=old, last_seen=old, substatus="regressed")
    fresh = bare_issue(project)
    for query, expected in (
        ("is:for_review", {regressed_old.id, fresh.id}),
        ("is:new", {fresh.id}),
        ("is:ongoing", {new_old.id}),
    ):
        assert set(ids(api(PATH, owner, query=f"query={query}"))) == expected, query
    shown = {int(i["id"]): i["substatus"] for i in api(PATH, owner, query="query=").json()}
    assert shown == {new_old.id: "ongoing", regressed_old.id: "regressed", fresh.id: "new"}
    assert api(f"/api/0/issues/{new_old.id}/", owner).json()["substatus"] == "ongoing"


def test_an_unhandled_error_is_flagged(api, owner, wsgi, project, digest_all):
    event = exception_event("RuntimeError", "crash")
    event["exception"]["values"][0]["mechanism"] = {"type": "excepthook", "handled": False}
    send(wsgi, project, event)
    digest_all()
    [issue] = api(PATH, owner).json()
    assert issue["isUnhandled"] is True


@pytest.mark.parametrize("sort", ["freq", "date", "priority"])
def test_pages_stay_exact_while_events_arrive_between_requests(
    api, owner, wsgi, project, digest_all, sort
):
    """Issues updated between two pages move up; every other issue is listed exactly
    once (an offset among equal counts skipped one whenever a row left the tie)."""
    from tracehound.issues.models import Issue

    events = [exception_event(f"Error{n}", "boom") for n in range(10)]
    send(wsgi, project, *events)
    digest_all()
    first = api(PATH, owner, query=f"sort={sort}&limit=3")
    page = ids(first)
    cursor, more = next_cursor(first)
    assert more
    # The first issue shown gets two more events: its count, last seen and priority grow.
    moved = Issue.objects.get(id=page[0])
    send(wsgi, project, *(exception_event(moved.metadata["type"], "boom") for _ in range(2)))
    digest_all()
    shown = list(page)
    while True:
        response = api(PATH, owner, query=f"sort={sort}&limit=3&cursor={quote(cursor)}")
        shown += ids(response)
        cursor, more = next_cursor(response)
        if not more:
            break
    everyone = set(Issue.objects.values_list("id", flat=True))
    assert len(shown) == len(set(shown)) == 10
    assert set(shown) == everyone


def test_an_issue_updated_on_a_later_page_moves_up_and_nothing_is_repeated(
    api, owner, wsgi, project, digest_all
):
    from tracehound.issues.models import Issue

    send(wsgi, project, *(exception_event(f"Error{n}", "boom") for n in range(9)))
    digest_all()
    first = api(PATH, owner, query="sort=date&limit=3")
    page = ids(first)
    cursor, _ = next_cursor(first)
    oldest = Issue.objects.order_by("last_seen", "id").first()
    assert oldest is not None and oldest.id not in page
    send(wsgi, project, exception_event(oldest.metadata["type"], "boom"))
    digest_all()
    rest: list[int] = []
    while cursor:
        response = api(PATH, owner, query=f"sort=date&limit=3&cursor={quote(cursor)}")
        rest += ids(response)
        cursor, more = next_cursor(response)
        cursor = cursor if more else ""
    # It moved above the pages already read: not repeated, and nothing else lost.
    assert oldest.id not in rest
    assert sorted(page + rest) == sorted(
        set(Issue.objects.values_list("id", flat=True)) - {oldest.id}
    )


# The organization's list


ORG_PATH = "/api/0/organizations/acme/issues/"


@pytest.fixture
def second_project(project, owner):
    from tracehound.projects.actions import create_project

    proj, key = create_project("acme", "frontend", platform="javascript")
    return proj, key


def test_the_organization_list_spans_its_projects(
    api, owner, wsgi, project, digest_all, second_project
):
    proj, key = second_project
    send(wsgi, project, exception_event("ValueError", "backend"))
    auth = {"X-Sentry-Auth": f"Sentry sentry_key={key.public_key}, sentry_version=7"}
    body = envelope(exception_event("TypeError", "frontend"))
    assert wsgi("POST", f"/api/{proj.id}/envelope/", body, headers=auth).status == 200
    digest_all()
    everything = api(ORG_PATH, owner).json()
    assert sorted(i["project"]["slug"] for i in everything) == ["backend", "frontend"]
    only = api(ORG_PATH, owner, query=f"project={proj.id}").json()
    assert [i["project"]["slug"] for i in only] == ["frontend"]
    both = api(ORG_PATH, owner, query=f"project={proj.id}&project={project.id}").json()
    assert len(both) == 2
    assert len(api(ORG_PATH, owner, query="project=-1").json()) == 2
    assert [i["title"] for i in api(ORG_PATH, owner, query="query=frontend").json()] == [
        "TypeError: frontend"
    ]


@pytest.mark.parametrize("value", ["abc", "0", "99999999", "1e300", ""])
def test_an_unknown_project_is_a_400_naming_project(api, owner, project, value):
    response = api(ORG_PATH, owner, query=f"project={quote(value)}")
    assert response.status == 400
    assert response.json()["detail"].startswith("project: ")


def test_another_organizations_project_id_is_refused_without_its_name(
    api, owner, project, outsider
):
    from tracehound.projects.models import Project

    foreign = Project.objects.get(slug="web")
    response = api(ORG_PATH, owner, query=f"project={foreign.id}")
    assert response.status == 400
    assert "web" not in response.json()["detail"] and "other-org" not in response.json()["detail"]


def test_an_organization_the_caller_is_not_in_is_a_404(api, outsider, project):
    assert api(ORG_PATH, outsider).status == 404
    assert api("/api/0/organizations/nope/issues/", outsider).status == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ("query=" + "x" * 1_000_000, "query"),
        ("query=" + quote("is:" + "\U0001f4a9" * 50), "query"),
        ("limit=18446744073709551616", "limit"),
        ("limit=1e300", "limit"),
        ("limit=-1", "limit"),
        ("environment=" + quote("prod\x00"), "environment"),
        ("environment=" + "e" * 65, "environment"),
        ("cursor=" + "9" * 40 + ":0:0", "cursor"),
        ("cursor=-9223372036854775808:0:0", "cursor"),
        ("sort=" + "s" * 100_000, "sort"),
    ],
)
def test_hostile_parameters_are_a_400_naming_the_field(api, owner, two_issues, params, field):
    response = api(PATH, owner, query=params)
    assert response.status == 400
    assert field in response.json()["detail"]
    assert len(response.body) < 2000  # nothing echoed at length


def test_a_date_cursor_far_outside_the_calendar_is_a_400(api, owner, two_issues):
    response = api(PATH, owner, query="cursor=" + quote("9223372036854775807:0:1:5"))
    assert response.status == 400 and "cursor" in response.json()["detail"]


def test_one_issue_carries_24h_and_30d_stats_and_its_first_release(
    api, owner, wsgi, project, digest_all
):
    send(wsgi, project, exception_event("ValueError", "x", release="shop@1.0"))
    digest_all()
    [listed] = api(PATH, owner).json()
    issue = api(f"/api/0/issues/{listed['id']}/", owner).json()
    assert set(issue) >= SENTRY_ISSUE_FIELDS
    assert len(issue["stats"]["24h"]) == 24 and len(issue["stats"]["30d"]) == 30
    assert issue["firstRelease"] == {"version": "shop@1.0"}
