"""The issue list: search in Sentry's language, sorts, cursor pages, filters, sparklines
and bulk actions. Issue rows are written as digest leaves them."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from html import unescape

import pytest
from django.utils import timezone

from tracehound.issues.models import Activity, Environment, Issue, IssueHourlyCount, IssueTagValue

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/acme/backend/"


@pytest.fixture
def make(project):
    counter = iter(range(1, 10_000))
    now = timezone.now()

    def make_issue(title: str, **fields: object) -> Issue:
        n = next(counter)
        values: dict[str, object] = {
            "first_seen": now - timedelta(hours=n),
            "last_seen": now - timedelta(minutes=n),
            "times_seen": 1,
            **fields,
        }
        return Issue.objects.create(
            project=project.project,
            short_id=n,
            title=title,
            grouping_version="newstyle:2023-01-11",
            **values,
        )

    return make_issue


@pytest.fixture
def logged_in(client, member):
    client.force_login(member)
    return client


def titles(response) -> list[str]:
    return [
        unescape(t)
        for t in re.findall(
            r'class="title"[^>]*>.*?</span> (.*?)</a>', response.content.decode(), re.S
        )
    ]


def test_the_list_shows_unresolved_issues_by_default(logged_in, make):
    make("OpenError", status="unresolved")
    make("FixedError", status="resolved")
    response = logged_in.get(LIST)
    assert response.status_code == 200
    assert titles(response) == ["OpenError"]
    assert 'value="is:unresolved"' in response.content.decode()


def test_searching_with_sentrys_language(logged_in, make):
    make("KeyError: sku", level="error", times_seen=500)
    make("KeyError: price", level="warning", times_seen=5)
    make("TypeError: none", level="error", times_seen=900, status="resolved")
    found = logged_in.get(LIST, {"query": "is:unresolved level:error KeyError"})
    assert titles(found) == ["KeyError: sku"]
    found = logged_in.get(LIST, {"query": "times_seen:>100"})
    assert titles(found) == ["KeyError: sku", "TypeError: none"]
    assert titles(logged_in.get(LIST, {"query": ""})) == [
        "KeyError: sku",
        "KeyError: price",
        "TypeError: none",
    ]


def test_a_query_error_is_shown_under_the_box_with_its_position(logged_in, make):
    make("KeyError")
    response = logged_in.get(LIST, {"query": "is:unresolved is:bogus"})
    assert response.status_code == 400
    html = response.content.decode()
    error = re.search(r'class="error query-error"[^>]*>(.*?)</p>', html, re.S).group(1)
    assert "(at position 17)" in error
    assert "<code>is:unresolved is:<mark>b</mark>ogus</code>" in error
    assert 'value="is:unresolved is:bogus"' in html  # the query stays in the box


@pytest.mark.parametrize(
    ("params", "text"),
    [({"sort": "loudest"}, "unsupported sort"), ({"cursor": "garbage"}, "invalid cursor")],
)
def test_a_bad_sort_or_cursor_is_a_400_with_the_reason(logged_in, make, params, text):
    make("KeyError")
    response = logged_in.get(LIST, params)
    assert response.status_code == 400
    assert text in re.search(
        r'class="error list-error"[^>]*>(.*?)</p>', response.content.decode()
    ).group(1)


def test_each_sort_orders_the_list(logged_in, make):
    make("Recent", times_seen=1, users_seen=9)
    make("Busy", times_seen=1000, users_seen=1)
    make("Oldest", times_seen=10, users_seen=0, first_seen=timezone.now() - timedelta(days=30))
    assert titles(logged_in.get(LIST, {"sort": "date"})) == ["Recent", "Busy", "Oldest"]
    assert titles(logged_in.get(LIST, {"sort": "freq"})) == ["Busy", "Oldest", "Recent"]
    assert titles(logged_in.get(LIST, {"sort": "user"})) == ["Recent", "Busy", "Oldest"]
    assert titles(logged_in.get(LIST, {"sort": "new"})) == ["Recent", "Busy", "Oldest"]
    assert titles(logged_in.get(LIST, {"sort": "priority"}))[0] == "Busy"


def test_cursor_pages_go_forward_and_back_and_keep_the_query(logged_in, make):
    for n in range(30):
        make(f"Error{n:02}")
    first = logged_in.get(LIST, {"query": "is:unresolved Error", "sort": "date"})
    assert titles(first) == [f"Error{n:02}" for n in range(25)]
    html = first.content.decode()
    assert 'rel="prev"' not in html
    next_url = unescape(re.search(r'<a rel="next" href="([^"]+)"', html).group(1))
    assert "query=is%3Aunresolved+Error" in next_url
    second = logged_in.get(next_url)
    assert titles(second) == [f"Error{n:02}" for n in range(25, 30)]
    prev_url = unescape(
        re.search(r'<a rel="prev" href="([^"]+)"', second.content.decode()).group(1)
    )
    assert titles(logged_in.get(prev_url)) == titles(first)


def test_assigned_to_me_and_unassigned_are_links_that_set_the_query(logged_in, make, member):
    make("Mine", assignee=member)
    make("Nobodys")
    html = logged_in.get(LIST).content.decode()
    links = dict(
        (unescape(name), unescape(href))
        for href, name in re.findall(r'<a href="(/acme/backend/\?[^"]+)"[^>]*>([^<]+)</a>', html)
    )
    mine = logged_in.get(links["Assigned to me"])
    assert titles(mine) == ["Mine"]
    assert 'value="is:unresolved assigned:me"' in mine.content.decode()
    assert 'aria-current="page">Assigned to me' in mine.content.decode()
    assert titles(logged_in.get(links["Unassigned"])) == ["Nobodys"]
    assert '<td class="assignee">member</td>' in html


def test_the_environment_selector_filters_the_list(logged_in, make, project):
    prod, staging = make("InProduction"), make("InStaging")
    now = timezone.now()
    for issue, env in ((prod, "production"), (staging, "staging")):
        IssueTagValue.objects.create(
            issue=issue, key="environment", value=env, times_seen=1, first_seen=now, last_seen=now
        )
        Environment.objects.create(project=project.project, name=env, first_seen=now, last_seen=now)
    html = logged_in.get(LIST).content.decode()
    assert "<option>production</option>" in html
    response = logged_in.get(LIST, {"environment": "staging"})
    assert titles(response) == ["InStaging"]
    assert "<option selected>staging</option>" in response.content.decode()


def test_each_row_has_its_24_hour_sparkline_count_and_users(logged_in, make):
    issue = make("Busy", times_seen=12345, users_seen=67)
    hour = int(time.time()) // 3600
    IssueHourlyCount.objects.create(issue=issue, bucket=hour, count=8)
    IssueHourlyCount.objects.create(issue=issue, bucket=hour - 2, count=4)
    IssueHourlyCount.objects.create(issue=issue, bucket=hour - 30, count=99)  # outside 24h
    html = logged_in.get(LIST).content.decode()
    assert 'aria-label="12 events in the last 24 hours"' in html
    assert '<td class="num">12345</td>' in html and '<td class="num">67</td>' in html


def bulk(client, action: str, *issues: Issue, **extra: object):
    return client.post(f"{LIST}bulk/", {"id": [i.id for i in issues], "action": action, **extra})


def test_bulk_resolve_and_ignore_change_every_ticked_issue_with_one_activity_each(logged_in, make):
    a, b, c = make("A"), make("B"), make("C")
    response = bulk(logged_in, "resolve", a, b, query="is:unresolved", sort="freq")
    assert response.status_code == 302
    assert response["Location"] == "/acme/backend/?query=is%3Aunresolved&sort=freq"
    assert set(Issue.objects.filter(status="resolved").values_list("title", flat=True)) == {
        "A",
        "B",
    }
    assert Activity.objects.filter(type="set_resolved").count() == 2
    bulk(logged_in, "ignore", c)
    assert Issue.objects.get(pk=c.pk).status == "ignored"
    bulk(logged_in, "unresolve", a, b, c)
    assert Issue.objects.filter(status="unresolved").count() == 3


def test_bulk_merge_keeps_one_issue(logged_in, make):
    a, b = make("A", times_seen=5), make("B", times_seen=50)
    response = bulk(logged_in, "merge", a, b)
    assert response.status_code == 302
    assert list(Issue.objects.values_list("title", "times_seen")) == [("B", 55)]


@pytest.mark.parametrize(
    ("action", "count", "field"),
    [("merge", 1, "id"), ("resolve", 0, "id"), ("explode", 1, "action")],
)
def test_a_refused_bulk_action_is_a_400_on_the_list_and_changes_nothing(
    logged_in, make, action, count, field
):
    issues = [make("A"), make("B")][:count]
    response = bulk(logged_in, action, *issues)
    assert response.status_code == 400
    assert f"<strong>{field}</strong>" in response.content.decode()
    assert Issue.objects.filter(status="unresolved").count() == 2
    assert not Activity.objects.exists()


def test_bulk_with_a_foreign_or_malformed_id_is_404_and_changes_nothing(
    client, owner, outsider, make
):
    from tracehound.projects.models import Project

    mine = make("Mine")
    theirs = Issue.objects.create(
        project=Project.objects.get(slug="web"),
        short_id=1,
        title="Theirs",
        grouping_version="x",
        first_seen=timezone.now(),
        last_seen=timezone.now(),
    )
    client.force_login(owner)
    assert bulk(client, "resolve", mine, theirs).status_code == 404
    assert client.post(f"{LIST}bulk/", {"id": ["1x"], "action": "resolve"}).status_code == 404
    assert client.post(f"{LIST}bulk/", {"id": [str(2**64)], "action": "resolve"}).status_code == 404
    assert not Issue.objects.filter(status="resolved").exists()
    client.force_login(outsider)
    assert bulk(client, "resolve", mine).status_code == 404
    assert client.get(LIST).status_code == 404
    assert Issue.objects.get(pk=mine.pk).status == "unresolved"


HOSTILE_QUERIES = [
    "nul\x00inside",
    "environment:\x00",
    "times_seen:>99999999999999999999999",
    "times_seen:>1e300",
    "firstSeen:-99999999999d",
    "lastSeen:+1e300h",
    "release:" + "r" * 5000,
    "x" * 100_000,
    '"unterminated',
    "[a,b",
    "!!!",
    "assigned:\x00",
    "tags[" + "k" * 300 + "]:v",
    "level:" + "é" * 300,
    "issue:" + str(2**64),
    "firstSeen:>9999-12-31T23:59:59",
]


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_hostile_queries_answer_200_or_400_never_500(logged_in, make, query):
    make("KeyError")
    response = logged_in.get(LIST, {"query": query})
    assert response.status_code in (200, 400), response.status_code
    assert b"\x00" not in response.content


@pytest.mark.parametrize(
    "params",
    [
        {"environment": "prod\x00"},
        {"environment": "e" * 10_000},
        {"cursor": "1:0:0:" + "9" * 30},
        {"cursor": "\x00"},
        {"sort": "\x00"},
        {"cursor": "99999999999999999:0:0"},
    ],
)
def test_hostile_list_parameters_answer_200_or_400_never_500(logged_in, make, params):
    make("KeyError")
    response = logged_in.get(LIST, params)
    assert response.status_code in (200, 400), response.status_code
    assert b"\x00" not in response.content
