"""Normalization of exceptions, threads and stack traces (pure, in place; see normalize.py).

After it, every field a renderer or the grouping reads has the type and size
they expect: strings are strings within their cap, line numbers are bounded
ints, context lines are lists of strings, `in_app` is a bool.
"""

from __future__ import annotations

from typing import Any

from tracehound.digest.databag import (
    Meta,
    Path,
    as_values,
    bounded_int,
    coerce_str,
    set_length,
    text_or_json,
    trim_databag,
    trim_string,
)
from tracehound.digest.limits import MAX_CHARS, MAX_COUNT, MAX_LINENO
from tracehound.grouping.prepare import MAX_FRAMES, NEWEST_FRAMES, OLDEST_FRAMES

_FRAME_STRINGS = {
    "function": MAX_CHARS["frame.symbol"],
    "raw_function": MAX_CHARS["frame.symbol"],
    "symbol": MAX_CHARS["frame.symbol"],
    "filename": MAX_CHARS["frame.path"],
    "abs_path": MAX_CHARS["frame.path"],
    "module": MAX_CHARS["frame.path"],
    "package": MAX_CHARS["frame.path"],
    "platform": MAX_CHARS["frame.enum"],
    "instruction_addr": MAX_CHARS["frame.enum"],
    "symbol_addr": MAX_CHARS["frame.enum"],
    "image_addr": MAX_CHARS["frame.enum"],
    "trust": MAX_CHARS["frame.enum"],
    "context_line": MAX_CHARS["frame.context_line"],
}
_CONTEXT_CAP = MAX_CHARS["frame.context_line"]
_MAX_CONTEXT_LINES = MAX_COUNT["context_lines"]
_CONTEXT_LINES = frozenset({"pre_context", "post_context"})
_LINE_NUMBERS = frozenset({"lineno", "colno"})
_FRAME_BAGS = {"vars": 8192, "data": 4096}
_EXCEPTION_STRINGS = {
    "type": MAX_CHARS["exception.type"],
    "value": MAX_CHARS["exception.value"],
    "module": MAX_CHARS["exception.module"],
}


def normalize_exceptions(event: dict[str, Any], meta: Meta) -> None:
    if "exception" in event:
        values = as_values(event["exception"], ("type", "value", "stacktrace"))
        if values is None:
            del event["exception"]
        else:
            values = _keep_ends(values, MAX_COUNT["exceptions"], meta, ["exception", "values"])
            path: Path = ["exception", "values", 0]
            for index, exc in enumerate(values):
                path[2] = index
                _normalize_exception(exc, meta, path)
            event["exception"] = {"values": values}

    if "threads" in event:
        threads = as_values(event["threads"], ("id", "stacktrace"))
        if threads is None:
            del event["threads"]
        else:
            path = ["threads", "values", 0]
            for index, thread in enumerate(threads):
                path[2] = index
                if "id" in thread:
                    thread["id"] = _json_ints(thread["id"])
                _normalize_stacktrace_fields(thread, meta, path)
            event["threads"] = {"values": threads}

    _normalize_stacktrace_fields(event, meta, [])


def _keep_ends(items: list[Any], limit: int, meta: Meta, path: Path) -> list[Any]:
    # The first and the last items matter most: the entry point and the crash site.
    if len(items) <= limit:
        return items
    set_length(meta, path, len(items))
    half = limit // 2
    return items[:half] + items[-half:]


def _normalize_exception(exc: dict[str, Any], meta: Meta, path: Path) -> None:
    for key, cap in _EXCEPTION_STRINGS.items():
        if key in exc:
            text = text_or_json(exc[key])
            if text is None:
                del exc[key]
            else:
                exc[key] = trim_string(text, cap, meta, [*path, key])
    mechanism = exc.get("mechanism")
    if mechanism is not None:
        if isinstance(mechanism, dict):
            _normalize_mechanism(mechanism, meta, [*path, "mechanism"])
        else:
            del exc["mechanism"]
    if "thread_id" in exc:
        if isinstance(exc["thread_id"], (int, str)):
            exc["thread_id"] = _json_ints(exc["thread_id"])
        else:
            del exc["thread_id"]
    _normalize_stacktrace_fields(exc, meta, path)


_MIN_I64 = -(2**63)
_MAX_U64 = 2**64 - 1


def _json_ints(value: Any) -> Any:
    """The value with integers JSON (orjson) cannot hold as text, in place for a bag.

    orjson parses such numbers as floats, so only a caller passing Python ints meets
    them, but then storing the event would fail and lose it."""
    if type(value) is int:
        return value if _MIN_I64 <= value <= _MAX_U64 else str(value)
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (int, dict, list)) and not isinstance(item, bool):
                value[key] = _json_ints(item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, (int, dict, list)) and not isinstance(item, bool):
                value[index] = _json_ints(item)
    return value


