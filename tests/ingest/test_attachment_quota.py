"""Attachments count against the project's quota, in their own `attachment` category."""

from __future__ import annotations

import pytest
import time_machine
from tests.envelopes import envelope, exception_event, item

from tracehound.events.models import Attachment, Event

pytestmark = pytest.mark.django_db(transaction=True)


def limit_project(project, per_minute: int) -> None:
    project.project.rate_limit = per_minute
    project.project.save(update_fields=["rate_limit"])


def attachment_only(name: str = "app.log", data: bytes = b"log line\n") -> bytes:
    return envelope(item("attachment", data, filename=name))


@time_machine.travel("2026-11-23 12:00:20Z", tick=False)  # mid-minute: one window
def test_attachment_only_envelopes_over_the_quota_get_429_naming_the_category(wsgi, project):
    limit_project(project, 2)
    path = f"/api/{project.id}/envelope/"
    statuses = [wsgi("POST", path, attachment_only(), headers=project.auth) for _ in range(3)]
    assert [r.status for r in statuses] == [200, 200, 429]
    limited = statuses[2]
    assert limited.headers["x-sentry-rate-limits"].endswith(":attachment:project:project_quota")
    assert int(limited.headers["retry-after"]) >= 1
    assert "attachment" in limited.json()["detail"]


@time_machine.travel("2026-11-23 12:00:20Z", tick=False)
def test_attachment_bytes_count_against_the_byte_quota(wsgi, project, settings):
    settings.TRACEHOUND_ATTACHMENT_RATE_LIMIT_BYTES = 5000
    path = f"/api/{project.id}/envelope/"
    data = b"x" * 3000
    first = wsgi("POST", path, attachment_only(data=data), headers=project.auth)
    second = wsgi("POST", path, attachment_only(data=data), headers=project.auth)
    assert [first.status, second.status] == [200, 429]
    assert second.headers["x-sentry-rate-limits"].endswith(":attachment:project:project_quota")
    assert "bytes" in second.json()["detail"]


@time_machine.travel("2026-11-23 12:00:20Z", tick=False)
def test_an_event_is_kept_when_only_its_attachments_are_over_the_quota(wsgi, project, digest_all):
    limit_project(project, 5)
    path = f"/api/{project.id}/envelope/"
    for _ in range(5):
        assert wsgi("POST", path, attachment_only(), headers=project.auth).status == 200
    event = exception_event()
    body = envelope(event, item("attachment", b"dump", filename="core.txt"))
    response = wsgi("POST", path, body, headers=project.auth)
    assert response.status == 200, response.body
    assert response.headers["x-sentry-rate-limits"].endswith(":attachment:project:project_quota")
    digest_all()
    assert Event.objects.filter(event_id=event["event_id"]).exists()
    assert not Attachment.objects.filter(name="core.txt").exists()
