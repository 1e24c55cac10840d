"""Every search term against issues stored by the real digest, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tests.envelopes import envelope, exception_event
from tests.issues.digesting import error, send
from tracehound.issues.search import QueryError

pytestmark = pytest.mark.django_db(transaction=True)


def at_module(event: dict[str, Any], module: str, function: str) -> dict[str, Any]:
    frame = event["exception"]["values"][0]["stacktrace"]["frames"][0]
    frame.update(module=module, function=function)
    return event


def catalog_events() -> dict[str, list[dict[str, Any]]]:
    """Five issues, A to E, each differing from the others in what the terms look at."""
    a = [
        exception_event(
            "ValueError",
            "card declined",
            release="shop@1.0.0",
            environment="production",
            user={"email": "ann@example.com"},
            tags={"browser": "Chrome", "region": "eu"},
        )
        for _ in range(3)
    ]
    b = [
        exception_event(
            "KeyError",
            "missing sku",
            level="warning",
            release="shop@1.1.0",
            environment="staging",
            user={"id": "7", "email": "bob@example.com", "username": "bob"},
            tags={"region": "us"},
        )
    ]
    c = [
        at_module(
            exception_event(
                "TimeoutError", "upstream", release="shop@1.1.0", environment="production"
            ),
            "payments.gateway",
            "charge",
        )
        for _ in range(2)
    ]
    d = [
        {
            "event_id": uuid.uuid4().hex,
            "platform": "python",
            "level": "fatal",
            "message": "disk full",
            "environment": "production",
        }
    ]
    e = [exception_event("ZeroDivisionError", "division by zero")]
    return {"A": a, "B": b, "C": c, "D": d, "E": e}


@pytest.fixture
def catalog(wsgi, project, digest_all, owner) -> dict[str, int]:
    """Issue ids by letter, with statuses, assignment and times set as the terms need."""
    from tracehound.issues.models import Issue

    ids: dict[str, int] = {}
    for letter, events in catalog_events().items():
        for event in events:
            body = envelope(event)
            response = wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth)
            assert response.status == 200
        digest_all()
        ids[letter] = Issue.objects.order_by("-id").values_list("id", flat=True)[0]
    assert len(set(ids.values())) == 5
    now = timezone.now()
    update = {
        "A": {"first_seen": now - timedelta(days=10), "substatus": "ongoing"},
        "C": {"status": "resolved", "substatus": ""},
        "D": {
            "status": "ignored",
            "substatus": "archived_forever",
            "first_seen": now - timedelta(days=9),
            "last_seen": now - timedelta(days=8),
        },
        "E": {"assignee": owner, "substatus": "regressed"},
    }
    for letter, fields in update.items():
        Issue.objects.filter(id=ids[letter]).update(**fields)
    return ids


def found(catalog: dict[str, int], project, user, query: str, **kwargs: Any) -> str:
    from tracehound.issues.filters import search_issues

    letters = {issue_id: letter for letter, issue_id in catalog.items()}
    rows = search_issues([project.project], query, user, **kwargs).values_list("id", flat=True)
    return "".join(sorted(letters[i] for i in rows))


DAYS_AGO_8 = "{d8}"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", "ABCDE"),
        ("is:unresolved", "ABE"),
        ("is:resolved", "C"),
        ("is:ignored", "D"),
        ("is:archived", "D"),
        ("!is:resolved", "ABDE"),
        ("is:[resolved, ignored]", "CD"),
        ("is:regressed", "E"),
        ("is:assigned", "E"),
        ("is:unassigned", "ABCD"),
        ("is:for_review", "BE"),
        ("is:new", "B"),
        ("is:ongoing", "A"),
        ("assigned:me", "E"),
        ("assigned:owner", "E"),
        ("assigned:member", ""),
        ("assigned:none", "ABCD"),
        ("assigned:[me, none]", "ABCDE"),
        ("!assigned:me", "ABCD"),
        ("level:error", "ACE"),
        ("level:[fatal,warning]", "BD"),
        ("level:ERROR", "ACE"),
        ("release:shop@1.0.0", "A"),
        ("release:shop@1.1.0", "BC"),
        ("!release:shop@1.1.0", "ADE"),
        ("release:[shop@1.0.0, shop@1.1.0]", "ABC"),
        ("release:nope", ""),
        ("firstRelease:shop@1.0.0", "A"),
        ("environment:production", "ACD"),
        ("environment:staging", "B"),
        ("!environment:production", "BE"),
        ("has:environment", "ABCD"),
        ("!has:environment", "E"),
        ("firstSeen:-24h", "BCE"),
        ("firstSeen:+7d", "AD"),
        ("age:+7d", "AD"),
        ("lastSeen:+7d", "D"),
        ("lastSeen:-24h", "ABCE"),
        ("lastSeen:>-1h", "ABCE"),
        ("!lastSeen:-24h", "D"),
        (f"lastSeen:{DAYS_AGO_8}", "D"),
        ("times_seen:>1", "AC"),
        ("times_seen:3", "A"),
        ("times_seen:<=1", "BDE"),
        ("timesSeen:>=2", "AC"),
        ("times_seen:>1k", ""),
        ("user.email:ann@example.com", "A"),
        ("user.id:7", "B"),
        ("user.email:nobody@example.com", ""),
        ("has:user", "AB"),
        ("!has:user", "CDE"),
        ("browser:Chrome", "A"),
        ("browser:chrome", ""),
        ("region:[eu,us]", "AB"),
        ("!region:eu", "BCDE"),
        ("tags.region:us", "B"),
        ("tags[region]:eu", "A"),
        ('region:""', "CDE"),
        ("has:[browser, region]", "AB"),
        ("level:error:x", ""),
        ("card declined", "A"),
        ("CARD", "A"),
        ('"card declined"', "A"),
        ("payments.gateway", "C"),
        ("disk", "D"),
        ("message:declined", "A"),
        ("nothing matches this", ""),
        ("%", ""),
        ("_", ""),
        ("is:unresolved level:error", "AE"),
        ("is:unresolved environment:production times_seen:>1", "A"),
        ("!is:unresolved !level:fatal", "C"),
    ],
)
def test_each_term_finds_the_issues_it_names(catalog, project, owner, query, expected):
    d8 = (timezone.now() - timedelta(days=8)).date().isoformat()
    assert found(catalog, project, owner, query.format(d8=d8)) == expected


def test_release_latest_is_the_highest_semver_not_the_newest(catalog, project, owner):
    from tracehound.issues.models import Release

    now = timezone.now()
    for version, minor, age in (("shop@1.1.0", 1, 5), ("shop@1.0.0", 0, 1)):
        Release.objects.update_or_create(  # digest may have made the row already
            project=project.project,
            version=version,
            defaults={
                "first_seen": now - timedelta(days=age),
                "last_seen": now,
                "major": 1,
                "minor": minor,
                "patch": 0,
            },
        )
    assert found(catalog, project, owner, "release:latest") == "BC"
    assert found(catalog, project, owner, "!release:latest") == "ADE"


def test_release_latest_orders_numeric_builds_by_number(wsgi, project, digest_all, owner):
    from tracehound.issues.filters import search_issues
    from tracehound.issues.models import Issue

    hour_ago = time.time() - 3600
    send(wsgi, project, error("NewerError", release="2.0.0+10", timestamp=hour_ago))
    send(wsgi, project, error("OlderError", release="2.0.0+9"))  # first seen later
    digest_all()
    [latest] = search_issues([project.project], "release:latest", owner)
    assert latest.title.startswith("NewerError")
    assert Issue.objects.count() == 2


def test_release_latest_falls_back_to_first_seen_without_semver(catalog, project, owner):
    from tracehound.issues.models import Release

    now = timezone.now()
    for version, age in (("shop@1.1.0", 5), ("shop@1.0.0", 1)):
        Release.objects.update_or_create(
            project=project.project,
            version=version,
            defaults={"first_seen": now - timedelta(days=age), "last_seen": now, "major": None},
        )
    assert found(catalog, project, owner, "release:latest") == "A"


def test_release_latest_without_releases_matches_nothing(catalog, project, owner):
    from tracehound.issues.models import Release

    Release.objects.all().delete()
    assert found(catalog, project, owner, "release:latest") == ""


def test_an_issue_is_found_by_its_short_id_and_its_id(catalog, project, owner):
    from tracehound.issues.models import Issue
    from tracehound.issues.queries import short_id

    b = Issue.objects.select_related("project").get(id=catalog["B"])
    assert found(catalog, project, owner, f"issue:{short_id(b)}") == "B"
    assert found(catalog, project, owner, f"issue:{short_id(b).lower()}") == "B"
    assert found(catalog, project, owner, f"issue.id:{b.id}") == "B"
    assert found(catalog, project, owner, f"!issue.id:{b.id}") == "ACDE"
    assert found(catalog, project, owner, "issue:OTHER-1") == ""


def test_the_environment_parameter_narrows_like_the_term(catalog, project, owner):
    assert found(catalog, project, owner, "", environment=["staging"]) == "B"
    assert found(catalog, project, owner, "is:unresolved", environment=["production"]) == "A"


def test_another_projects_issues_are_never_found(catalog, project, owner, outsider):
    from tracehound.issues.filters import search_issues
    from tracehound.projects.models import Project

    other = Project.objects.get(slug="web")
    assert not search_issues([other], "", owner).exists()


def test_a_bad_query_raises_a_query_error_with_its_position(catalog, project, owner):
    from tracehound.issues.filters import search_issues

    with pytest.raises(QueryError) as caught:
        search_issues([project.project], "is:unresolved is:sleeping", owner)
    assert caught.value.position == 17


def test_priority_is_log10_of_events_times_600_plus_last_seen(catalog, project, owner):
    """Sentry's classic score: ten times the events is worth ten minutes of recency."""
    import math

    from tracehound.issues.filters import search_issues, sort_and_paginate, with_priority
    from tracehound.issues.models import Issue

    now = timezone.now().replace(microsecond=0)
    # A: 1000 events seen 15 min ago; B: 10 events seen now; C: 100 events 10 min ago.
    for letter, events, minutes in (("A", 1000, 15), ("B", 10, 0), ("C", 100, 10)):
        Issue.objects.filter(id=catalog[letter]).update(
            times_seen=events, last_seen=now - timedelta(minutes=minutes)
        )
    scores = dict(with_priority(Issue.objects.all()).values_list("id", "priority"))
    for letter in "ABC":
        issue = Issue.objects.get(id=catalog[letter])
        expected = math.log10(issue.times_seen) * 600 + issue.last_seen.timestamp()
        assert abs(scores[issue.id] - expected) <= 1
    page = sort_and_paginate(search_issues([project.project], "", owner), "priority", None, 3)
    letters = {v: k for k, v in catalog.items()}
    # A: 1800 - 900 = +900; C: 1200 - 600 = +600; B: 600 - 0 = +600, the newer id first.
    assert [letters[i.id] for i in page.rows] == ["A", "C", "B"]


def test_user_fields_besides_the_user_tag_are_found_too(catalog, project, owner):
    """B's events have a user id, so its `user` tag is "id:7"; digest also tags the
    email and username, so a search by them finds B."""
    from tracehound.issues.models import IssueTagValue

    assert found(catalog, project, owner, "user.email:bob@example.com") == "B"
    assert found(catalog, project, owner, "user.username:bob") == "B"
    assert found(catalog, project, owner, "user.id:7") == "B"
    assert found(catalog, project, owner, "!user.email:bob@example.com") == "ACDE"
    # A's only field is its email: the `user` tag holds it, no second row.
    keys = IssueTagValue.objects.filter(issue_id=catalog["A"], key__startswith="user")
    assert list(keys.values_list("key", "value")) == [("user", "email:ann@example.com")]
