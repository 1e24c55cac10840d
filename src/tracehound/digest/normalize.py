"""Relay-style normalization of an error event payload (pure, in place).

Runs once per event in the digest worker, before scrubbing and grouping. It
makes the shapes downstream code relies on unconditional:

- No string or key holds a NUL (PostgreSQL text and jsonb cannot store one).
- `event_id` is 32 lowercase hex; `timestamp`, `start_timestamp`, breadcrumb
  and span timestamps are float unix seconds within dates Python can show;
  `received` is the receive time.
- `level` is one of fatal/error/warning/info/debug; `platform` is set.
- `logentry` replaces a legacy `message`; `tags` is a list of [key, value].
- `exception`, `threads` and `breadcrumbs` are `{"values": [...]}` with typed
  fields (stacktraces.py); breadcrumbs always have a `type`.
- `contexts` values are dicts with a `type`; `user`, `request`, `sdk` are dicts.
- Every field is within the caps of limits.py; oversized data is trimmed and
  every change is annotated in `_meta`.

Unknown top-level keys are kept as they are, like Sentry does.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from tracehound.digest.databag import (
    Meta,
    Path,
    add_error,
    coerce_str,
    format_message,
    has_nul,
    parse_timestamp,
    rfc3339,
    set_length,
    strip_nul,
    trim_databag,
    trim_string,
)
from tracehound.digest.interfaces import normalize_request, normalize_user
from tracehound.digest.limits import MAX_CHARS, MAX_COUNT, MAX_TIMESTAMP, MIN_TIMESTAMP
from tracehound.digest.stacktraces import normalize_exceptions
from tracehound.lib.envelope import EnvelopeError, normalize_event_id

MAX_SECS_IN_PAST = 30 * 24 * 3600
MAX_SECS_IN_FUTURE = 60
MIN_CLOCK_DRIFT = 55 * 60
MESSAGE_ALLOWANCE = 200  # Relay only trims messages that overshoot by more than this

LEVELS = frozenset({"fatal", "error", "warning", "info", "debug"})
LEVEL_ALIASES = {"warn": "warning", "critical": "fatal", "log": "info", "err": "error"}
# Python logging numbers, which old SDKs send as the level.
NUMERIC_LEVELS = {10: "debug", 20: "info", 30: "warning", 40: "error", 50: "fatal"}

STRING_FIELDS = (
    "logger",
    "culprit",
    "transaction",
    "server_name",
    "release",
    "dist",
    "environment",
    "platform",
)
# Whitespace around these would silently split releases/environments.
STRIPPED_FIELDS = frozenset({"release", "dist", "environment"})
_CRUMB_STRINGS = {
    "type": MAX_CHARS["breadcrumb.type"],
    "category": MAX_CHARS["breadcrumb.category"],
    "message": MAX_CHARS["breadcrumb.message"],
}

# fmt: off
VALID_PLATFORMS = frozenset({
    "as", "c", "cfml", "cocoa", "csharp", "dart", "elixir", "go", "groovy", "haskell", "java",
    "javascript", "native", "node", "objc", "other", "perl", "php", "python", "ruby", "rust",
    "swift",
})
# fmt: on


def normalize_event(
    event: dict[str, Any],
    *,
    event_id: str | None,
    received_at: float,
    sent_at: str | None,
    client_ip: str | None,
    may_hold_nul: bool = True,
) -> dict[str, Any]:
    """Normalize `event` in place and return it. See the module docstring.

    `may_hold_nul=False` skips the NUL check: digest knows from the raw JSON that there
    is none (JSON can only spell NUL as an escape), which is cheaper than serializing
    the parsed event again.
    """
    if may_hold_nul and has_nul(event):
        strip_nul(event)
    meta = _client_meta(event.get("_meta"))

    event["event_id"] = (
        event_id_or_none(event_id) or event_id_or_none(event.get("event_id")) or uuid.uuid4().hex
    )
    _normalize_breadcrumbs(event, meta)
    _normalize_timestamps(event, meta, received_at, sent_at)
    _normalize_level(event, meta)
    _normalize_strings(event, meta)
    _normalize_logentry(event, meta)
    _normalize_tags(event, meta)
    _normalize_fingerprint(event)
    normalize_exceptions(event, meta)
    _normalize_contexts(event, meta)
    _normalize_extra(event, meta)
    _normalize_bags(event, meta)
    normalize_request(event, meta, client_ip)
    normalize_user(event, meta, client_ip)

    if meta:
        event["_meta"] = meta
    else:
        event.pop("_meta", None)
    return event


def _client_meta(raw: Any) -> Meta:
    # SDKs send `_meta` for what they trimmed themselves; it is shown as is, so it is bounded.
    if not isinstance(raw, dict):
        return {}
    trimmed: dict[str, Any] = trim_databag(raw, {}, [], max_depth=12, max_bytes=16 * 1024)
    return trimmed


# --- ids and times ----------------------------------------------------------


def event_id_or_none(value: Any) -> str | None:
    """The id as 32 lowercase hex, or None when it is malformed (never an error)."""
    try:
        return normalize_event_id(value)
    except EnvelopeError:
        return None


def _valid_timestamp(value: float | None) -> float | None:
    # Outside these, dates cannot be shown (and 1e300 or -1e15 must not reach a renderer).
    return value if value is not None and MIN_TIMESTAMP <= value <= MAX_TIMESTAMP else None


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

    for index, crumb in enumerate(crumbs):
        if "timestamp" in crumb:
            crumb_time = crumb["timestamp"]  # a float or None here: _valid_timestamp, inlined
            if crumb_time is None or not MIN_TIMESTAMP <= crumb_time <= MAX_TIMESTAMP:
                add_error(meta, ["breadcrumbs", "values", index, "timestamp"], "invalid_data")
                del crumb["timestamp"]
    for span in spans:
        if isinstance(span, dict):
            for key in ("timestamp", "start_timestamp"):
                if key in span and _valid_timestamp(span[key]) is None:
                    del span[key]

    if timestamp is None:
        timestamp = received_at
    elif timestamp < received_at - MAX_SECS_IN_PAST or timestamp > received_at + MAX_SECS_IN_FUTURE:
        kind = "past_timestamp" if timestamp < received_at else "future_timestamp"
        times = {"sdk_time": rfc3339(timestamp), "server_time": rfc3339(received_at)}
        add_error(meta, ["timestamp"], [kind, times])
        timestamp = received_at

    event["timestamp"] = timestamp
    start = _valid_timestamp(start)
    if start is not None:
        event["start_timestamp"] = start
    else:
        event.pop("start_timestamp", None)
    event["received"] = received_at


def _normalize_breadcrumbs(event: dict[str, Any], meta: Meta) -> None:
    raw = event.get("breadcrumbs")
    if raw is None:
        event.pop("breadcrumbs", None)  # `"breadcrumbs": null` is no breadcrumbs
        return
    values = raw.get("values") if isinstance(raw, dict) else raw
    if not isinstance(values, list):
        del event["breadcrumbs"]
        return
    crumbs = [crumb for crumb in values if isinstance(crumb, dict)]
    limit = MAX_COUNT["breadcrumbs"]
    if len(crumbs) > limit:
        set_length(meta, ["breadcrumbs", "values"], len(crumbs))
        crumbs = crumbs[-limit:]  # SDKs append, so the tail is the most recent
    path: Path = ["breadcrumbs", "values", 0]
    event["breadcrumbs"] = {"values": crumbs}
    for index, crumb in enumerate(crumbs):
        path[2] = index
        _normalize_breadcrumb(crumb, meta, path)


def _normalize_breadcrumb(crumb: dict[str, Any], meta: Meta, path: Path) -> None:
    # One pass with a fast path for well-formed values: up to 100 per event. Nothing
    # is allocated for a well-formed crumb (the removal list is made on demand).
    removed: list[str] | None = None
    for key, value in crumb.items():
        cap = _CRUMB_STRINGS.get(key)
        if cap is not None:
            if type(value) is str and len(value) <= cap:
                continue
            text = coerce_str(value)
            if text is not None:
                crumb[key] = trim_string(text, cap, meta, [*path, key])
                continue
        elif key == "timestamp":
            if type(value) is float and math.isfinite(value):
                continue  # what SDKs send; parse_timestamp would return it as is
            timestamp = parse_timestamp(value)
            if timestamp is not None:
                crumb[key] = timestamp
                continue
        elif key == "data":
            path.append(key)  # trim_databag restores it
            crumb[key] = trim_databag(value, meta, path, max_bytes=4096)
            path.pop()
            continue
        elif key == "level":
            level = value if type(value) is str and value in LEVELS else _level(value)
            if level is not None:
                crumb[key] = level
                continue
        elif key == "event_id":
            crumb_event_id = event_id_or_none(value)
            if crumb_event_id is not None:
                crumb[key] = crumb_event_id
                continue
        # Unusable, or not a protocol field (only those are kept: all of them are shown).
        if removed is None:
            removed = []
        removed.append(key)
    if removed is not None:
        for key in removed:
            del crumb[key]
    # JavaScript SDKs leave `type` out; Sentry's default is "default".
    if not crumb.get("type"):
        crumb["type"] = "default"


# --- scalar fields ------------------------------------------------------------


def _normalize_level(event: dict[str, Any], meta: Meta) -> None:
    raw = event.get("level")
    default = "info" if event.get("type") == "transaction" else "error"
    if raw is None:
        event["level"] = default
        return
    level = _level(raw)
    if level is None:
        add_error(meta, ["level"], "invalid_data", coerce_str(raw))
        level = default
    event["level"] = level


def _level(raw: Any) -> str | None:
    if isinstance(raw, str):
        lowered = raw.strip().lower()
        return lowered if lowered in LEVELS else LEVEL_ALIASES.get(lowered)
    if isinstance(raw, int) and not isinstance(raw, bool):
        return NUMERIC_LEVELS.get(raw)
    return None


def _normalize_strings(event: dict[str, Any], meta: Meta) -> None:
    for key in STRING_FIELDS:
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
        event[key] = trim_string(value, MAX_CHARS[key], meta, [key])
    if event.get("platform") not in VALID_PLATFORMS:
        event["platform"] = "other"


def _normalize_fingerprint(event: dict[str, Any]) -> None:
    raw = event.get("fingerprint")
    if raw is None:
        return
    parts = [coerce_str(part) for part in raw] if isinstance(raw, list) else []
    cap = MAX_CHARS["fingerprint"]
    fingerprint = [part[:cap] for part in parts if part][: MAX_COUNT["fingerprint"]]
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
                    text, MAX_CHARS["message"], meta, ["logentry", key], MESSAGE_ALLOWANCE
                )
    params = entry.get("params")
    if params is not None and not isinstance(params, (list, dict)):
        del entry["params"]
        params = None
    elif params is not None:
        params = entry["params"] = trim_databag(params, meta, ["logentry", "params"])
    if "formatted" not in entry and "message" in entry:
        formatted = format_message(entry["message"], params) if params else entry["message"]
        entry["formatted"] = trim_string(
            formatted, MAX_CHARS["message"], meta, ["logentry", "formatted"], MESSAGE_ALLOWANCE
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
    limit, key_cap, value_cap = MAX_COUNT["tags"], MAX_CHARS["tag.key"], MAX_CHARS["tag.value"]
    for raw_key, raw_value in pairs:
        key, value = coerce_str(raw_key), coerce_str(raw_value)
        # Sentry cannot store or search empty tag keys or values; the first value wins.
        if not key or not value or key in seen:
            continue
        if len(tags) == limit:
            set_length(meta, ["tags"], len(raw))
            break
        seen.add(key)
        index = len(tags)
        tags.append(
            [
                trim_string(key, key_cap, meta, ["tags", index, 0]),
                trim_string(value, value_cap, meta, ["tags", index, 1]),
            ]
        )
    event["tags"] = tags


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
        # Sentry infers the context type from its key.
        kind = context.get("type")
        context["type"] = (kind if isinstance(kind, str) else key)[: MAX_CHARS["context.type"]]
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


def _normalize_bags(event: dict[str, Any], meta: Meta) -> None:
    """Interfaces shown as they are (API, issue page): objects of bounded size."""
    for key in ("sdk", "csp"):
        if key in event:
            if isinstance(event[key], dict):
                trim_databag(event[key], meta, [key], max_bytes=8192)
            else:
                del event[key]
    if "modules" in event and not isinstance(event["modules"], dict):
        del event["modules"]