def _normalize_mechanism(mechanism: dict[str, Any], meta: Meta, path: Path) -> None:
    kind = coerce_str(mechanism.get("type")) or "generic"
    mechanism["type"] = trim_string(kind, MAX_CHARS["mechanism.type"], meta, [*path, "type"])
    if "handled" in mechanism and not isinstance(mechanism["handled"], bool):
        del mechanism["handled"]
    trim_databag(mechanism, meta, path, max_bytes=4096)
    for key in ("exception_id", "parent_id"):
        value = mechanism.get(key)
        if type(value) is int and not 0 <= value <= _MAX_U64:
            del mechanism[key]  # not an id: the exceptions group as a plain chain
    _json_ints(mechanism)


def _normalize_stacktrace_fields(owner: dict[str, Any], meta: Meta, path: Path) -> None:
    for key in ("stacktrace", "raw_stacktrace"):
        if key not in owner:
            continue
        stacktrace = owner[key]
        if not isinstance(stacktrace, dict):
            del owner[key]
            continue
        path.append(key)
        _normalize_stacktrace(stacktrace, meta, path)
        path.pop()


def _normalize_stacktrace(stacktrace: dict[str, Any], meta: Meta, path: Path) -> None:
    raw = stacktrace.get("frames")
    frames = [f for f in raw if isinstance(f, dict)] if isinstance(raw, list) else []
    count = len(frames)
    if count > MAX_FRAMES:
        # The split grouping assumes (as Relay trims), so a trimmed stack groups as the raw one.
        set_length(meta, [*path, "frames"], count)
        frames = frames[:OLDEST_FRAMES] + frames[-NEWEST_FRAMES:]
        stacktrace["frames_omitted"] = [OLDEST_FRAMES, count - NEWEST_FRAMES]
    frame_path: Path = [*path, "frames", 0]
    for index, frame in enumerate(frames):
        frame_path[-1] = index
        _normalize_frame(frame, meta, frame_path)
    stacktrace["frames"] = frames
    registers = stacktrace.get("registers")
    if registers is not None:
        if isinstance(registers, dict):
            trim_databag(registers, meta, [*path, "registers"], max_depth=1, max_bytes=4096)
        else:
            del stacktrace["registers"]


def _normalize_frame(frame: dict[str, Any], meta: Meta, path: Path) -> None:
    # One pass over the frame's own keys, with a fast path for well-formed values:
    # this runs for every frame of every event. Replacing a value while iterating
    # is safe; removals wait for the end of the loop.
    removed: list[str] | None = None  # made on demand: most frames lose nothing
    for key, value in frame.items():
        cap = _FRAME_STRINGS.get(key)
        if cap is not None:
            if type(value) is not str or len(value) > cap:
                text = coerce_str(value)
                if text is None:
                    removed = [*(removed or ()), key]
                else:
                    frame[key] = trim_string(text, cap, meta, [*path, key])
        elif key in _LINE_NUMBERS:
            if type(value) is not int or not 0 <= value <= MAX_LINENO:
                number = bounded_int(value, 0, MAX_LINENO)
                if number is None:
                    removed = [*(removed or ()), key]
                else:
                    frame[key] = number
        elif key == "in_app":
            if type(value) is not bool:
                removed = [*(removed or ()), key]
        elif key in _CONTEXT_LINES:
            if type(value) is not list:
                removed = [*(removed or ()), key]
            elif len(value) > _MAX_CONTEXT_LINES:
                frame[key] = _context_lines(key, value, meta, [*path, key])
            else:
                for line in value:
                    if type(line) is not str or len(line) > _CONTEXT_CAP:
                        frame[key] = _context_lines(key, value, meta, [*path, key])
                        break
        elif key in _FRAME_BAGS:
            path.append(key)
            frame[key] = trim_databag(value, meta, path, max_bytes=_FRAME_BAGS[key])
            path.pop()
    if removed is not None:
        for key in removed:
            del frame[key]


def _context_lines(key: str, lines: list[Any], meta: Meta, path: Path) -> list[str]:
    if len(lines) > _MAX_CONTEXT_LINES:
        set_length(meta, path, len(lines))
        # The lines nearest to the current one matter.
        limit = _MAX_CONTEXT_LINES
        lines = lines[-limit:] if key == "pre_context" else lines[:limit]
    # A missing line stays as "" so the line numbers of the others stay right.
    return [
        trim_string(coerce_str(line) or "", _CONTEXT_CAP, meta, [*path, index])
        for index, line in enumerate(lines)
    ]
