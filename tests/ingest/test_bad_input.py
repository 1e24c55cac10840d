"""Every bad request gets a 4xx naming the problem, and changes nothing."""

from __future__ import annotations

import gzip
import uuid

import orjson
import pytest
import time_machine
from django.test import override_settings
from tests.envelopes import envelope as build_envelope
from tests.envelopes import item
from tests.queued import queued

from tracehound.events.models import Event
from tracehound.issues.models import Issue
from tracehound.projects.models import ProjectKey, ProjectStat

pytestmark = pytest.mark.django_db(transaction=True)


def snapshot() -> tuple[int, ...]:
    return (
        queued().count(),
        Event.objects.count(),
        Issue.objects.count(),
        ProjectStat.objects.count(),
    )


def envelope(payload: bytes = b'{"message":"hi"}') -> bytes:
    return build_envelope(item("event", payload))


def assert_rejected(response, status: int, words: str) -> None:
    assert response.status == status, response.body
    detail = response.json()["detail"]
    assert words in detail
    assert words in response.headers["x-sentry-error"]


@pytest.fixture
def unchanged(transactional_db):
    before = snapshot()
    yield
    assert snapshot() == before


CASES = {
    "bad envelope header": (b"not json\n{}\n", 400, "envelope header"),
    "length past the end": (b'{}\n{"type":"event","length":500}\n{"a":1}\n', 400, "length"),
    "garbage after a length-prefixed payload": (
        b'{}\n{"type":"event","length":2}\n{}XYZ\n',
        400,
        "item 1",
    ),
    "item without type": (b'{}\n{"length":2}\n{}\n', 400, "type"),
    "event payload is not JSON": (b'{}\n{"type":"event"}\n{not json\n', 400, "invalid JSON"),
    "event payload is a list": (b'{}\n{"type":"event"}\n[1,2]\n', 400, "JSON object"),
    "two events": (b'{}\n{"type":"event"}\n{}\n{"type":"event"}\n{}\n', 400, "event"),
    "bad event_id": (b'{"event_id":"nope"}\n{"type":"event"}\n{}\n', 400, "event_id"),
    "attachment without filename": (b'{}\n{"type":"attachment","length":1}\nx\n', 400, "filename"),
}


@pytest.mark.parametrize("name", CASES)
def test_malformed_envelopes_are_rejected_with_a_reason(wsgi, project, unchanged, name):
    body, status, words = CASES[name]
    response = wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth)
    assert_rejected(response, status, words)


def test_a_body_that_does_not_decompress_is_rejected(wsgi, project, unchanged):
    response = wsgi(
        "POST",
        f"/api/{project.id}/envelope/",
        b"definitely not gzip",
        headers={**project.auth, "Content-Encoding": "gzip"},
    )
    assert_rejected(response, 400, "failed to read request body")


def test_an_unknown_content_encoding_is_rejected(wsgi, project, unchanged):
    response = wsgi(
        "POST",
        f"/api/{project.id}/envelope/",
        envelope(),
        headers={**project.auth, "Content-Encoding": "lzma"},
    )
    assert_rejected(response, 400, "lzma")


