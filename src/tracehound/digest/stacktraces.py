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
}
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
    if "thread_id" in exc and not isinstance(exc["thread_id"], (int, str)):
        del exc["thread_id"]
    _normalize_stacktrace_fields(exc, meta, path)


def _normalize_mechanism(mechanism: dict[str, Any], meta: Meta, path: Path) -> None:
    kind = coerce_str(mechanism.get("type")) or "generic"
    mechanism["type"] = trim_string(kind, MAX_CHARS["mechanism.type"], meta, [*path, "type"])
    if "handled" in mechanism and not isinstance(mechanism["handled"], bool):
        del mechanism["handled"]
    trim_databag(mechanism, meta, path, max_bytes=4096)


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
    limit = MAX_COUNT["frames"]
    if count > limit:
        frames = _keep_ends(frames, limit, meta, [*path, "frames"])
        stacktrace["frames_omitted"] = [limit // 2, count - limit // 2]
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
    for key, cap in _FRAME_STRINGS.items():
        if key in frame:
            text = coerce_str(frame[key])
            if text is None:
                del frame[key]
            else:
                frame[key] = trim_string(text, cap, meta, [*path, key])
    for key in ("lineno", "colno"):
        if key in frame:
            number = bounded_int(frame[key], 0, MAX_LINENO)
            if number is None:
                del frame[key]
            else:
                frame[key] = number
    if "in_app" in frame and not isinstance(frame["in_app"], bool):
        del frame["in_app"]
    _normalize_context(frame, meta, path)
    for key, max_bytes in (("vars", 8192), ("data", 4096)):
        if key in frame:
            path.append(key)
            frame[key] = trim_databag(frame[key], meta, path, max_bytes=max_bytes)
            path.pop()


def _normalize_context(frame: dict[str, Any], meta: Meta, path: Path) -> None:
    cap = MAX_CHARS["frame.context_line"]
    if "context_line" in frame:
        line = coerce_str(frame["context_line"])
        if line is None:
            del frame["context_line"]
        else:
            frame["context_line"] = trim_string(line, cap, meta, [*path, "context_line"])
    limit = MAX_COUNT["context_lines"]
    for key in ("pre_context", "post_context"):
        if key not in frame:
            continue
        raw = frame[key]
        if not isinstance(raw, list):
            del frame[key]
            continue
        if len(raw) > limit:
            set_length(meta, [*path, key], len(raw))
            # The lines nearest to the current one matter.
            raw = raw[-limit:] if key == "pre_context" else raw[:limit]
        # A missing line stays as "" so the line numbers of the others stay right.
        frame[key] = [
            trim_string(coerce_str(line) or "", cap, meta, [*path, key, index])
            for index, line in enumerate(raw)
        ]
