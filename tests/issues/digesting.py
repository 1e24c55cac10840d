"""Send events through ingest and digest, as an SDK and the worker would."""

from __future__ import annotations

import time
import uuid
from typing import Any

from tests.envelopes import envelope, exception_event


def error(
    type_: str = "ValueError",
    *,
    release: str | None = None,
    environment: str | None = None,
    user: str | None = None,
    timestamp: float | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A Python exception event; one issue per `type_`."""
    event = exception_event(type_, "boom", **fields)
    event["timestamp"] = time.time() if timestamp is None else timestamp
    if release is not None:
        event["release"] = release
    if environment is not None:
        event["environment"] = environment
    if user is not None:
        event["user"] = {"id": user}
    return event


def send(wsgi: Any, project: Any, event: dict[str, Any]) -> str:
    """POST the event to the envelope endpoint; returns its event id."""
    event_id = str(event.setdefault("event_id", uuid.uuid4().hex))
    response = wsgi(
        "POST",
        f"/api/{project.id}/envelope/",
        envelope(event, event_id=event_id),
        headers=project.auth,
    )
    assert response.status == 200, response.body
    return event_id
