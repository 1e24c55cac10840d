"""What grouping reads of an event, before any strategy runs.

- A stack trace longer than Relay's hard limit of 250 frames groups on the 50
  oldest and the 200 newest frames, as Relay would have trimmed it, so one deep
  recursion groups the same whether or not something trimmed it on the way.
- An exception without a stack trace (Java and Cocoa SDKs can put it on the
  thread instead) groups on the stack of its thread (`thread_id`), else of the
  crashed thread.

The event is not changed: a copy is made only when something differs.
"""

from __future__ import annotations

from typing import Any

from tracehound.grouping.exceptions import exception_values
from tracehound.grouping.strategies import thread_stacktrace, thread_values

MAX_FRAMES = 250
OLDEST_FRAMES = 50
NEWEST_FRAMES = MAX_FRAMES - OLDEST_FRAMES


def _frames(stacktrace: Any) -> list[Any] | None:
    frames = stacktrace.get("frames") if isinstance(stacktrace, dict) else None
    return frames if isinstance(frames, list) else None


def capped(stacktrace: Any) -> Any:
    frames = _frames(stacktrace)
    if frames is None or len(frames) <= MAX_FRAMES:
        return stacktrace
    return {**stacktrace, "frames": frames[:OLDEST_FRAMES] + frames[-NEWEST_FRAMES:]}


def _thread_stack(event: dict[str, Any], exception: dict[str, Any]) -> Any:
    thread_id = exception.get("thread_id")
    if thread_id is not None:
        for thread in thread_values(event):
            if thread.get("id") == thread_id and _frames(thread.get("stacktrace")):
                return thread["stacktrace"]
    return thread_stacktrace(event)


def prepared_for_grouping(event: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    exceptions = exception_values(event)
    prepared = []
    for exception in exceptions:
        stacktrace = exception.get("stacktrace")
        if not _frames(stacktrace):
            stacktrace = _thread_stack(event, exception)
        stacktrace = capped(stacktrace)
        if stacktrace is not exception.get("stacktrace") and stacktrace is not None:
            exception = {**exception, "stacktrace": stacktrace}
        prepared.append(exception)
    if any(new is not old for new, old in zip(prepared, exceptions, strict=True)):
        container = event.get("exception")
        changes["exception"] = {
            **(container if isinstance(container, dict) else {}),
            "values": prepared,
        }
    top = event.get("stacktrace")
    if capped(top) is not top:
        changes["stacktrace"] = capped(top)
    threads = thread_values(event)
    if any(capped(thread.get("stacktrace")) is not thread.get("stacktrace") for thread in threads):
        container = event["threads"]
        changes["threads"] = {
            **container,
            "values": [{**t, "stacktrace": capped(t.get("stacktrace"))} for t in threads],
        }
    return {**event, **changes} if changes else event
