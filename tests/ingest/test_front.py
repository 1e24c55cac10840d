"""The async front (tracehound.rsgi) as granian drives it: a stand-in for granian's
scope and protocol objects, our own code for everything else."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from django.test import override_settings
from tests.envelopes import envelope, item
from tests.queued import lock_out_writers, queued

from tracehound.ingest import db
from tracehound.ingest.app import QUEUE
from tracehound.projects.models import RateWindow
from tracehound.rsgi import Front, make_environ

pytestmark = pytest.mark.django_db(transaction=True)


class Headers:
    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._items = items

    def get(self, key: str, default: Any = None) -> Any:
        return next((v for k, v in self._items if k == key), default)

    def items(self) -> list[tuple[str, str]]:
        return self._items


class Scope:
    proto = "http"
    http_version = "1.1"
    server = "127.0.0.1:8000"
    scheme = "http"
    authority = None

    def __init__(self, method: str, path: str, headers: list[tuple[str, str]], **kw: str):
        self.method, self.path, self.headers = method, path, Headers(headers)
        self.query_string = kw.get("query", "")
        self.client = kw.get("client", "203.0.113.5:40000")


class Proto:
    """Delivers the body in chunks, or never (`stall`)."""

    def __init__(self, body: bytes = b"", *, stall: bool = False) -> None:
        self.body, self.stall = body, stall
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.response = b""
        self.answers = 0

    async def __call__(self) -> bytes:
        if self.stall:
            await asyncio.sleep(3600)
        return self.body

    async def __aiter__(self) -> Any:
        if self.stall:
            await asyncio.sleep(3600)
        for start in range(0, len(self.body), 10):
            yield self.body[start : start + 10]

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status, self.headers, self.response = status, dict(headers), body
        self.answers += 1


def post(front: Front, path: str, body: bytes, headers: dict[str, str], **kw: Any) -> Proto:
    items = [(k.lower(), v) for k, v in headers.items()]
    if not kw.pop("chunked", False):
        items.append(("content-length", str(len(body))))
    proto = Proto(body, stall=kw.pop("stall", False))
    asyncio.run(front.__rsgi__(Scope("POST", path, items, **kw), proto))
    return proto


@pytest.fixture
def front() -> Any:
    app = Front()
    yield app
    for pool in (app.ingest_pool, app.web_pool):
        if pool is not None:
            pool.shutdown()


def test_an_event_answered_on_the_loop_is_committed_before_the_answer(front, project):
    body = envelope({"message": "hi"})
    proto = post(front, f"/api/{project.id}/envelope/", body, project.auth)
    assert proto.status == 200, proto.response
    event_id = orjson.loads(proto.response)["id"]
    assert event_id.encode() in bytes(queued().get().body)


def test_an_event_whose_row_is_refused_gets_one_503_answer_from_the_loop(front, project):
    path = f"/api/{project.id}/envelope/"
    first = post(front, path, envelope({"message": "caches the key"}), project.auth)
    assert first.status == 200, first.response
    with override_settings(TRACEHOUND_INGEST_DB_TIMEOUT=1):
        QUEUE.stop()  # the writer reconnects with the short timeout
        locker = lock_out_writers("queue_queueitem")
        try:
            proto = post(front, path, envelope({"message": "refused"}), project.auth)
        finally:
            locker.close()
            QUEUE.stop()
            db.close()
    assert (proto.status, proto.answers) == (503, 1), proto.response
    assert queued().count() == 1


def test_a_chunked_body_is_read_whole(front, project):
    body = envelope({"message": "chunked"})
    proto = post(front, f"/api/{project.id}/envelope/", body, project.auth, chunked=True)
    assert proto.status == 200, proto.response
    assert queued().count() == 1


def test_a_request_that_needs_the_database_is_answered_from_the_ingest_pool(front, project):
    project.project.rate_limit = 10  # counting the event is a statement
    project.project.save(update_fields=["rate_limit"])
    proto = post(front, f"/api/{project.id}/envelope/", envelope({"m": 1}), project.auth)
    assert proto.status == 200, proto.response
    assert queued().count() == 1
    assert RateWindow.objects.get().count == 1  # counted once, not once per attempt


def test_a_body_that_does_not_arrive_in_time_gets_408(front, project, settings):
    settings.TRACEHOUND_BODY_TIMEOUT = 1
    proto = post(front, f"/api/{project.id}/envelope/", b"x" * 100, project.auth, stall=True)
    assert proto.status == 408
    assert "within 1 s" in orjson.loads(proto.response)["detail"]
    assert proto.headers["Connection"] == "close"
    assert queued().count() == 0


def test_a_body_over_the_limit_gets_413_before_it_is_read(front, project, settings):
    settings.TRACEHOUND_MAX_ENVELOPE_SIZE = 2048
    proto = post(front, "/login/", b"x" * 4096, {}, stall=True)
    assert proto.status == 413


def test_health_and_django_pages_are_answered(front, db):
    health = Proto()
    asyncio.run(front.__rsgi__(Scope("GET", "/health/", []), health))
    assert health.status == 200
    login = Proto()
    asyncio.run(front.__rsgi__(Scope("GET", "/login/", [("host", "127.0.0.1")]), login))
    assert login.status == 200
    assert b"<form" in login.response


def test_the_environ_follows_pep_3333():
    scope = Scope(
        "POST",
        "/caf\u00e9/",
        [("x-a", "1"), ("x-a", "2"), ("content-type", "text/plain"), ("content-length", "3")],
        query="a=%00",
        client="[::1]:5000",
    )
    environ = make_environ(scope, b"abc")
    assert environ["PATH_INFO"] == "/caf\u00e9/".encode().decode("latin-1")
    assert environ["HTTP_X_A"] == "1,2"
    assert environ["CONTENT_TYPE"] == "text/plain"
    assert environ["CONTENT_LENGTH"] == "3"
    assert environ["REMOTE_ADDR"] == "::1"
    assert environ["QUERY_STRING"] == "a=%00"
    assert environ["wsgi.input"].read() == b"abc"


def test_a_body_that_inflates_past_a_megabyte_is_decompressed_on_the_ingest_pool(
    front, project, settings
):
    import gzip

    event = {"message": "big", "extra": {"blob": "a" * 600_000}}
    attachment = item("attachment", b"z" * 900_000, filename="big.log")
    body = gzip.compress(envelope(event, attachment))
    assert len(body) < 64 * 1024  # small enough to be tried on the loop
    headers = {**project.auth, "Content-Encoding": "gzip"}
    proto = post(front, f"/api/{project.id}/envelope/", body, headers)
    assert proto.status == 200, proto.response
    assert queued().count() == 1


def test_bodies_past_the_memory_budget_get_503_until_earlier_ones_are_done(
    front, project, settings
):
    # Reading bodies on the loop has no thread count to bound them: without a budget,
    # a thousand connections of 20 MB each would be held at once.
    settings.TRACEHOUND_BODY_TIMEOUT = 1
    settings.TRACEHOUND_BODY_MEMORY = 3000
    path = f"/api/{project.id}/envelope/"
    body = envelope({"message": "x" * 1500})
    headers = [(k.lower(), v) for k, v in project.auth.items()]
    headers.append(("content-length", str(len(body))))

    async def both() -> tuple[Proto, Proto]:
        slow, second = Proto(body, stall=True), Proto(body)
        first = asyncio.ensure_future(front.__rsgi__(Scope("POST", path, headers), slow))
        await asyncio.sleep(0.05)  # the slow one holds its share of the budget
        await front.__rsgi__(Scope("POST", path, headers), second)
        await first
        return slow, second

    slow, second = asyncio.run(both())
    assert second.status == 503
    assert second.headers["Retry-After"] == "1"
    assert slow.status == 408
    assert post(front, path, body, project.auth).status == 200  # the budget was given back
    assert queued().count() == 1