@override_settings(TRACEHOUND_MAX_ENVELOPE_SIZE=512 * 1024)
def test_a_gzip_bomb_is_stopped_at_the_cap(wsgi, project, unchanged):
    bomb = gzip.compress(b"{}\n" + b" " * (200 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 512 * 1024
    response = wsgi(
        "POST",
        f"/api/{project.id}/envelope/",
        bomb,
        headers={**project.auth, "Content-Encoding": "gzip"},
    )
    assert_rejected(response, 413, "exceeds")


@override_settings(TRACEHOUND_MAX_ENVELOPE_SIZE=4096)
def test_an_oversized_envelope_is_rejected(wsgi, project, unchanged):
    response = wsgi(
        "POST",
        f"/api/{project.id}/envelope/",
        envelope(b'"' + b"x" * 5000 + b'"'),
        headers=project.auth,
    )
    assert_rejected(response, 413, "exceeds")


@override_settings(TRACEHOUND_MAX_EVENT_SIZE=2048)
def test_an_oversized_event_item_is_rejected(wsgi, project, unchanged):
    payload = orjson.dumps({"message": "x" * 4000})
    response = wsgi("POST", f"/api/{project.id}/envelope/", envelope(payload), headers=project.auth)
    assert_rejected(response, 413, "item 1 (event) exceeds 2048 bytes")


@override_settings(TRACEHOUND_MAX_ATTACHMENT_SIZE=2048)
def test_an_oversized_attachment_is_rejected(wsgi, project, unchanged):
    body = build_envelope(item("attachment", b"a" * 3000, filename="big.bin"))
    response = wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth)
    assert_rejected(response, 413, "(attachment) exceeds 2048 bytes")


def test_an_unknown_project_is_rejected(wsgi, project, unchanged):
    response = wsgi("POST", "/api/99999/envelope/", envelope(), headers=project.auth)
    assert_rejected(response, 404, "project 99999 does not exist")


def test_an_unknown_key_is_rejected(wsgi, project, unchanged):
    response = wsgi(
        "POST",
        f"/api/{project.id}/envelope/",
        envelope(),
        headers={"X-Sentry-Auth": "Sentry sentry_key=0123456789abcdef0123456789abcdef"},
    )
    assert_rejected(response, 401, "unknown public key")


def test_a_revoked_key_is_rejected(wsgi, project, unchanged):
    ProjectKey.objects.filter(pk=project.key.pk).update(is_active=False)
    response = wsgi("POST", f"/api/{project.id}/envelope/", envelope(), headers=project.auth)
    assert_rejected(response, 401, "disabled")


def test_a_request_without_credentials_is_rejected(wsgi, project, unchanged):
    response = wsgi("POST", f"/api/{project.id}/envelope/", envelope())
    assert_rejected(response, 401, "missing authorization")


def test_contradicting_credentials_are_rejected(wsgi, project, unchanged):
    response = wsgi(
        "POST",
        f"/api/{project.id}/envelope/",
        envelope(),
        headers=project.auth,
        query="sentry_key=ffffffffffffffffffffffffffffffff",
    )
    assert_rejected(response, 401, "multiple authorization payloads")


def test_a_dsn_header_contradicting_the_auth_header_is_rejected(wsgi, project, unchanged):
    body = (
        orjson.dumps({"dsn": "http://ffffffffffffffffffffffffffffffff@h/1"})
        + b'\n{"type":"event"}\n{}\n'
    )
    response = wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth)
    assert_rejected(response, 401, "multiple authorization payloads")


def test_a_key_of_another_project_is_rejected(wsgi, project, unchanged):
    from tracehound.projects.actions import create_project

    other, _ = create_project("acme", "frontend")
    response = wsgi("POST", f"/api/{other.id}/envelope/", envelope(), headers=project.auth)
    assert_rejected(response, 401, f"does not belong to project {other.id}")


def test_a_get_request_is_rejected(wsgi, project, unchanged):
    response = wsgi("GET", f"/api/{project.id}/envelope/", headers=project.auth)
    assert_rejected(response, 405, "POST")


def test_a_store_body_that_is_not_json_is_rejected(wsgi, project, unchanged):
    response = wsgi("POST", f"/api/{project.id}/store/", b"{oops", headers=project.auth)
    assert_rejected(response, 400, "invalid event JSON")


def test_a_security_report_that_is_not_a_report_is_rejected(wsgi, project, unchanged):
    response = wsgi(
        "POST",
        f"/api/{project.id}/security/",
        b'{"hello": 1}',
        headers={"Content-Type": "application/csp-report"},
        query=f"sentry_key={project.public_key}",
    )
    assert_rejected(response, 400, "invalid security report")


@time_machine.travel("2026-11-23 12:00:20Z", tick=False)  # mid-minute: one window
def test_the_rate_limit_answers_429_with_retry_headers_and_stores_nothing_more(
    wsgi, project, digest_all
):
    project.project.rate_limit = 2
    project.project.save(update_fields=["rate_limit"])
    statuses = [
        wsgi("POST", f"/api/{project.id}/envelope/", envelope(), headers=project.auth)
        for _ in range(3)
    ]
    assert [r.status for r in statuses] == [200, 200, 429]
    limited = statuses[2]
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["x-sentry-rate-limits"].endswith(
        ":error;default;security:project:project_quota"
    )
    assert "rate limit" in limited.json()["detail"]
    digest_all()
    assert Event.objects.count() == 2


@time_machine.travel("2026-11-23 12:00:20Z", tick=False)  # mid-minute: one window
def test_an_attachment_sent_after_its_event_does_not_count_against_the_rate_limit(wsgi, project):
    project.project.rate_limit = 1
    project.project.save(update_fields=["rate_limit"])
    event_id = uuid.uuid4().hex
    assert (
        wsgi("POST", f"/api/{project.id}/envelope/", envelope(), headers=project.auth).status == 200
    )
    body = build_envelope(item("attachment", b"log line\n", filename="app.log"), event_id=event_id)
    assert wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth).status == 200
