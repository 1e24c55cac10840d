"""One way for tests to build Sentry envelopes and events.

`envelope(event(...))` gives the bytes an SDK would POST to /api/<id>/envelope/.
Items are `(headers, payload)` pairs; a dict payload is JSON-encoded. `length` is
added unless `with_length=False` (JavaScript SDKs omit it).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

ItemSpec = tuple[dict[str, Any], bytes | dict[str, Any] | list[Any]]


def item(kind: str, payload: bytes | dict[str, Any] | list[Any], **headers: Any) -> ItemSpec:
    return ({"type": kind, **headers}, payload)


def envelope(
    *items: ItemSpec | dict[str, Any],
    event_id: str | None = None,
    with_length: bool = True,
    trailer: bytes = b"",
    **headers: Any,
) -> bytes:
    """Frame the items; a bare dict is an event item. The header's event_id is set
    from `event_id`, else from the first event item's, else a new one."""
    specs = [item("event", spec) if isinstance(spec, dict) else spec for spec in items]
    if event_id is None:
        event_id = next(
            (
                str(p["event_id"])
                for h, p in specs
                if h["type"] == "event" and isinstance(p, dict) and "event_id" in p
            ),
            uuid.uuid4().hex,
        )
    header: dict[str, Any] = {"event_id": event_id, **headers}
    lines = [orjson.dumps(header)]
    for item_headers, payload in specs:
        body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        item_header = dict(item_headers)
        if with_length:
            item_header.setdefault("length", len(body))
        lines += [orjson.dumps(item_header), body]
    return b"\n".join(lines) + b"\n" + trailer


def exception_event(
    type_: str = "ValueError",
    value: str = "bad thing",
    *,
    lineno: int = 3,
    event_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A small Python exception event with one in-app frame."""
    return {
        "event_id": event_id or uuid.uuid4().hex,
        "timestamp": time.time(),
        "platform": "python",
        "level": "error",
        "exception": {
            "values": [
                {
                    "type": type_,
                    "value": value,
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": "app.py",
                                "function": "run",
                                "module": "app",
                                "lineno": lineno,
                                "in_app": True,
                            }
                        ]
                    },
                }
            ]
        },
        **fields,
    }
