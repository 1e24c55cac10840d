"""Hostile event content never breaks a page or an API endpoint, not even for an existing issue.

Every variant joins one issue (same fingerprint) that already holds a normal event, so a
single bad event would break the issue for everyone if a renderer could not cope.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from tests.envelopes import envelope, exception_event

from tracehound.accounts.models import ApiToken
from tracehound.events.models import Event
from tracehound.issues.models import Issue
from tracehound.lib.compression import compress_payload
from tracehound.projects.actions import create_project

pytestmark = pytest.mark.django_db(transaction=True)

WORD = "W" * 400_000  # one unbroken word; with the rest the event stays under 1 MiB
HUGE = 2**64 - 1  # the largest integer JSON parsers keep as an integer


def deep(levels: int) -> Any:
    value: Any = "bottom"
    for level in range(levels):
        value = {"d": value} if level % 2 else [value]
    return value


def wrong_types() -> dict[str, Any]:
    """Strings where lists are expected, lists where dicts, numbers where strings."""
    return {
        "platform": ["python"],
        "level": {"x": 1},
        "logger": [1],
        "transaction": {"a": 1},
        "server_name": 5,
        "release": ["r"],
        "environment": {"e": 1},
        "message": ["not", "a", "message"],
        "logentry": {"formatted": {"a": 1}, "message": [1], "params": "p"},
        "exception": {
            "values": [
                "not a dict",
                {
                    "type": {"t": 1},
                    "value": ["v"],
                    "module": 7,
                    "mechanism": "mech",
                    "thread_id": {"x": 1},
                    "stacktrace": {
                        "frames": [
                            "frame",
                            {
                                "filename": ["a"],
                                "abs_path": {"b": 1},
                                "function": 12,
                                "module": [],
                                "lineno": "seven",
                                "colno": [1],
                                "in_app": "yes",
                                "context_line": ["x"],
                                "pre_context": 7,
                                "post_context": {"a": "b"},
                                "vars": "vars",
                            },
                            {"lineno": 3, "context_line": "x", "pre_context": [1, None, {}]},
                        ],
                        "registers": "r",
                    },
                },
            ]
        },
        "breadcrumbs": {
            "values": [
                "crumb",
                {"category": "ui.click", "message": "no type"},
                {"type": ["t"], "category": {"c": 1}, "level": 9, "message": {"m": 1}},
                {"level": ["warning"], "message": "a list as level"},
                {"timestamp": "yesterday", "data": "d"},
            ]
        },
        "tags": [["k", {"v": 1}], "tag", ["only-one"], [None, "v"], {"a": 1}],
        "user": ["u"],
        "request": {"url": ["u"], "method": {"m": 1}, "headers": "h", "data": 5, "env": []},
        "contexts": ["c"],
        "sdk": "sdk",
        "extra": ["e"],
        "modules": "m",
        "fingerprint": "fp",
        "_meta": "meta",
    }


def huge_numbers() -> dict[str, Any]:
    return {
        "timestamp": 1e300,
        "start_timestamp": -1e15,
        "level": HUGE,
        "release": 1e300,
        "tags": {"n": HUGE, "m": -1e15},
        "exception": {
            "values": [
                {
                    "type": "OverflowError",
                    "value": 1e300,
                    "stacktrace": {
                        "frames": [
                            {
                                "function": "f",
                                "lineno": HUGE,
                                "colno": 1e300,
                                "context_line": "x",
                                "pre_context": ["a"],
                            },
                            {"function": "g", "lineno": -1e15, "context_line": "y"},
                        ]
                    },
                }
            ]
        },
        "breadcrumbs": [
            {"type": "default", "message": "far future", "timestamp": 1e300},
            {"type": "default", "message": "far past", "timestamp": -1e15},
            {"type": "default", "message": "huge", "timestamp": HUGE},
        ],
        "user": {"id": HUGE},
    }


def megabyte_words() -> dict[str, Any]:
    return {
        "exception": {"values": [{"type": WORD[:100_000], "value": WORD}]},
        "tags": {WORD[:50_000]: WORD[:50_000]},
        "transaction": WORD[:50_000],
    }


def many_things() -> dict[str, Any]:
    return {
        "exception": {
            "values": [
                {
                    "type": "RecursionError",
                    "value": "deep",
                    "stacktrace": {
                        "frames": [{"function": f"f{i}", "lineno": i} for i in range(10_000)]
                    },
                }
            ]
        },
        "breadcrumbs": {"values": [{"message": f"m{i}"} for i in range(10_000)]},
        "tags": {f"k{i}": "v" for i in range(10_000)},
    }


def nested() -> dict[str, Any]:
    bag = deep(100)
    return {
        "logentry": {"message": "deep %s", "params": [bag]},
        "extra": {"bag": bag},
        "contexts": {"bag": {"bag": bag}},
        "user": {"id": "u", "data": bag},
        "request": {"url": "http://x/", "data": bag, "headers": {"X": bag}},
        "sdk": {"name": "evil", "integrations": bag},
        "exception": {
            "values": [
                {
                    "type": "Deep",
                    "value": "deep",
                    "mechanism": {"type": "generic", "data": bag},
                    "stacktrace": {"frames": [{"function": "f", "vars": {"v": bag}}]},
                }
            ]
        },
        "breadcrumbs": [{"type": "http", "data": {"bag": bag}}],
        "_meta": {"extra": bag},
    }


def nul_everywhere() -> dict[str, Any]:
    return {
        "message": "hello\x00world",
        "level": "error\x00",
        "logger": "log\x00ger",
        "transaction": "/tx\x00",
        "culprit": "cul\x00prit",
        "release": "1.0\x00",
        "environment": "prod\x00",
        "server_name": "host\x00",
        "tags": {"k\x00ey": "va\x00lue"},
        "exception": {
            "values": [
                {
                    "type": "Nul\x00Error",
                    "value": "v\x00",
                    "stacktrace": {"frames": [{"function": "f\x00", "module": "m\x00"}]},
                }
            ]
        },
        "breadcrumbs": [{"type": "t\x00", "message": "m\x00", "category": "c\x00"}],
        "user": {"id": "u\x00", "email": "a\x00@example.com"},
    }


VARIANTS: dict[str, Callable[[], dict[str, Any]]] = {
    "wrong types": wrong_types,
    "huge numbers": huge_numbers,
    "megabyte words": megabyte_words,
    "ten thousand of everything": many_things,
    "depth 100": nested,
    "NUL in every string": nul_everywhere,
}


@pytest.fixture
def owner(project):
    user = get_user_model().objects.create_user("owner", password="x" * 12)
    create_project("acme", "backend", owner=user)
    return user


@pytest.fixture
def token(owner) -> str:
    return ApiToken.issue(owner)[1]


def send(wsgi, project, payload: dict[str, Any], **headers: Any) -> str:
    event_id = uuid.uuid4().hex
    body = envelope({**payload, "event_id": event_id}, event_id=event_id, **headers)
    response = wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth)
    assert response.status == 200, response.body
    return event_id


def assert_everything_renders(client, token: str, issue: Issue, event_id: str) -> None:
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    pages = {
        "issue list": client.get("/acme/backend/"),
        "issue page": client.get(f"/organizations/acme/issues/{issue.id}/"),
        "api issues": client.get("/api/0/projects/acme/backend/issues/", **auth),
        "api issue": client.get(f"/api/0/issues/{issue.id}/", **auth),
        "api latest event": client.get(f"/api/0/issues/{issue.id}/events/latest/", **auth),
        "api event": client.get(f"/api/0/projects/acme/backend/events/{event_id}/", **auth),
    }
    for name, response in pages.items():
        assert response.status_code == 200, name
        body = response.content
        assert len(body) < 1_000_000, f"{name} is {len(body)} bytes"
        assert b"W" * 10_000 not in body, f"{name} shows an untrimmed word"
        assert b"\x00" not in body and b"\\u0000" not in body, f"{name} shows a NUL"


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_hostile_event_joined_to_an_issue_leaves_its_pages_and_api_working(
    client, wsgi, project, owner, token, digest_all, variant
):
    send(wsgi, project, exception_event(fingerprint=["shared"]))
    digest_all()
    issue = Issue.objects.get()
    event_id = send(wsgi, project, {**VARIANTS[variant](), "fingerprint": ["shared"]})
    digest_all()
    assert Event.objects.filter(event_id=event_id).exists(), "the hostile event was not stored"
    assert Issue.objects.get() == issue
    client.force_login(owner)
    assert_everything_renders(client, token, issue, event_id)


def test_a_sent_at_far_in_the_past_leaves_the_pages_working(
    client, wsgi, project, owner, token, digest_all
):
    crumbs = [{"type": "default", "message": "m", "timestamp": time.time()}]
    for sent_at in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", -1e15):
        event_id = send(wsgi, project, exception_event(breadcrumbs=crumbs), sent_at=sent_at)
        digest_all()
        client.force_login(owner)
        issue = Event.objects.get(event_id=event_id).issue
        assert_everything_renders(client, token, issue, event_id)


@pytest.mark.parametrize("variant", VARIANTS)
def test_an_event_stored_before_normalization_covered_it_still_renders(
    client, wsgi, project, owner, token, digest_all, variant
):
    """Renderers are defensive: old payloads, or a field normalize missed, must not 500."""
    send(wsgi, project, exception_event())
    digest_all()
    issue = Issue.objects.get()
    raw = VARIANTS[variant]()
    raw["breadcrumbs"] = raw.get("breadcrumbs") or [{"timestamp": 1e300}, {"timestamp": -1e15}]
    raw["tags"] = raw.get("tags") or {"a": "b"}
    event_id = uuid.uuid4().hex
    Event.objects.create(
        project=project.project,
        issue=issue,
        event_id=event_id,
        timestamp=timezone.now(),
        received_at=timezone.now(),
        level="error",
        payload=compress_payload(orjson.dumps(raw)),
    )
    client.force_login(owner)
    # Old payloads were never trimmed: only the status and the NUL-free body are checked.
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    for path in (
        f"/organizations/acme/issues/{issue.id}/",
        f"/api/0/issues/{issue.id}/events/latest/",
        f"/api/0/projects/acme/backend/events/{event_id}/",
    ):
        headers = auth if path.startswith("/api/") else {}
        assert client.get(path, **headers).status_code == 200, path
