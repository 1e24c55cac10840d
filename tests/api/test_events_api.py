"""An issue's events through the API: lists, navigation, latest/oldest/recommended."""

from __future__ import annotations

import re
import uuid
from urllib.parse import quote

import pytest

from tests.api.test_issue_list import send
from tests.envelopes import envelope, exception_event

pytestmark = pytest.mark.django_db(transaction=True)

LINK = re.compile(r'<([^>]*)>; rel="(\w+)"; results="(true|false)"; cursor="([^"]*)"')


@pytest.fixture
def five_events(wsgi, project, digest_all) -> tuple[int, list[str]]:
    """One issue with five events, sent and digested one at a time (oldest first)."""
    from tracehound.issues.models import Issue

    event_ids = []
    for n in range(5):
        event = exception_event(
            "ValueError",
            "boom",
            release=f"shop@1.{n % 2}",
            environment="production" if n < 3 else "staging",
            level="error" if n != 2 else "warning",
            user={"id": str(n)},
            tags={"n": str(n)},
        )
        body = envelope(event)
        assert (
            wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth).status == 200
        )
        digest_all()
        event_ids.append(event["event_id"])
    [issue] = Issue.objects.all()
    return issue.id, event_ids


def listed(api, user, issue_id: int, query: str = "") -> list[str]:
    response = api(f"/api/0/issues/{issue_id}/events/", user, query=query)
    assert response.status == 200, response.body
    return [e["eventID"] for e in response.json()]


def test_events_are_listed_newest_first_in_sentrys_summary_shape(api, owner, five_events):
    issue_id, event_ids = five_events
    response = api(f"/api/0/issues/{issue_id}/events/", owner)
    items = response.json()
    assert [e["eventID"] for e in items] == event_ids[::-1]
    first = items[0]
    assert {
        "id",
        "event.type",
        "groupID",
        "eventID",
        "projectID",
        "message",
        "title",
        "location",
        "culprit",
        "user",
        "tags",
        "platform",
        "dateCreated",
        "crashFile",
        "metadata",
    } <= set(first)
    assert first["groupID"] == str(issue_id)
    assert first["title"] == "ValueError: boom"
    assert first["user"]["id"] == "4"
    assert {"key": "n", "value": "4"} in first["tags"]
    assert "entries" not in first


def test_full_true_gives_whole_events(api, owner, five_events):
    issue_id, _ = five_events
    items = api(f"/api/0/issues/{issue_id}/events/", owner, query="full=true").json()
    assert items[0]["entries"][0]["type"] == "exception"


def test_event_pages_walk_with_cursors(api, owner, five_events):
    issue_id, event_ids = five_events
    seen: list[str] = []
    query = "limit=2"
    while True:
        response = api(f"/api/0/issues/{issue_id}/events/", owner, query=query)
        seen += [e["eventID"] for e in response.json()]
        nxt = [m for m in LINK.findall(response.headers["link"]) if m[1] == "next"][0]
        if nxt[2] == "false":
            break
        query = f"limit=2&cursor={quote(nxt[3])}"
    assert seen == event_ids[::-1]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("environment:staging", [4, 3]),
        ("!environment:staging", [2, 1, 0]),
        ("release:shop@1.1", [3, 1]),
        ("level:warning", [2]),
        ("environment:production level:error", [1, 0]),
        ("release:[shop@1.0, shop@1.1]", [4, 3, 2, 1, 0]),
        ("release:latest", [3, 1]),
    ],
)
def test_events_are_searched_by_their_stored_columns(api, owner, five_events, query, expected):
    from django.utils import timezone

    from tracehound.issues.models import Issue, Release

    issue_id, event_ids = five_events
    project_id = Issue.objects.get(id=issue_id).project_id
    for minor in (1, 0):  # 1.0 first seen last: semver order still makes 1.1 the latest
        Release.objects.update_or_create(  # digest may have made the row already
            project_id=project_id,
            version=f"shop@1.{minor}",
            defaults={
                "first_seen": timezone.now(),
                "last_seen": timezone.now(),
                "major": 1,
                "minor": minor,
                "patch": 0,
            },
        )
    got = listed(api, owner, issue_id, f"query={quote(query)}")
    assert got == [event_ids[n] for n in expected]


