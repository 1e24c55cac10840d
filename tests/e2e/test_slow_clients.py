"""Slow clients cannot take the server offline: bodies and headers have a deadline, and
/health/, the UI and ingest keep answering while slow requests wait for theirs."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import urllib3

from tests.e2e.server import Server, Template, event_envelope

THREADS = 2
SLOW_CONNECTIONS = 6  # more than the request threads
TRICKLE_SECONDS = 40  # far longer than the deadline


class SlowSender(threading.Thread):
    """Declares a 100,000-byte body and sends one byte now and then."""

    def __init__(self, server: Server, *, headers_only: bool = False) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", server.port))
        head = (
            f"POST /api/{server.project_id}/envelope/ HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nX-Sentry-Auth: Sentry sentry_key={server.public_key}\r\n"
        )
        if not headers_only:
            head += "Content-Length: 100000\r\n\r\n"
        self.sock.sendall(head.encode())
        self.answer = b""
        self.ended_by_server = False
        self.stop = threading.Event()

    def run(self) -> None:
        self.sock.settimeout(0.5)
        deadline = time.monotonic() + TRICKLE_SECONDS
        while time.monotonic() < deadline and not self.stop.is_set():
            try:
                data = self.sock.recv(4096)
                self.answer += data
                if not data or b"\r\n\r\n" in self.answer:
                    self.ended_by_server = True  # answered, or closed
                    return
            except TimeoutError:
                pass
            try:
                self.sock.send(b"x")
            except OSError:
                self.ended_by_server = True
                return

    def status(self) -> int | None:
        line = self.answer.split(b"\r\n", 1)[0].split()
        return int(line[1]) if len(line) > 1 else None


@pytest.fixture
def slow_server(tmp_path_factory: pytest.TempPathFactory, template: Template) -> Iterator[Server]:
    from tests.e2e.server import drop_postgres, make_server

    server, pg_url = make_server(tmp_path_factory.mktemp("slow"))
    server.env.update(TRACEHOUND_BODY_TIMEOUT="3", TRACEHOUND_WEB_THREADS=str(THREADS))
    template.copy_to(server)
    server.spawn("serve", "--port", str(server.port))
    try:
        server.wait_healthy()
        yield server
    finally:
        server.stop()
        if pg_url:
            drop_postgres(pg_url)


def test_slow_bodies_get_408_while_health_the_ui_and_ingest_keep_answering(slow_server):
    server = slow_server
    senders = [SlowSender(server) for _ in range(SLOW_CONNECTIONS)]
    senders += [SlowSender(server, headers_only=True) for _ in range(2)]
    for sender in senders:
        sender.start()
    try:
        http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2, read=10))
        time.sleep(0.5)  # the slow requests are in, holding whatever they can hold
        assert http.request("GET", f"{server.url}/health/").status == 200
        assert http.request("GET", f"{server.url}/login/").status == 200
        event_id = uuid.uuid4().hex
        response = http.request(
            "POST",
            f"{server.url}/api/{server.project_id}/envelope/",
            body=event_envelope(event_id, 1),
            headers={"X-Sentry-Auth": f"Sentry sentry_key={server.public_key}"},
        )
        assert response.status == 200, response.data
        assert response.json() == {"id": event_id}
        for sender in senders:
            sender.join()
    finally:
        for sender in senders:
            sender.stop.set()
            sender.sock.close()
    # Every slow request ended long before the client gave up: bodies with 408, the
    # connection that never finished its headers closed by the server.
    assert all(sender.ended_by_server for sender in senders)
    body_statuses = [sender.status() for sender in senders[:SLOW_CONNECTIONS]]
    assert body_statuses == [408] * SLOW_CONNECTIONS, body_statuses
    for sender in senders[SLOW_CONNECTIONS:]:
        assert sender.ended_by_server
        assert sender.status() in (None, 408), sender.answer
