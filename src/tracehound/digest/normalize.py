"""Relay-style normalization of an error event payload (pure, in place).

Runs once per event in the digest worker, before scrubbing and grouping. It
makes the shapes downstream code relies on unconditional:

- `event_id` is 32 lowercase hex; `timestamp`, `start_timestamp`, breadcrumb
  and span timestamps are float unix seconds; `received` is the receive time.
- `level` is one of fatal/error/warning/info/debug; `platform` is set.
- `logentry` replaces a legacy `message`; `tags` is a list of [key, value].
- `exception`, `threads` and `breadcrumbs` are `{"values": [...]}`.
- `contexts` values are dicts with a `type`.
- Oversized data is trimmed and every change is annotated in `_meta`.

Unknown top-level keys are kept as they are, like Sentry does.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from tracehound.digest.databag import (
    Meta,
    Path,
    add_error,
    as_values,
    coerce_int,
    coerce_str,
    format_message,
    normalize_pairs,
    parse_timestamp,
    rfc3339,
    set_length,
    text_or_json,
    trim_databag,
    trim_string,
)

MAX_SECS_IN_PAST = 30 * 24 * 3600
MAX_SECS_IN_FUTURE = 60
MIN_CLOCK_DRIFT = 55 * 60
MAX_BREADCRUMBS = 100
MAX_FRAMES = 250
MAX_MESSAGE = 8192
MESSAGE_ALLOWANCE = 200  # Relay only trims messages that overshoot by more than this
MAX_TAG_CHARS = 200

LEVELS = frozenset({"fatal", "error", "warning", "info", "debug"})
LEVEL_ALIASES = {"warn": "warning", "critical": "fatal", "log": "info", "err": "error"}
# Python logging numbers, which old SDKs send as the level.
NUMERIC_LEVELS = {10: "debug", 20: "info", 30: "warning", 40: "error", 50: "fatal"}

STRING_CAPS = {
    "logger": 64,
    "culprit": 200,
    "transaction": 200,
    "server_name": 256,
    "release": 200,
    "dist": 64,
    "environment": 64,
    "platform": 64,
}
# Whitespace around these would silently split releases/environments.
STRIPPED_FIELDS = frozenset({"release", "dist", "environment"})

# fmt: off
VALID_PLATFORMS = frozenset({
    "as", "c", "cfml", "cocoa", "csharp", "dart", "elixir", "go", "groovy", "haskell", "java",
    "javascript", "native", "node", "objc", "other", "perl", "php", "python", "ruby", "rust",
    "swift",
})
# fmt: on
# SDKs for these platforms predate `sdk.settings.infer_ip` and always wanted the IP.
LEGACY_IP_PLATFORMS = frozenset({"javascript", "cocoa", "objc"})

_HEX32 = re.compile(r"[0-9a-f]{32}")


def normalize_event(
    event: dict[str, Any],
    *,
    event_id: str | None,
    received_at: float,
    sent_at: str | None,
    client_ip: str | None,
) -> dict[str, Any]:
    """Normalize `event` in place and return it. See the module docstring."""
    client_meta = event.get("_meta")
    meta: Meta = client_meta if isinstance(client_meta, dict) else {}

    event["event_id"] = _event_id(event_id) or _event_id(event.get("event_id")) or uuid.uuid4().hex
    _normalize_breadcrumbs(event, meta)
    _normalize_timestamps(event, meta, received_at, sent_at)
    _normalize_level(event, meta)
    _normalize_strings(event, meta)
    _normalize_logentry(event, meta)
    _normalize_tags(event, meta)
    _normalize_fingerprint(event)
    _normalize_exceptions(event, meta)
    _normalize_contexts(event, meta)
    _normalize_extra(event, meta)
    _normalize_request(event, meta, client_ip)
    _normalize_user(event, meta, client_ip)

    if meta:
        event["_meta"] = meta
    else:
        event.pop("_meta", None)
    return event


# --- ids and times ----------------------------------------------------------


def _event_id(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    lowered = value.lower()
    if len(lowered) == 32 and _HEX32.fullmatch(lowered):
        return lowered
    try:
        return uuid.UUID(value).hex  # dashed, braced and urn forms
    except ValueError:
        return None


def _normalize_timestamps(
    event: dict[str, Any], meta: Meta, received_at: float, sent_at: str | None
) -> None:
    timestamp = parse_timestamp(event.get("timestamp"))
    start = parse_timestamp(event.get("start_timestamp"))
    crumbs: list[dict[str, Any]] = event.get("breadcrumbs", {}).get("values", [])
    spans: list[Any] = event["spans"] if isinstance(event.get("spans"), list) else []

    for span in spans:
        if isinstance(span, dict):
            for key in ("timestamp", "start_timestamp"):
                if key in span:
                    parsed = parse_timestamp(span[key])
                    if parsed is None:
                        del span[key]
                    else:
                        span[key] = parsed

    # A device clock that is off by about an hour or more shifts every timestamp
    # the SDK took; `sent_at` was taken by the same clock just before sending.
    sent = parse_timestamp(sent_at)
    drift = received_at - sent if sent is not None else 0.0
    if abs(drift) >= MIN_CLOCK_DRIFT:
        if timestamp is not None:
            timestamp += drift
        if start is not None:
            start += drift
        for crumb in crumbs:
            if crumb.get("timestamp") is not None:
                crumb["timestamp"] += drift
        for span in spans:
            if isinstance(span, dict):
                for key in ("timestamp", "start_timestamp"):
                    if span.get(key) is not None:
                        span[key] += drift

    if timestamp is None:
        timestamp = received_at
    elif timestamp < received_at - MAX_SECS_IN_PAST or timestamp > received_at + MAX_SECS_IN_FUTURE:
        kind = "past_timestamp" if timestamp < received_at else "future_timestamp"
        times = {"sdk_time": rfc3339(timestamp), "server_time": rfc3339(received_at)}
        add_error(meta, ["timestamp"], [kind, times])
        timestamp = received_at

    event["timestamp"] = timestamp
    if start is not None:
        event["start_timestamp"] = start
    else:
        event.pop("start_timestamp", None)
    event["received"] = received_at


def _normalize_breadcrumbs(event: dict[str, Any], meta: Meta) -> None:
    raw = event.get("breadcrumbs")
    if raw is None:
        return
    values = raw.get("values") if isinstance(raw, dict) else raw
    if not isinstance(values, list):
        del event["breadcrumbs"]
        return
    crumbs = [crumb for crumb in values if isinstance(crumb, dict)]
    if len(crumbs) > MAX_BREADCRUMBS:
        set_length(meta, ["breadcrumbs", "values"], len(crumbs))
        crumbs = crumbs[-MAX_BREADCRUMBS:]  # SDKs append, so the tail is the most recent
    path: Path = ["breadcrumbs", "values", 0, "data"]
    for index, crumb in enumerate(crumbs):
        if "timestamp" in crumb:
            timestamp = parse_timestamp(crumb["timestamp"])
            if timestamp is None:
                del crumb["timestamp"]
            else:
                crumb["timestamp"] = timestamp
        if "data" in crumb:
            path[2] = index
            crumb["data"] = trim_databag(crumb["data"], meta, path, max_bytes=4096)
    event["breadcrumbs"] = {"values": crumbs}


# --- scalar fields ------------------------------------------------------------


def _normalize_level(event: dict[str, Any], meta: Meta) -> None:
    raw = event.get("level")
    default = "info" if event.get("type") == "transaction" else "error"
    if raw is None:
        event["level"] = default
        return
    if isinstance(raw, str):
        lowered = raw.strip().lower()
        level = lowered if lowered in LEVELS else LEVEL_ALIASES.get(lowered)
    elif isinstance(raw, int) and not isinstance(raw, bool):
        level = NUMERIC_LEVELS.get(raw)
    else:
        level = None
    if level is None:
        add_error(meta, ["level"], "invalid_data", raw)
        level = default
    event["level"] = level


def _normalize_strings(event: dict[str, Any], meta: Meta) -> None:
    for key, cap in STRING_CAPS.items():
        if key not in event:
            continue
        raw = event[key]
        value = coerce_str(raw)
        if value is not None and key in STRIPPED_FIELDS:
            value = value.strip()
        if not value:
            if raw is not None and raw != "":
                add_error(meta, [key], "invalid_data")
            del event[key]
            continue
        event[key] = trim_string(value, cap, meta, [key])
    if event.get("platform") not in VALID_PLATFORMS:
        event["platform"] = "other"


def _normalize_fingerprint(event: dict[str, Any]) -> None:
    raw = event.get("fingerprint")
    if raw is None:
        return
    parts = [coerce_str(part) for part in raw] if isinstance(raw, list) else []
    fingerprint = [part for part in parts if part]
    if fingerprint:
        event["fingerprint"] = fingerprint
    else:
        del event["fingerprint"]


# --- message -----------------------------------------------------------------


def _normalize_logentry(event: dict[str, Any], meta: Meta) -> None:
    legacy = event.pop("message", None)
    entry = event.get("logentry")
    if not isinstance(entry, dict):
        if isinstance(legacy, dict):
            entry = legacy
        elif (text := coerce_str(legacy)) is not None:
            entry = {"formatted": text}
        else:
            event.pop("logentry", None)
            return
    for key in ("message", "formatted"):
        if key in entry:
            text = coerce_str(entry[key])
            if text is None:
                del entry[key]
            else:
                entry[key] = trim_string(
                    text, MAX_MESSAGE, meta, ["logentry", key], MESSAGE_ALLOWANCE
                )
    params = entry.get("params")
    if params is not None and not isinstance(params, (list, dict)):
        del entry["params"]
        params = None
    if "formatted" not in entry and "message" in entry:
        formatted = format_message(entry["message"], params) if params else entry["message"]
        entry["formatted"] = trim_string(
            formatted, MAX_MESSAGE, meta, ["logentry", "formatted"], MESSAGE_ALLOWANCE
        )
    if "formatted" not in entry:
        event.pop("logentry", None)
        return
    event["logentry"] = entry


# --- tags ----------------------------------------------------------------------


def _normalize_tags(event: dict[str, Any], meta: Meta) -> None:
    raw = event.get("tags")
    if raw is None:
        return
    if isinstance(raw, dict):
        pairs: Any = raw.items()
    elif isinstance(raw, list):
        pairs = (p for p in raw if isinstance(p, (list, tuple)) and len(p) == 2)
    else:
        del event["tags"]
        return
    seen: set[str] = set()
    tags: list[list[str]] = []
    for raw_key, raw_value in pairs:
        key, value = coerce_str(raw_key), coerce_str(raw_value)
        # Sentry cannot store or search empty tag keys or values; the first value wins.
        if not key or not value or key in seen:
            continue
        seen.add(key)
        index = len(tags)
        tags.append(
            [
                trim_string(key, MAX_TAG_CHARS, meta, ["tags", index, 0]),
                trim_string(value, MAX_TAG_CHARS, meta, ["tags", index, 1]),
            ]
        )
    event["tags"] = tags


# --- exceptions, threads, stack traces ---------------------------------------------


def _normalize_exceptions(event: dict[str, Any], meta: Meta) -> None:
    if "exception" in event:
        values = as_values(event["exception"], ("type", "value", "stacktrace"))
        if values is None:
            del event["exception"]
        else:
            path: Path = ["exception", "values", 0]
            for index, exc in enumerate(values):
                path[2] = index
                for key in ("type", "value", "module"):
                    if key in exc:
                        text = text_or_json(exc[key])
                        if text is None:
                            del exc[key]
                        else:
                            exc[key] = text
                _normalize_stacktrace_fields(exc, meta, path)
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
        # Keep both ends: the entry point and the crash site matter most.
        half = MAX_FRAMES // 2
        frames = frames[:half] + frames[-half:]
        stacktrace["frames_omitted"] = [half, count - half]
        set_length(meta, [*path, "frames"], count)
    frame_path: Path = [*path, "frames", 0, "vars"]
    for index, frame in enumerate(frames):
        for key in ("lineno", "colno"):
            if key in frame:
                number = coerce_int(frame[key])
                if number is None:
                    del frame[key]
                else:
                    frame[key] = number
        if "vars" in frame:
            frame_path[-2] = index
            frame["vars"] = trim_databag(frame["vars"], meta, frame_path, max_bytes=8192)
    stacktrace["frames"] = frames


# --- databags and interfaces -------------------------------------------------------


def _normalize_contexts(event: dict[str, Any], meta: Meta) -> None:
    contexts = event.get("contexts")
    if contexts is None:
        return
    if not isinstance(contexts, dict):
        del event["contexts"]
        return
    path: Path = ["contexts", ""]
    for key in list(contexts):
        context = contexts[key]
        if not isinstance(context, dict):
            del contexts[key]
            continue
        if not isinstance(context.get("type"), str):
            context["type"] = key  # Sentry infers the context type from its key
        path[1] = key
        trim_databag(context, meta, path)


def _normalize_extra(event: dict[str, Any], meta: Meta) -> None:
    extra = event.get("extra")
    if extra is None:
        return
    if not isinstance(extra, dict):
        del event["extra"]
        return
    path: Path = ["extra", ""]
    for key, value in extra.items():
        if isinstance(value, (str, dict, list)):
            path[1] = key
            extra[key] = trim_databag(value, meta, path)


def _normalize_request(event: dict[str, Any], meta: Meta, client_ip: str | None) -> None:
    request = event.get("request")
    if request is None:
        return
    if not isinstance(request, dict):
        del event["request"]
        return
    for key in ("headers", "cookies", "query_string"):
        if key not in request:
            continue
        raw = request[key]
        # Cookie and query strings may come unparsed; the scrubber parses them.
        value = raw if isinstance(raw, str) and key != "headers" else normalize_pairs(raw)
        if value is None:
            del request[key]
        else:
            request[key] = value
    env = request.get("env")
    if env is not None and not isinstance(env, dict):
        del request["env"]
    elif env and env.get("REMOTE_ADDR") == "{{auto}}":
        if client_ip:
            env["REMOTE_ADDR"] = client_ip
        else:
            del env["REMOTE_ADDR"]
    if "data" in request:
        request["data"] = trim_databag(
            request["data"], meta, ["request", "data"], max_string=8192, max_bytes=16 * 1024
        )


def _normalize_user(event: dict[str, Any], meta: Meta, client_ip: str | None) -> None:
    user = event.get("user")
    if user is not None and not isinstance(user, dict):
        del event["user"]
        user = None
    sdk = event.get("sdk")
    settings = sdk.get("settings") if isinstance(sdk, dict) else None
    infer_ip = settings.get("infer_ip") if isinstance(settings, dict) else None

    ip = user.get("ip_address") if user else None
    if ip == "{{auto}}":
        ip = client_ip
    elif ip is None and infer_ip != "never":
        request = event.get("request")
        env = request.get("env") if isinstance(request, dict) else None
        remote = env.get("REMOTE_ADDR") if isinstance(env, dict) else None
        if isinstance(remote, str) and remote:
            ip = remote
        elif infer_ip == "auto" or (
            infer_ip is None and event.get("platform") in LEGACY_IP_PLATFORMS
        ):
            ip = client_ip

    if ip:
        if user is None:
            user = event["user"] = {}
        user["ip_address"] = ip
    elif user is not None:
        user.pop("ip_address", None)
    if user and isinstance(user.get("email"), str):
        user["email"] = trim_string(user["email"], 75, meta, ["user", "email"])