def test_the_environment_parameter_narrows_events(api, owner, five_events):
    issue_id, event_ids = five_events
    assert listed(api, owner, issue_id, "environment=staging") == [event_ids[4], event_ids[3]]


@pytest.mark.parametrize(("query", "position"), [("browser:x", 0), ("level:error oops", 12)])
def test_an_event_query_on_anything_else_is_a_400_with_the_position(
    api, owner, five_events, query, position
):
    issue_id, _ = five_events
    response = api(f"/api/0/issues/{issue_id}/events/", owner, query=f"query={quote(query)}")
    assert response.status == 400
    assert response.json()["detail"].endswith(f"(at position {position})")


def test_navigation_links_each_event_to_its_neighbours(api, owner, five_events):
    issue_id, event_ids = five_events
    base = f"/api/0/issues/{issue_id}/events/"
    oldest = api(f"{base}oldest/", owner).json()
    assert oldest["eventID"] == event_ids[0]
    assert oldest["previousEventID"] is None and oldest["nextEventID"] == event_ids[1]
    middle = api(f"{base}{event_ids[2]}/", owner).json()
    assert (middle["previousEventID"], middle["nextEventID"]) == (event_ids[1], event_ids[3])
    latest = api(f"{base}latest/", owner).json()
    assert latest["eventID"] == event_ids[4]
    assert latest["previousEventID"] == event_ids[3] and latest["nextEventID"] is None
    dashed = str(uuid.UUID(event_ids[2])).upper()
    assert api(f"{base}{dashed}/", owner).json()["eventID"] == event_ids[2]


def test_the_old_latest_route_answers_with_navigation_too(api, owner, five_events):
    issue_id, event_ids = five_events
    latest = api(f"/api/0/issues/{issue_id}/events/latest/", owner).json()
    assert latest["previousEventID"] == event_ids[3]


def test_recommended_is_the_recent_event_with_the_most_context(
    api, owner, wsgi, project, digest_all
):
    rich = exception_event("ValueError", "boom")
    rich["breadcrumbs"] = {
        "values": [{"message": f"step {n} " + "x" * 40, "category": "app"} for n in range(60)]
    }
    rich["request"] = {"url": "https://shop.example/cart", "method": "POST"}
    rich["user"] = {"id": "1", "email": "ann@example.com"}
    plain = [exception_event("ValueError", "boom") for _ in range(3)]
    for event in [plain[0], rich, *plain[1:]]:
        send(wsgi, project, event)
    digest_all()
    from tracehound.issues.models import Issue

    [issue] = Issue.objects.all()
    picked = api(f"/api/0/issues/{issue.id}/events/recommended/", owner).json()
    assert picked["eventID"] == rich["event_id"]


@pytest.mark.parametrize("ref", ["newest", "0" * 31, "g" * 32, "%00"])
def test_an_unknown_event_reference_is_a_json_404(api, owner, five_events, ref):
    issue_id, _ = five_events
    response = api(f"/api/0/issues/{issue_id}/events/{ref}/", owner)
    assert response.status == 404 and response.json()["detail"]


def test_an_event_of_another_issue_is_not_found_through_this_one(
    api, owner, wsgi, project, digest_all, five_events
):
    issue_id, _ = five_events
    other = exception_event("KeyError", "other")
    body = envelope(other)
    assert wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth).status == 200
    digest_all()
    response = api(f"/api/0/issues/{issue_id}/events/{other['event_id']}/", owner)
    assert response.status == 404


def test_another_organizations_issue_events_are_not_found(api, outsider, five_events):
    issue_id, event_ids = five_events
    for path in ("", "latest/", "oldest/", "recommended/", f"{event_ids[0]}/"):
        assert api(f"/api/0/issues/{issue_id}/events/{path}", outsider).status == 404


def test_an_issue_without_events_has_no_latest_event(api, owner, five_events):
    from tracehound.events.models import Event

    issue_id, _ = five_events
    Event.objects.all().delete()
    assert api(f"/api/0/issues/{issue_id}/events/latest/", owner).status == 404
    assert api(f"/api/0/issues/{issue_id}/events/recommended/", owner).status == 404
    assert api(f"/api/0/issues/{issue_id}/events/", owner).json() == []
