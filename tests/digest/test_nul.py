"""A NUL in any text that reaches a column is stripped, so PostgreSQL stores what SQLite does.

PostgreSQL text and jsonb columns cannot hold NUL: before, such an event was
answered 200 and then failed to store. Run on both databases.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from tests.envelopes import envelope, exception_event, item

from tracehound.events.models import Attachment, Event, UserReport
from tracehound.issues.models import Issue, IssueTagValue
from tracehound.queue.models import QueueItem

pytestmark = pytest.mark.django_db(transaction=True)

NUL = "\x00"

EVENT_FIELDS: dict[str, dict[str, Any]] = {
    "message": {"exception": None, "message": f"disk{NUL} full"},
    "tag key": {"tags": {f"re{NUL}gion": "eu"}},
    "tag value": {"tags": {"region": f"e{NUL}u"}},
    "release": {"release": f"shop@1.0{NUL}"},
    "environment": {"environment": f"prod{NUL}"},
    "dist": {"dist": f"d{NUL}1"},
    "transaction": {"transaction": f"/cart{NUL}"},
    "logger": {"logger": f"shop{NUL}.cart"},
    "server_name": {"server_name": f"web{NUL}1"},
    "culprit": {"culprit": f"shop{NUL}.cart in add"},
    "level": {"level": f"warning{NUL}"},
    "platform": {"platform": f"python{NUL}"},
    "user id": {"user": {"id": f"u{NUL}1"}},
    "fingerprint": {"fingerprint": [f"fp{NUL}"]},
}
EXCEPTION_FIELDS = {
    "exception type": ("type", f"Key{NUL}Error"),
    "exception value": ("value", f"'sku{NUL}'"),
    "exception module": ("module", f"shop{NUL}"),
}
FRAME_FIELDS = {
    "frame function": ("function", f"add{NUL}"),
    "frame module": ("module", f"shop.{NUL}cart"),
    "frame filename": ("filename", f"cart{NUL}.py"),
}


def has_nul(*values: Any) -> bool:
    return any(NUL in str(value) for value in values)


def assert_nothing_failed() -> None:
    failed = list(QueueItem.objects.filter(failed_at__isnull=False).values_list("error", flat=True))
    assert failed == []


def assert_event_stored_without_nul(event_id: str) -> None:
    assert_nothing_failed()
    event = Event.objects.get(event_id=event_id)
    assert not has_nul(event.level, event.release, event.environment)
    issue = Issue.objects.get(id=event.issue_id)
    assert not has_nul(issue.title, issue.culprit, issue.platform, issue.metadata)
    for key, value in IssueTagValue.objects.values_list("key", "value"):
        assert not has_nul(key, value)


def event_with(field: str) -> dict[str, Any]:
    event = exception_event()
    if field in EVENT_FIELDS:
        event.update(EVENT_FIELDS[field])
        if event["exception"] is None:
            del event["exception"]
    elif field in EXCEPTION_FIELDS:
        key, value = EXCEPTION_FIELDS[field]
        event["exception"]["values"][0][key] = value
    else:
        key, value = FRAME_FIELDS[field]
        event["exception"]["values"][0]["stacktrace"]["frames"][0][key] = value
    return event


@pytest.mark.parametrize("field", [*EVENT_FIELDS, *EXCEPTION_FIELDS, *FRAME_FIELDS])
def test_an_event_with_a_nul_in_a_text_field_is_stored(wsgi, project, digest_all, field):
    event = event_with(field)
    response = wsgi("POST", f"/api/{project.id}/envelope/", envelope(event), headers=project.auth)
    assert response.status == 200
    digest_all()
    assert_event_stored_without_nul(event["event_id"])


ATTACHMENT_HEADERS = {
    "attachment filename": {"filename": f"no{NUL}te.txt"},
    "attachment content type": {"content_type": f"text/plain{NUL}"},
    "attachment type": {"attachment_type": f"event.attachment{NUL}"},
}


@pytest.mark.parametrize("field", ATTACHMENT_HEADERS)
def test_an_attachment_with_a_nul_in_its_headers_is_stored(wsgi, project, digest_all, field):
    event = exception_event()
    headers = {"filename": "note.txt", "content_type": "text/plain", **ATTACHMENT_HEADERS[field]}
    body = envelope(event, item("attachment", b"hello", **headers))
    assert wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth).status == 200
    digest_all()
    assert_nothing_failed()
    attachment = Attachment.objects.get(event_id=event["event_id"])
    assert not has_nul(attachment.name, attachment.content_type, attachment.attachment_type)
    assert attachment.name.startswith("no") and attachment.name.endswith("te.txt")


FEEDBACK_FIELDS = {
    "feedback name": "name",
    "feedback email": "contact_email",
    "feedback message": "message",
    "feedback url": "url",
}


@pytest.mark.parametrize("field", FEEDBACK_FIELDS)
def test_feedback_with_a_nul_is_stored(wsgi, project, digest_all, field):
    feedback = {
        "message": "It broke",
        "name": "Ann",
        "contact_email": "ann@example.com",
        "url": "https://shop.example/cart",
    }
    feedback[FEEDBACK_FIELDS[field]] += NUL
    payload = {"event_id": uuid.uuid4().hex, "contexts": {"feedback": feedback}}
    body = envelope(item("feedback", payload), event_id=payload["event_id"])
    assert wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth).status == 200
    digest_all()
    assert_nothing_failed()
    report = UserReport.objects.get()
    assert not has_nul(report.name, report.email, report.comments, report.url)
    assert report.comments == "It broke"


USER_REPORT_FIELDS = {
    "user report name": "name",
    "user report email": "email",
    "user report comments": "comments",
}


@pytest.mark.parametrize("field", USER_REPORT_FIELDS)
def test_a_user_report_with_a_nul_is_stored(wsgi, project, digest_all, field):
    event_id = uuid.uuid4().hex
    report = {"event_id": event_id, "name": "Ann", "email": "a@example.com", "comments": "Hm"}
    report[USER_REPORT_FIELDS[field]] += NUL
    body = envelope(item("user_report", report), event_id=event_id)
    assert wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth).status == 200
    digest_all()
    assert_nothing_failed()
    stored = UserReport.objects.get()
    assert not has_nul(stored.name, stored.email, stored.comments)
    assert stored.event_id == event_id
