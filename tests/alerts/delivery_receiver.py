"""A scriptable HTTP receiver on 127.0.0.1 for the outbound and delivery tests.

Each request takes the next scripted behaviour (the last one repeats): answer with a
status, headers and body; hold the connection; reset it after reading the request; or
drip a body slowly. Every request received is recorded (method, path, headers, body).
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: bytes = b'{"id":"abc123","event":"message"}'
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    hang: float = 0.0  # seconds to wait before answering
    reset: bool = False  # read the request, then reset the connection (no answer)
    drip: float = 0.0  # seconds between body bytes


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies) or [Reply()]
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.release = threading.Event()  # ends every hang early (teardown)
        self.active = 0  # requests being answered now
        self.max_active = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def handle_one(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with receiver.lock:
                    receiver.received.append(
                        Received(
                            self.command,
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                        )
                    )
                    reply = (
                        receiver.replies.pop(0)
                        if len(receiver.replies) > 1
                        else receiver.replies[0]
                    )
                    receiver.active += 1
                    receiver.max_active = max(receiver.max_active, receiver.active)
                try:
                    self.answer(reply)
                finally:
                    with receiver.lock:
                        receiver.active -= 1

            def answer(self, reply: Reply) -> None:
                if reply.reset:
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.connection.close()
                    self.close_connection = True
                    return
                if reply.hang:
                    receiver.release.wait(reply.hang)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.send_header("Connection", "close")
                self.end_headers()
                if reply.drip:
                    for i in range(len(reply.body)):
                        if receiver.release.wait(reply.drip):
                            return
                        self.wfile.write(reply.body[i : i + 1])
                        self.wfile.flush()
                else:
                    self.wfile.write(reply.body)
                self.close_connection = True

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_one

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.received)


def closed_port() -> int:
    """A port nothing listens on (connections are refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port
