"""Captured real-SDK envelopes, ingested and digested: what each one becomes.

One row per fixture in tests/fixtures/envelopes. A new fixture without a row
fails, so every captured SDK shape has its expectation written down.
"""

from __future__ import annotations

import pathlib
from typing import NamedTuple

import pytest

from tracehound.events.models import Attachment, Event, UserReport
from tracehound.issues.models import Issue
from tracehound.issues.queries import event_payload
from tracehound.queue.models import QueueItem

pytestmark = pytest.mark.django_db(transaction=True)

FIXTURES = pathlib.Path(__file__).parent.parent / "fixtures" / "envelopes"


class Expected(NamedTuple):
    title: str
    culprit: str
    level: str
    platform: str
    tags: dict[str, str]  # a subset of the event's tags


EVENTS = {
    "js-node-event": Expected(
        "TypeError: Cannot read properties of undefined (reading 'price')",
        "totalPrice(/srv/shop-api/src/cart.js)",
        "fatal",
        "node",
        {
            "environment": "production",
            "release": "shop-api@2.4.1",
            "runtime": "node v22.11.0",
            "os": "Linux 6.1.0",
            "handled": "no",
            "mechanism": "onuncaughtexception",
        },
    ),
    "python-exception": Expected(
        "ValueError: could not load the widget",
        "__main__ in _raise_chained",
        "error",
        "python",
        {"environment": "test", "release": "fixtures@1.0.0", "handled": "yes"},
    ),
    "python-message": Expected(
        "Disk usage is at 91%",
        "",
        "warning",
        "python",
        {"environment": "test", "release": "fixtures@1.0.0", "level": "warning"},
    ),
    "python-attachment": Expected(
        "event with attachments", "", "info", "python", {"release": "fixtures@1.0.0"}
    ),
}
# Fixtures without an error event: (user reports, attachments) they store.
OTHERS = {
    "js-browser-session": (0, 0),
    "python-check-in": (0, 0),
    "python-transaction": (0, 0),
    "python-feedback": (1, 0),
    "python-user-report": (1, 0),
}


def ingest(wsgi, project, digest_all, name: str) -> None:
    body = (FIXTURES / f"{name}.envelope").read_bytes()
    response = wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth)
    assert response.status == 200, response.body
    digest_all()
    assert not QueueItem.objects.exists(), "the envelope was not digested completely"


def test_every_fixture_has_an_expectation():
    names = {path.stem for path in FIXTURES.glob("*.envelope")}
    assert names == set(EVENTS) | set(OTHERS)


@pytest.mark.parametrize("name", EVENTS)
def test_a_real_sdk_event_gets_its_title_culprit_level_platform_and_tags(
    wsgi, project, digest_all, name
):
    ingest(wsgi, project, digest_all, name)
    expected = EVENTS[name]
    issue = Issue.objects.get()
    event = Event.objects.get()
    data = event_payload(event)
    assert (issue.title, issue.culprit, issue.level, issue.platform) == expected[:4]
    assert (data["title"], event.level, data["platform"]) == (
        expected.title,
        expected.level,
        expected.platform,
    )
    tags = dict(data["tags"])
    assert {key: tags.get(key) for key in expected.tags} == expected.tags


@pytest.mark.parametrize("name", OTHERS)
def test_a_real_sdk_envelope_without_an_error_stores_what_it_carries(
    wsgi, project, digest_all, name
):
    ingest(wsgi, project, digest_all, name)
    assert not Event.objects.exists()
    assert (UserReport.objects.count(), Attachment.objects.count()) == OTHERS[name]


def test_the_attachments_of_a_real_sdk_event_are_stored_with_it(wsgi, project, digest_all):
    ingest(wsgi, project, digest_all, "python-attachment")
    event = Event.objects.get()
    names = sorted(
        Attachment.objects.filter(event_id=event.event_id).values_list("name", flat=True)
    )
    assert len(names) == 2 and all(names)
