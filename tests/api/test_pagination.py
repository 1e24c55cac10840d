"""Issue lists: Sentry's sort values and cursors that walk both ways."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from tests.envelopes import envelope, exception_event

pytestmark = pytest.mark.django_db(transaction=True)

LINK = re.compile(r'<([^>]*)>; rel="(\w+)"; results="(true|false)"; cursor="([^"]*)"')
SORT_FIELDS = {
    "date": "last_seen",
    "new": "first_seen",
    "freq": "times_seen",
    "user": "users_seen",
    "priority": "priority",
}


@pytest.fixture
def issues(wsgi, project, digest_all) -> list[int]:
    """Eleven issues whose last seen, first seen and count have ties and differ in order."""
    from tracehound.issues.models import Issue

    for n in range(11):
        body = envelope(exception_event(f"Error{n}", "boom"))
        assert (
            wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth).status == 200
        )
    digest_all()
    ids = list(Issue.objects.order_by("id").values_list("id", flat=True))
    base = datetime(2026, 11, 1, tzinfo=UTC)
    for n, issue_id in enumerate(ids):
        Issue.objects.filter(id=issue_id).update(
            last_seen=base + timedelta(minutes=n // 3),  # groups of three equal values
            first_seen=base - timedelta(seconds=(n * 7) % 11, microseconds=n % 2),
            times_seen=1 + (n * 5) % 4,
            users_seen=(n * 3) % 4,
        )
    return ids


def links(response) -> dict[str, tuple[str, bool]]:
    found = {
        rel: (cursor, results == "true")
        for _, rel, results, cursor in LINK.findall(response.headers["link"])
    }
    assert set(found) == {"previous", "next"}
    return found


def expected_order(sort: str) -> list[str]:
    from tracehound.issues.filters import with_priority
    from tracehound.issues.models import Issue

    field = SORT_FIELDS[sort]
    rows = with_priority(Issue.objects.all()) if sort == "priority" else Issue.objects.all()
    return [str(i) for i in rows.order_by(f"-{field}", "-id").values_list("id", flat=True)]


@pytest.mark.parametrize("sort", list(SORT_FIELDS))
def test_pages_walk_forwards_then_backwards_over_the_same_issues(api, owner, issues, sort):
    path = "/api/0/projects/acme/backend/issues/"
    pages: list[list[str]] = []
    cursor = None
    while True:
        query = f"limit=3&sort={sort}" + (f"&cursor={cursor}" if cursor else "")
        response = api(path, owner, query=query)
        assert response.status == 200, response.body
        pages.append([i["id"] for i in response.json()])
        rel = links(response)
        assert rel["previous"][1] == (len(pages) > 1)
        if not rel["next"][1]:
            break
        cursor = rel["next"][0]
    assert [i for page in pages for i in page] == expected_order(sort)
    assert [len(p) for p in pages] == [3, 3, 3, 2]

    # Now back from the last page to the first, following `previous`.
    back = [pages[-1]]
    cursor = rel["previous"][0]
    while True:
        response = api(path, owner, query=f"limit=3&sort={sort}&cursor={cursor}")
        assert response.status == 200, response.body
        back.append([i["id"] for i in response.json()])
        rel = links(response)
        assert rel["next"][1]
        if not rel["previous"][1]:
            break
        cursor = rel["previous"][0]
    assert back == list(reversed(pages))


def test_the_first_page_says_there_is_nothing_before_it(api, owner, issues):
    rel = links(api("/api/0/projects/acme/backend/issues/", owner, query="limit=5"))
    assert rel["previous"][1] is False
    assert rel["next"][1] is True


def test_links_keep_the_other_parameters(api, owner, issues):
    response = api("/api/0/projects/acme/backend/issues/", owner, query="limit=4&sort=new")
    url = LINK.findall(response.headers["link"])[1][0]
    assert "limit=4" in url and "sort=new" in url


def test_a_sentry_offset_cursor_skips_that_many_issues(api, owner, issues):
    response = api("/api/0/projects/acme/backend/issues/", owner, query="limit=3&cursor=0:3:0")
    assert [i["id"] for i in response.json()] == expected_order("date")[3:6]


@pytest.mark.parametrize("sort", list(SORT_FIELDS))
def test_issues_come_in_the_requested_order(api, owner, issues, sort):
    response = api("/api/0/projects/acme/backend/issues/", owner, query=f"sort={sort}&limit=100")
    assert [i["id"] for i in response.json()] == expected_order(sort)


@pytest.mark.parametrize("sort", ["trends", "inbox", "betterPriority", "DATE", "date\x00"])
def test_an_unsupported_sort_is_a_400_naming_it(api, owner, project, sort):
    response = api("/api/0/projects/acme/backend/issues/", owner, query=f"sort={quote(sort)}")
    assert response.status == 400
    detail = response.json()["detail"]
    assert "sort" in detail and repr(sort) in detail


@pytest.mark.parametrize("sort", ["date", "freq", "priority"])
def test_past_the_last_page_is_empty_and_leads_back_to_the_last_page(api, owner, issues, sort):
    path = "/api/0/projects/acme/backend/issues/"
    last = api(path, owner, query=f"limit=4&sort={sort}&cursor=0:8:0")
    assert [i["id"] for i in last.json()] == expected_order(sort)[8:]
    cursor, results = links(last)["next"]
    assert results is False
    beyond = api(path, owner, query=f"limit=4&sort={sort}&cursor={cursor}")
    assert beyond.status == 200 and beyond.json() == []
    rel = links(beyond)
    assert rel["next"][1] is False and rel["previous"][1] is True
    back = api(path, owner, query=f"limit=4&sort={sort}&cursor={rel['previous'][0]}")
    assert [i["id"] for i in back.json()] == expected_order(sort)[7:]


def test_an_empty_project_has_no_pages_either_way(api, owner):
    response = api("/api/0/projects/acme/backend/issues/", owner)
    assert response.json() == []
    assert {rel: results for rel, (_, results) in links(response).items()} == {
        "previous": False,
        "next": False,
    }
