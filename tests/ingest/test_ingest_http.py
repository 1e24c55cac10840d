"""The ingest endpoints as SDKs use them: auth forms, encodings, framings, CORS, item types."""

from __future__ import annotations

import gzip
import uuid
import zlib

import brotli
import orjson
import pytest
import zstandard
from tests.envelopes import envelope, exception_event, item
from tests.queued import queued

from tracehound.events.models import Attachment, Event, UserReport
from tracehound.issues.models import Issue
from tracehound.projects.models import ProjectStat

pytestmark = pytest.mark.django_db(transaction=True)


def event_envelope(
    event_id: str | None = None, *, with_length: bool = True, extra: bytes = b""
) -> bytes:
    event = exception_event(event_id=event_id or uuid.uuid4().hex, timestamp=1795341823.837)
    return envelope(
        event, with_length=with_length, trailer=extra, sent_at="2026-11-22T10:03:15.754580Z"
    )


def test_an_envelope_with_header_auth_is_queued_and_answered_with_its_id(wsgi, project):
    event_id = uuid.uuid4().hex
    response = wsgi(
        "POST", f"/api/{project.id}/envelope/", event_envelope(event_id), headers=project.auth
    )
    assert response.status == 200, response.body
    assert response.json() == {"id": event_id}
    assert queued().filter(project_id=project.id).count() == 1


@pytest.mark.parametrize("style", ["x-sentry-auth", "authorization", "query", "dsn"])
def test_every_auth_form_is_accepted(wsgi, project, style):
    body, headers, query = event_envelope(), {}, ""
    if style == "x-sentry-auth":
        headers = project.auth
    elif style == "authorization":
        headers = {"Authorization": f"Sentry sentry_key={project.public_key}, sentry_version=7"}
    elif style == "query":
        query = f"sentry_key={project.public_key}&sentry_version=7&sentry_client=sentry.javascript.node%2F11.12.0"
    else:
        dsn = f"http://{project.public_key}@127.0.0.1:8000/{project.id}"
        first, rest = body.split(b"\n", 1)
        header = orjson.loads(first) | {"dsn": dsn}
        body = orjson.dumps(header) + b"\n" + rest
    response = wsgi("POST", f"/api/{project.id}/envelope/", body, headers=headers, query=query)
    assert response.status == 200, response.body


def test_the_tunnel_endpoint_authenticates_by_the_envelope_dsn(wsgi, project):
    dsn = f"http://{project.public_key}@127.0.0.1:8000/{project.id}"
    body = event_envelope()
    first, rest = body.split(b"\n", 1)
    body = orjson.dumps(orjson.loads(first) | {"dsn": dsn}) + b"\n" + rest
    response = wsgi("POST", "/tunnel", body, headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert response.status == 200, response.body
    assert queued().get().project_id == project.id


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd", "", "UTF-8", None])
def test_every_content_encoding_sdks_send_is_decoded(wsgi, project, encoding, digest_all):
    body = event_envelope()
    encoded = {
        "gzip": gzip.compress,
        "deflate": zlib.compress,
        "br": brotli.compress,
        "zstd": zstandard.ZstdCompressor().compress,
    }.get(encoding or "", lambda b: b)(body)
    headers = dict(project.auth)
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    response = wsgi("POST", f"/api/{project.id}/envelope/", encoded, headers=headers)
    assert response.status == 200, response.body
    digest_all()
    assert Event.objects.count() == 1


def test_a_chunked_body_without_content_length_or_type_is_read(wsgi, project, digest_all):
    response = wsgi(
        "POST",
        f"/api/{project.id}/envelope/",
        event_envelope(with_length=False),
        headers=project.auth,
        chunked=True,
    )
    assert response.status == 200, response.body
    digest_all()
    assert Event.objects.count() == 1


def test_cors_preflight_allows_the_sentry_headers(wsgi, project):
    response = wsgi(
        "OPTIONS", f"/api/{project.id}/envelope/", headers={"Origin": "http://app.example"}
    )
    assert response.status == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "x-sentry-auth" in response.headers["access-control-allow-headers"]
    assert "content-encoding" in response.headers["access-control-allow-headers"]


def test_responses_expose_the_rate_limit_headers_to_browsers(wsgi, project):
    response = wsgi("POST", f"/api/{project.id}/envelope/", event_envelope(), headers=project.auth)
    exposed = response.headers["access-control-expose-headers"]
    assert {"x-sentry-error", "x-sentry-rate-limits", "retry-after"} <= {
        h.strip() for h in exposed.split(",")
    }
    assert response.headers["access-control-allow-origin"] == "*"


def test_the_store_endpoint_takes_a_plain_json_event(wsgi, project, digest_all):
    event = {"message": "hello from store", "level": "warning"}
    response = wsgi("POST", f"/api/{project.id}/store/", orjson.dumps(event), headers=project.auth)
    assert response.status == 200, response.body
    event_id = response.json()["id"]
    digest_all()
    stored = Event.objects.get()
    assert stored.event_id == event_id
    assert stored.level == "warning"


def test_a_csp_report_becomes_an_event(wsgi, project, digest_all):
    report = {
        "csp-report": {
            "document-uri": "https://shop.example/checkout",
            "referrer": "",
            "violated-directive": "script-src-elem",
            "effective-directive": "script-src-elem",
            "original-policy": "default-src 'self'; report-uri /csp",
            "disposition": "enforce",
            "blocked-uri": "https://evil.example/x.js",
            "status-code": 200,
        }
    }
    response = wsgi(
        "POST",
        f"/api/{project.id}/security/",
        orjson.dumps(report),
        headers={"Content-Type": "application/csp-report"},
        query=f"sentry_key={project.public_key}&sentry_release=web@1.2&sentry_environment=prod",
    )
    assert response.status == 200, response.body
    digest_all()
    event = Event.objects.get()
    assert event.release == "web@1.2"
    assert event.environment == "prod"
    assert "evil.example" in Issue.objects.get().title


def test_attachments_and_user_reports_are_stored_with_their_event(wsgi, project, digest_all):
    event_id = uuid.uuid4().hex
    attachment = b"line one\nline two\n"
    report = orjson.dumps(
        {
            "event_id": event_id,
            "name": "Ann",
            "email": "ann@example.com",
            "comments": "It broke when I clicked save",
        }
    )
    body = envelope(
        exception_event(event_id=event_id),
        item("attachment", attachment, filename="note.txt", content_type="text/plain"),
        item("user_report", report),
    )
    response = wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth)
    assert response.status == 200, response.body
    digest_all()
    stored = Attachment.objects.get()
    assert (stored.event_id, stored.name, stored.size) == (event_id, "note.txt", len(attachment))
    assert UserReport.objects.get().comments == "It broke when I clicked save"


