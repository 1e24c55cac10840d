"""Notification messages (alerts.messages): links, frames, and hostile event data kept
small and storable (PostgreSQL's jsonb refuses NUL)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from django.conf import settings

from tests.alerts.test_evaluate import channel, digest_events, rows, rule
from tests.issues.digesting import error
from tracehound.alerts import outbox
from tracehound.alerts.base import Notification
from tracehound.alerts.messages import issue_message, sample_message
from tracehound.alerts.models import Notification as Row
from tracehound.issues.models import Issue

pytestmark = pytest.mark.django_db(transaction=True)

HOSTILE = "<b>*bold*</b> `x` \x00 \ud800 " + "w" * 1_000_000
WIRE = HOSTILE.replace("\ud800", "\U0001f4a5")  # what JSON can carry


def test_hostile_event_data_stays_small_and_storable(wsgi, project, digest_all):
    hook = channel(project)
    rule(project, [hook], ["new_issue"])
    tags = {f"k{i}": WIRE[:300] for i in range(120)}
    word = WIRE[:400_000]  # the event stays under ingest's 1 MB item limit
    event = error("Boom" + WIRE[:5000], tags=tags, culprit=word, environment="prod\x00x")
    event["exception"]["values"][0]["value"] = word
    digest_events(wsgi, project, digest_all, event)
    [n] = rows()
    raw = orjson.dumps(n.payload)
    assert len(raw) < 40_000
    assert b"\\u0000" not in raw
    assert len(n.payload["issue"]["title"]) <= 1024
    assert len(n.payload["event"]["message"]) <= 1024
    assert len(n.payload["event"]["tags"]) <= 50
    # The backends get it back intact as a typed message.
    message = Notification.from_payload(n.id.hex, n.payload)
    assert message.issue is not None and message.issue.short_id == "BACKEND-1"


def test_an_issue_with_hostile_fields_makes_a_storable_message(wsgi, project, digest_all):
    digest_events(wsgi, project, digest_all, error())
    issue = Issue.objects.select_related("project__organization").get()
    issue.title = HOSTILE
    issue.culprit = "\x00" * 10
    message = issue_message(
        issue, "issue.new", HOSTILE, rule="r\x00", details={"big": 2**64, "s": HOSTILE, "n": None}
    )
    assert message.issue is not None and len(message.issue.title) == 1024
    assert message.issue.culprit == "\ufffd" * 10
    assert len(message.reason) == 1024
    assert message.details == {"big": str(2**64), "s": HOSTILE[:200].replace("\x00", "\ufffd")
                               .encode("utf-8", "replace").decode(), "n": None}  # fmt: skip
    # Without an event given, the stored latest event supplies frames and the summary.
    assert message.event is not None and message.event.event_id == issue.events.get().event_id
    assert message.issue.frames == (
        {"function": "run", "module": "app", "filename": "app.py", "lineno": 3},
    )
    [row] = outbox.enqueue([channel(project)], message, dedupe_key="x", issue_id=issue.pk)
    assert Row.objects.get(pk=row.pk).payload["issue"]["culprit"] == "\ufffd" * 10


def test_links_are_absolute(wsgi, project, digest_all):
    digest_events(wsgi, project, digest_all, error())
    issue = Issue.objects.get()
    message = issue_message(issue, "issue.new", "New issue")
    assert message.issue is not None and message.event is not None
    base = settings.BASE_URL
    assert message.issue.url == f"{base}/organizations/acme/issues/{issue.pk}/"
    assert message.event.url == (
        f"{base}/organizations/acme/issues/{issue.pk}/events/{message.event.event_id}/"
    )
    assert (message.organization, message.project, message.kind) == ("acme", "backend", "issue.new")


def test_sample_message_for_a_test_notification(project):
    hook = channel(project)
    message = sample_message(hook)
    assert message.kind == "test"
    assert message.issue is not None and message.issue.frames
    assert message.event is not None and message.event.tags
    assert message.organization == "acme"
    assert hook.name in message.reason
    [row] = outbox.enqueue([hook], message, dedupe_key=f"test:{message.id}")
    again = Notification.from_payload(row.id.hex, Row.objects.get(pk=row.pk).payload)
    assert again.issue == message.issue
    assert again.created_at.tzinfo is not None and again.created_at <= datetime.now(UTC)
