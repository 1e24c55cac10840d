"""A local HTTP receiver on 127.0.0.1 for the alert backends' tests.

It records every request, checks it against the service's published contract (a
per-service `check` callable raising on a violation: the receiver then answers 400 and
the violation is kept in `.violations`), and answers from a script: a status with body
and headers, or a fault — hang past the client's timeout, reset the connection, or
answer bytes that are not HTTP.

    with Receiver(check=slack_contract) as hook:
        hook.script(Answer(429, b"rate_limited", {"Retry-After": "7"}), Answer(200, b"ok"))
        backend.send(notification, delivery_for(hook))
"""

from __future__ import annotations

import socket
import struct
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest

from tracehound.alerts.base import Backend, Delivery, EventSummary, IssueSummary, Notification
from tracehound.lib.outbound import Outbound


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    fault: str = ""  # "", "hang", "reset" or "garbage"


HANG = Answer(fault="hang")
RESET = Answer(fault="reset")
GARBAGE = Answer(fault="garbage")


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


class Receiver:
    def __init__(
        self,
        check: Callable[[Recorded], None] | None = None,
        default: Answer | None = None,
    ) -> None:
        self.check = check
        self.default = default or Answer(200, b"ok")
        self.requests: list[Recorded] = []
        self.violations: list[str] = []
        self.answers: deque[Answer] = deque()
        self.stopping = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler_class())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, *answers: Answer) -> None:
        """Answer the next requests with these, in order; then the default."""
        self.answers.extend(answers)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        recorded = Recorded(
            handler.command,
            handler.path,
            {k.lower(): v for k, v in handler.headers.items()},
            body,
        )
        self.requests.append(recorded)
        answer = self.answers.popleft() if self.answers else self.default
        if self.check is not None:
            try:
                self.check(recorded)
            except Exception as exc:  # a contract violation: the service would refuse it
                self.violations.append(f"{type(exc).__name__}: {exc}"[:2000])
                answer = Answer(400, b"contract violation")
        self.answer(handler, answer)

    def answer(self, handler: BaseHTTPRequestHandler, answer: Answer) -> None:
        if answer.fault == "hang":
            self.stopping.wait(30)
            return
        if answer.fault == "reset":
            # SO_LINGER 0: close() sends a TCP RST instead of a FIN.
            handler.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            handler.connection.close()
            handler.close_connection = True
            return
        if answer.fault == "garbage":
            handler.wfile.write(b"\x00\xffnot http at all\r\n\r\n")
            handler.close_connection = True
            return
        handler.send_response(answer.status)
        for name, value in answer.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(answer.body)))
        handler.end_headers()
        handler.wfile.write(answer.body)

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                receiver.handle(self)

            do_GET = do_PUT = do_PATCH = do_DELETE = do_POST  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        return Handler


@pytest.fixture
def receiver_factory() -> Iterator[Callable[..., Receiver]]:
    """Start receivers (stopped at the end of the test)."""
    started: list[Receiver] = []

    def start(check: Callable[[Recorded], None] | None = None, **kw: Any) -> Receiver:
        r = Receiver(check, **kw).__enter__()
        started.append(r)
        return r

    yield start
    for r in started:
        r.__exit__()


@pytest.fixture
def fast_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backends wait 1 s, not 20, for an answer: hang tests stay quick."""
    from tracehound.alerts import backends

    monkeypatch.setattr(backends, "READ_TIMEOUT", 1.0)


@pytest.fixture(autouse=True)
def allow_loopback(settings: Any) -> None:
    """The receivers are on 127.0.0.1: allow it through the outbound guard."""
    import ipaddress

    settings.TRACEHOUND_OUTBOUND_ALLOW = [ipaddress.ip_network("127.0.0.0/8")]


# --- Notifications to send -------------------------------------------------------------

NOW = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def notification(kind: str = "issue.new", **overrides: Any) -> Notification:
    """A realistic notification; `issue`/`event` overrides replace fields of each."""
    issue_fields = {
        "id": 42,
        "short_id": "SHOP-42",
        "title": "KeyError: 'user_id'",
        "culprit": "shop.views.checkout",
        "level": "error",
        "status": "unresolved",
        "platform": "python",
        "times_seen": 120,
        "users_seen": 7,
        "first_seen": NOW,
        "last_seen": NOW,
        "url": "https://tracehound.example/organizations/acme/issues/42/",
        "frames": (
            {
                "function": "checkout",
                "module": "shop.views",
                "filename": "shop/views.py",
                "lineno": 88,
            },
        ),
        "first_release": "1.4.2",
        **overrides.pop("issue", {}),
    }
    event_fields = {
        "event_id": "a" * 32,
        "timestamp": NOW,
        "level": "error",
        "environment": "production",
        "release": "1.4.2",
        "message": "KeyError: 'user_id'",
        "url": "https://tracehound.example/organizations/acme/issues/42/events/" + "a" * 32 + "/",
        "tags": (("browser", "Firefox"), ("server_name", "web-1")),
        **overrides.pop("event", {}),
    }
    values: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "kind": kind,
        "created_at": NOW,
        "organization": "acme",
        "project": "shop",
        "project_name": "Shop",
        "reason": "New issue",
        "rule": "Notify on new issues",
        "issue": IssueSummary(**issue_fields),
        "event": EventSummary(**event_fields),
        **overrides,
    }
    return Notification(**values)


HOSTILE_WORD = "\x00<script>alert(1)</script> *bold* _it_ `code` [x](http://e.vil) & " + "🔥" * 3


def hostile(kind: str = "issue.new") -> Notification:
    """Everything an event may carry: a 1 MB title, NUL, markup, emoji, 2^64 counts."""
    big = HOSTILE_WORD + "A" * 1_000_000
    return notification(
        kind,
        reason="New issue " + HOSTILE_WORD,
        rule=HOSTILE_WORD * 50,
        project_name=HOSTILE_WORD,
        issue={
            "title": big,
            "culprit": "\n".join([HOSTILE_WORD] * 5000),
            "short_id": HOSTILE_WORD,
            "level": "fatal",
            "times_seen": 2**64,
            "users_seen": 2**64 - 1,
            "frames": tuple(
                {"function": big[:5000], "module": "\x00", "filename": "<b>", "lineno": 2**64}
                for _ in range(50)
            ),
        },
        event={
            "message": big,
            "environment": HOSTILE_WORD * 100,
            "release": "\r\nX-Injected: 1",
            "tags": tuple((f"k{i}{HOSTILE_WORD}", big[:10_000]) for i in range(200)),
        },
        details={"count": 2**64, "window": HOSTILE_WORD},
    )


def delivery(
    backend: Backend, progress: dict[str, Any] | None = None, attempt: int = 1
) -> Delivery:
    """What the worker would hand the backend: a redacting client, progress, attempt."""
    return Delivery(
        http=Outbound(redact=backend.redactions()),
        link=None,
        progress=progress if progress is not None else {},
        attempt=attempt,
    )
