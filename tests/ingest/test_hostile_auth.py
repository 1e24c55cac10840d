"""Unauthenticated, hostile credentials and framing get a 4xx, never a 500."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from tests.envelopes import envelope
from tests.queued import queued

pytestmark = pytest.mark.django_db(transaction=True)

HUGE = str(2**63)


def dsn_for(project, project_id: str) -> str:
    return f"http://{project.public_key}@127.0.0.1:8000/{project_id}"


@pytest.mark.parametrize(
    ("project_id", "words"),
    [("²", "project id"), (HUGE, "project id"), (str(2**64 + 5), "project id")],
)
def test_a_hostile_project_id_in_the_dsn_is_rejected(wsgi, project, project_id, words):
    body = envelope({"message": "hi"}, dsn=dsn_for(project, project_id))
    response = wsgi("POST", "/tunnel", body)
    assert response.status == 400, response.body
    assert words in response.json()["detail"]
    assert queued().count() == 0


@pytest.mark.parametrize("project_id", ["²", "٣", HUGE, str(2**64)])
def test_a_hostile_project_id_in_the_url_is_rejected(wsgi, project, project_id):
    for endpoint in ("envelope", "store", "security"):
        response = wsgi(
            "POST", f"/api/{project_id}/{endpoint}/", envelope({"m": 1}), headers=project.auth
        )
        assert 400 <= response.status < 500, (endpoint, response.status, response.body)
    assert queued().count() == 0


@pytest.mark.parametrize("dsn", ["http://key@[::1/1", "http://key@[nonsense]/1", "http://[/1"])
def test_a_dsn_that_is_not_a_url_is_rejected(wsgi, project, dsn):
    response = wsgi("POST", "/tunnel", envelope({"message": "hi"}, dsn=dsn))
    assert response.status == 401, response.body
    assert "dsn" in response.json()["detail"]
    assert queued().count() == 0


def test_a_duplicated_sent_at_in_a_deeply_nested_header_is_rejected(wsgi, project):
    deep = b"[" * 1000 + b"]" * 1000
    header = b'{"sent_at":"2026-01-01T00:00:00Z","x":' + deep + b',"sent_at":"x"}'
    body = header + b'\n{"type":"event","length":2}\n{}\n'
    for path, headers in ((f"/api/{project.id}/envelope/", project.auth), ("/tunnel", {})):
        response = wsgi("POST", path, body, headers=headers)
        assert response.status == 400, (path, response.status, response.body)
    assert queued().count() == 0


def test_credentials_in_the_request_are_checked_before_the_body_is_read(wsgi, project):
    # A wrong key with an undecodable body: the key is what is wrong, and nothing is
    # decompressed for a sender who is not authenticated.
    bad_auth = {"X-Sentry-Auth": "Sentry sentry_key=nobody", "Content-Encoding": "gzip"}
    response = wsgi("POST", f"/api/{project.id}/envelope/", b"not gzip", headers=bad_auth)
    assert response.status == 401, response.body
    response = wsgi(
        "POST", f"/api/{project.id}/envelope/", b"garbage\n{\n", query="sentry_key=nobody"
    )
    assert response.status == 401, response.body


@pytest.mark.parametrize("key", ["ab\x00cd", "k" * 5000, "é" * 32])
@pytest.mark.parametrize("where", ["query", "header", "dsn"])
def test_a_public_key_no_dsn_could_hold_is_a_401(wsgi, project, key, where):
    # On PostgreSQL a NUL in the key failed the lookup: 503, and a reconnect per request.
    body, headers, query, path = envelope({"message": "hi"}), {}, "", f"/api/{project.id}/envelope/"
    if where == "query":
        query = "sentry_key=" + quote(key)
    elif where == "header":
        headers = {"X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7"}
    else:
        body = envelope({"message": "hi"}, dsn=f"http://{quote(key)}@127.0.0.1:8000/{project.id}")
        path = "/tunnel"
    response = wsgi("POST", path, body, headers=headers, query=query)
    assert response.status == 401, response.body
    assert "public key" in response.json()["detail"]
    assert queued().count() == 0
