"""Tag facets of an issue, and a project's releases and environments, through the API."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.utils import timezone

from tests.api.test_issue_list import send
from tests.envelopes import exception_event

pytestmark = pytest.mark.django_db(transaction=True)

LINK = re.compile(r'<([^>]*)>; rel="(\w+)"; results="(true|false)"; cursor="([^"]*)"')
BROWSERS = ["Chrome"] * 5 + ["Firefox"] * 3 + ["Safari"] * 2


@pytest.fixture
def issue_id(wsgi, project, digest_all) -> int:
    """Ten events: browsers 5/3/2, seven distinct users."""
    from tracehound.issues.models import Issue

    for n, browser in enumerate(BROWSERS):
        event = exception_event(
            "ValueError", "boom", tags={"browser": browser}, user={"id": f"u{n % 7}"}
        )
        send(wsgi, project, event)
    digest_all()
    [issue] = Issue.objects.all()
    return issue.id


def test_tags_list_every_key_with_totals_and_top_values(api, owner, issue_id):
    tags = api(f"/api/0/issues/{issue_id}/tags/", owner).json()
    by_key = {t["key"]: t for t in tags}
    browser = by_key["browser"]
    assert browser["name"] == "Browser"
    assert browser["totalValues"] == 10 and browser["uniqueValues"] == 3
    assert [(v["value"], v["count"]) for v in browser["topValues"]] == [
        ("Chrome", 5),
        ("Firefox", 3),
        ("Safari", 2),
    ]
    top = browser["topValues"][0]
    assert set(top) == {"key", "name", "value", "count", "firstSeen", "lastSeen"}
    assert top["key"] == "browser"
    assert by_key["user"]["uniqueValues"] == 7 and by_key["user"]["totalValues"] == 10
    assert len(by_key["user"]["topValues"]) == 7
    assert by_key["level"]["topValues"] == [
        {**by_key["level"]["topValues"][0], "value": "error", "count": 10}
    ]


def test_top_values_stop_at_nine_per_key(api, owner, wsgi, project, digest_all):
    from tracehound.issues.models import Issue

    for n in range(12):
        event = exception_event("KeyError", "many", tags={"shard": f"s{n:02}"})
        send(wsgi, project, event)
    digest_all()
    [issue] = Issue.objects.all()
    shard = api(f"/api/0/issues/{issue.id}/tags/shard/", owner).json()
    assert shard["uniqueValues"] == 12 and len(shard["topValues"]) == 9


def test_one_tag_in_sentrys_tag_detail_shape(api, owner, issue_id):
    detail = api(f"/api/0/issues/{issue_id}/tags/browser/", owner).json()
    assert set(detail) == {"key", "name", "totalValues", "uniqueValues", "topValues"}
    assert detail["topValues"][0]["value"] == "Chrome"


def test_an_unknown_tag_is_a_json_404(api, owner, issue_id):
    for path in (
        "tags/nope/",
        "tags/nope/values/",
        "tags/%00/",
        "tags/a%00b/values/",
        f"tags/{'k' * 5000}/",
    ):
        response = api(f"/api/0/issues/{issue_id}/{path}", owner)
        assert response.status == 404 and response.json()["detail"] == "tag not found"


def test_tag_values_page_most_frequent_first(api, owner, issue_id):
    path = f"/api/0/issues/{issue_id}/tags/user/values/"
    values: list[tuple[str, int]] = []
    query = "limit=3"
    while True:
        response = api(path, owner, query=query)
        assert response.status == 200
        values += [(v["value"], v["count"]) for v in response.json()]
        nxt = [m for m in LINK.findall(response.headers["link"]) if m[1] == "next"][0]
        if nxt[2] == "false":
            break
        query = f"limit=3&cursor={quote(nxt[3])}"
    assert len(values) == 7
    assert sorted(values, key=lambda v: -v[1])[:3] == values[:3]
    assert sum(count for _, count in values) == 10


def test_another_organizations_tags_are_not_found(api, outsider, issue_id):
    for path in ("tags/", "tags/browser/", "tags/browser/values/"):
        assert api(f"/api/0/issues/{issue_id}/{path}", outsider).status == 404


# Releases and environments


def test_releases_come_newest_first_in_sentrys_shape(api, owner, project):
    from tracehound.issues.models import Release

    now = timezone.now()
    for n, version in enumerate(["shop@1.0.0", "shop@1.1.0", "a" * 40]):
        Release.objects.create(
            project=project.project,
            version=version,
            first_seen=now - timedelta(days=3 - n),
            last_seen=now,
            new_issues=n,
        )
    releases = api("/api/0/projects/acme/backend/releases/", owner).json()
    assert [r["version"] for r in releases] == ["a" * 40, "shop@1.1.0", "shop@1.0.0"]
    assert [r["shortVersion"] for r in releases] == ["a" * 12, "1.1.0", "1.0.0"]
    release = releases[1]
    for field in (
        "version",
        "shortVersion",
        "dateCreated",
        "dateReleased",
        "firstEvent",
        "lastEvent",
        "newGroups",
        "projects",
        "commitCount",
        "deployCount",
        "authors",
    ):
        assert field in release
    assert release["newGroups"] == 1
    assert release["projects"][0]["slug"] == "backend"
    found = api("/api/0/projects/acme/backend/releases/", owner, query="query=1.0.0").json()
    assert [r["version"] for r in found] == ["shop@1.0.0"]


def test_environments_are_listed_by_name(api, owner, project):
    from tracehound.issues.models import Environment

    now = timezone.now()
    for name in ("staging", "production"):
        Environment.objects.create(
            project=project.project, name=name, first_seen=now, last_seen=now
        )
    envs = api("/api/0/projects/acme/backend/environments/", owner).json()
    assert [(e["name"], e["isHidden"]) for e in envs] == [("production", False), ("staging", False)]
    assert all(isinstance(e["id"], str) for e in envs)


def test_another_organizations_releases_and_environments_are_not_found(api, outsider, project):
    for what in ("releases", "environments"):
        assert api(f"/api/0/projects/acme/backend/{what}/", outsider).status == 404


@pytest.mark.parametrize("cursor", ["9223372036854775807:0:0", "-9223372036854775807:1:1:1"])
def test_a_release_cursor_outside_the_calendar_is_a_400(api, owner, project, cursor):
    response = api("/api/0/projects/acme/backend/releases/", owner, query=f"cursor={quote(cursor)}")
    assert response.status == 400 and "cursor" in response.json()["detail"]
