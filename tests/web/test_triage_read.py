"""What the issue page reads and says: status in words, event navigation, tag facets,
activity. Rows are written directly, as digest and the actions would leave them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model

from tracehound.events.models import Event
from tracehound.issues.models import Activity, Issue, IssueTagValue
from tracehound.projects.actions import create_project
from tracehound.web.triage import (
    activity_entries,
    event_navigation,
    parse_event_id,
    status_text,
    tag_facets,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def make_issue(**fields: object) -> Issue:
    project = create_project("acme", "backend")[0]
    return Issue.objects.create(
        project=project,
        short_id=1,
        title="ValueError: bad",
        grouping_version="newstyle:2023-01-11",
        first_seen=NOW,
        last_seen=NOW,
        **fields,
    )


def add_event(issue: Issue, n: int) -> Event:
    return Event.objects.create(
        project=issue.project,
        issue=issue,
        event_id=f"{n:032x}",
        timestamp=NOW,
        received_at=NOW,
        level="error",
        payload=b"",
    )


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"status": "unresolved", "substatus": "new"}, "New"),
        ({"status": "unresolved", "substatus": "ongoing"}, "Ongoing"),
        ({"status": "unresolved", "substatus": "regressed"}, "Regressed"),
        ({"status": "resolved", "resolution": "now"}, "Resolved"),
        (
            {"status": "resolved", "resolution": "in_release", "resolved_release": "1.2.0"},
            "Resolved in 1.2.0",
        ),
        (
            {"status": "resolved", "resolution": "in_next_release", "resolved_release": "1.2.0"},
            "Resolved in the next release after 1.2.0",
        ),
        ({"status": "resolved", "resolution": "by_age"}, "Auto-resolved: no events for a while"),
        ({"status": "ignored", "substatus": "archived_forever"}, "Ignored"),
        ({"status": "ignored", "ignore_count": 10}, "Ignored until 10 more events"),
        ({"status": "ignored", "ignore_count": 1}, "Ignored until 1 more event"),
        (
            {"status": "ignored", "ignore_count": 100, "ignore_window": 60},
            "Ignored until 100 more events within an hour",
        ),
        (
            {"status": "ignored", "ignore_user_count": 5, "ignore_user_window": 1440},
            "Ignored until 5 more users within a day",
        ),
        (
            {"status": "ignored", "ignore_until": NOW + timedelta(minutes=30)},
            "Ignored until 2026-12-01 08:30 UTC",
        ),
    ],
)
def test_the_status_reads_as_sentry_words_it(fields, text):
    assert status_text(make_issue(**fields)) == text


def test_navigation_from_a_middle_event_reaches_both_ends_and_both_neighbours():
    issue = make_issue()
    events = [add_event(issue, n) for n in range(1, 6)]
    nav = event_navigation(issue, events[2])
    assert (nav.oldest, nav.previous, nav.next, nav.latest) == (
        f"{1:032x}",
        f"{2:032x}",
        f"{4:032x}",
        f"{5:032x}",
    )


def test_the_latest_event_has_no_next_and_the_oldest_no_previous():
    issue = make_issue()
    first, last = add_event(issue, 1), add_event(issue, 2)
    assert event_navigation(issue, last).next is None
    assert event_navigation(issue, first).previous is None


def test_another_issues_events_are_not_neighbours():
    issue = make_issue()
    other = Issue.objects.create(
        project=issue.project,
        short_id=2,
        title="other",
        grouping_version="x",
        first_seen=NOW,
        last_seen=NOW,
    )
    mine = add_event(issue, 1)
    add_event(other, 2)
    nav = event_navigation(issue, mine)
    assert nav.next is None and nav.latest == mine.event_id


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AB" * 16, "ab" * 16),
        ("12345678-1234-1234-1234-123456789abc", "123456781234123412341234567" + "89abc"),
        ("latest", None),
        ("g" * 32, None),
        ("a" * 33, None),
        ("", None),
    ],
)
def test_event_ids_in_urls_are_parsed_as_sdks_write_them(text, expected):
    assert parse_event_id(text) == expected


def tag(issue: Issue, key: str, value: str, count: int) -> None:
    IssueTagValue.objects.create(
        issue=issue, key=key, value=value, times_seen=count, first_seen=NOW, last_seen=NOW
    )


def test_facets_show_the_top_nine_values_per_tag_with_their_share():
    issue = make_issue()
    counts = [40, 20, 10, 8, 6, 4, 3, 2, 2, 2, 2, 1]
    for i, count in enumerate(counts):
        tag(issue, "browser", f"b{i}", count)
    tag(issue, "environment", "production", 3)
    tag(issue, "environment", "staging", 1)
    facets = {f.key: f for f in tag_facets(issue)}
    assert list(facets) == ["browser", "environment"]  # most events first
    browser = facets["browser"]
    assert (browser.total, browser.distinct) == (100, 12)
    assert [(v.value, v.count, v.percent) for v in browser.values] == [
        ("b0", 40, 40),
        ("b1", 20, 20),
        ("b2", 10, 10),
        ("b3", 8, 8),
        ("b4", 6, 6),
        ("b5", 4, 4),
        ("b6", 3, 3),
        ("b7", 2, 2),
        ("b8", 2, 2),
    ]
    assert [(v.value, v.percent) for v in facets["environment"].values] == [
        ("production", 75),
        ("staging", 25),
    ]


def test_a_rare_value_shows_at_least_one_percent():
    issue = make_issue()
    tag(issue, "release", "1.0", 10_000)
    tag(issue, "release", "0.9", 1)
    assert [v.percent for v in tag_facets(issue)[0].values] == [99, 1]


def test_an_issue_without_tags_has_no_facets():
    assert tag_facets(make_issue()) == []


def test_activity_reads_in_time_order_with_comments_and_who_did_it():
    issue = make_issue()
    ann = get_user_model().objects.create_user("ann")
    for minutes, user, kind, data in [
        (3, ann, "note", {"text": "looking into it"}),
        (1, None, "first_seen", {}),
        (2, ann, "set_resolved_in_release", {"version": "1.2.0"}),
        (4, None, "set_regression", {"event_id": "ab" * 16}),
    ]:
        Activity.objects.create(
            project=issue.project,
            issue=issue,
            user=user,
            type=kind,
            data=data,
            created_at=NOW + timedelta(minutes=minutes),
        )
    entries = activity_entries(issue)
    assert [(e.who, e.text, e.comment) for e in entries] == [
        ("Tracehound", "first saw the issue", None),
        ("ann", "resolved the issue in 1.2.0", None),
        ("ann", "commented", "looking into it"),
        ("Tracehound", f"marked the issue as a regression (event {'ab' * 16})", None),
    ]


def test_activity_with_odd_data_still_reads():
    issue = make_issue()
    Activity.objects.create(
        project=issue.project,
        issue=issue,
        type="merge",
        data={"issues": "not a list"},
        created_at=NOW,
    )
    Activity.objects.create(
        project=issue.project, issue=issue, type="something_new", data=[1], created_at=NOW
    )
    assert [e.text for e in activity_entries(issue)] == ["merged issues", "something new"]
