"""Helpers of the alert surface tests: a backend declaring one setting of every kind
(installed as a plugin kind, as a package's entry point would be), and a receiver on
127.0.0.1 that records what it is sent."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tracehound.alerts.base import Backend, Delivery, DeliveryError, Notification, Sent, Setting

SECRET = "tok-S3CR3T-never-shown-7f1c"


class EchoBackend(Backend):
    """Posts the notification's kind and reason with a bearer token (tests only)."""

    kind = "echo"
    label = "Echo (tests)"
    settings = (
        Setting("url", "URL", kind="url"),
        Setting("token", "Token", secret=True),
        Setting(
            "mode",
            "Mode",
            kind="choice",
            choices=(("a", "A"), ("b", "B")),
            required=False,
            default="a",
        ),
        Setting("loud", "Loud", kind="bool", required=False, default=False),
        Setting("headers", "Extra headers", kind="headers", required=False, default={}),
        Setting("recipients", "Recipients", kind="email_list", required=False, default=""),
        Setting("note", "Note", kind="text", required=False, default=""),
    )

    def send(self, notification: Notification, delivery: Delivery) -> Sent:
        response = delivery.http.request(
            "POST",
            self.config["url"],
            json={"kind": notification.kind, "reason": notification.reason},
            headers={"Authorization": f"Bearer {self.config['token']}"},
            timeout=(5.0, 5.0),
        )
        if response.status >= 300:
            raise DeliveryError(f"answered {response.status}", status=response.status)
        return Sent(status=response.status, excerpt=response.text[:200])


@dataclass
class Receiver:
    url: str
    status: int = 200
    requests: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def receiver(status: int = 200, body: bytes = b'{"ok": true}') -> Iterator[Receiver]:
    """An HTTP server on 127.0.0.1 answering every POST with `status` and `body`."""
    box: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            box["r"].requests.append(
                {"path": self.path, "headers": dict(self.headers), "body": self.rfile.read(length)}
            )
            self.send_response(box["r"].status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box["r"] = Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook", status)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box["r"]
    finally:
        server.shutdown()
        server.server_close()