def test_client_reports_and_other_item_types_are_counted_not_stored(wsgi, project, digest_all):
    report = orjson.dumps(
        {
            "timestamp": 1795341823.8,
            "discarded_events": [
                {"reason": "ratelimit_backoff", "category": "error", "quantity": 3}
            ],
        }
    )
    session = orjson.dumps(
        {
            "sid": uuid.uuid4().hex,
            "init": True,
            "started": "2026-11-22T10:00:00Z",
            "status": "ok",
            "attrs": {"release": "1.0"},
        }
    )
    body = (
        b"{}\n"
        + orjson.dumps({"type": "client_report"})
        + b"\n"
        + report
        + b"\n"
        + orjson.dumps({"type": "session"})
        + b"\n"
        + session
        + b"\n"
        + orjson.dumps({"type": "profile_chunk"})
        + b"\n{}\n"
        + orjson.dumps({"type": "something_new"})
        + b"\nopaque\n"
    )
    response = wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth)
    assert response.status == 200, response.body
    assert response.json() == {}
    digest_all()
    stats = dict(ProjectStat.objects.values_list("key", "quantity"))
    assert stats == {
        "discarded:ratelimit_backoff:error": 3,
        "received:session": 1,
        "received:profile_chunk": 1,
        "received:something_new": 1,
    }
    assert Event.objects.count() == 0


def test_the_same_event_id_sent_twice_is_stored_once(wsgi, project, digest_all):
    event_id = uuid.uuid4().hex
    for _ in range(2):
        wsgi("POST", f"/api/{project.id}/envelope/", event_envelope(event_id), headers=project.auth)
    digest_all()
    assert Event.objects.filter(event_id=event_id).count() == 1
    assert Issue.objects.get().times_seen == 1


@pytest.mark.parametrize(
    ("trusted", "forwarded", "expected"),
    [
        ("", "198.51.100.7", "10.0.0.2"),  # no trusted proxy: the peer
        ("10.0.0.0/8", "198.51.100.7", "198.51.100.7"),
        ("10.0.0.0/8", "6.6.6.6, 198.51.100.7, 10.0.0.9", "198.51.100.7"),  # spoofed hop ignored
    ],
)
def test_auto_ip_comes_from_trusted_proxies_only(
    wsgi, project, digest_all, trusted, forwarded, expected
):
    import ipaddress

    from django.test import override_settings

    from tracehound.issues.queries import event_payload

    networks = tuple(ipaddress.ip_network(n) for n in trusted.split(",") if n)
    payload = orjson.dumps({"message": "hi", "user": {"ip_address": "{{auto}}"}})
    body = b"{}\n" + orjson.dumps({"type": "event", "length": len(payload)}) + b"\n" + payload
    with override_settings(TRACEHOUND_TRUSTED_PROXIES=networks):
        response = wsgi(
            "POST",
            f"/api/{project.id}/envelope/",
            body,
            remote_addr="10.0.0.2",
            headers={**project.auth, "X-Forwarded-For": forwarded},
        )
    assert response.status == 200, response.body
    digest_all()
    assert event_payload(Event.objects.get())["user"]["ip_address"] == expected


def test_concurrent_requests_are_each_queued_once_before_they_are_answered(wsgi, project):
    from concurrent.futures import ThreadPoolExecutor

    ids = [uuid.uuid4().hex for _ in range(60)]

    def send(event_id: str) -> int:
        status = wsgi(
            "POST", f"/api/{project.id}/envelope/", event_envelope(event_id), headers=project.auth
        ).status
        # Answered means committed: this request's row is visible to another connection.
        bodies = queued().filter(project_id=project.id).values_list("body", flat=True)
        assert any(event_id.encode() in bytes(body) for body in bodies), event_id
        return status

    with ThreadPoolExecutor(12) as pool:
        assert set(pool.map(send, ids)) == {200}
    assert queued().count() == 60
