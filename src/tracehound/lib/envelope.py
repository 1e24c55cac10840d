"""Sentry envelope parsing and serialization.

Grammar (develop.sentry.dev, "Envelopes")::

    Envelope = Headers { "\\n" Item } [ "\\n" ] ;
    Item     = Headers "\\n" Payload ;

Headers are single-line JSON objects. An item with a ``length`` header has
exactly that many payload bytes; without one (JS SDKs) the payload runs to
the next newline. This runs on the ingest hot path, so it works on one
``bytes`` object with ``find`` and copies nothing but the payloads.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = [
    "Envelope",
    "EnvelopeError",
    "Item",
    "normalize_event_id",
    "parse_envelope",
    "serialize_envelope",
    "validate_json_item",
]


class EnvelopeError(ValueError):
    """The envelope is malformed; the message says exactly where and how."""


@dataclass(slots=True)
class Item:
    headers: dict[str, Any]
    payload: bytes

    @property
    def type(self) -> str:
        item_type: str = self.headers["type"]
        return item_type


@dataclass(slots=True)
class Envelope:
    headers: dict[str, Any]
    items: list[Item]

    @property
    def event_id(self) -> str | None:
        """The envelope header's event_id as 32 lowercase hex, if any."""
        return normalize_event_id(self.headers.get("event_id"))


_HEX32 = re.compile(r"[0-9a-fA-F]{32}")
_DASHED_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def normalize_event_id(value: object) -> str | None:
    """Return ``value`` as 32 lowercase hex; accepts plain hex or a dashed UUID."""
    if value is None:
        return None
    if isinstance(value, str):
        if _HEX32.fullmatch(value):
            return value.lower()
        if _DASHED_UUID.fullmatch(value):
            return value.replace("-", "").lower()
    raise EnvelopeError(f"invalid event_id {value!r}: expected 32 hex digits or a UUID")


# SDKs send header lines of a few hundred bytes (a `trace` context included); a longer
# one is refused before any parsing, which for the duplicate-key check is slow Python.
MAX_HEADER_LINE = 64 * 1024


def _load_header(line: bytes, what: str) -> dict[str, Any]:
    if len(line) > MAX_HEADER_LINE:
        raise EnvelopeError(f"{what} exceeds {MAX_HEADER_LINE} bytes")
    try:
        headers = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise EnvelopeError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(headers, dict):
        raise EnvelopeError(f"{what} is not a JSON object")
    return headers


def _has_duplicate_key(line: bytes, key: str) -> bool:
    # orjson silently keeps the last duplicate; the byte count is a cheap
    # pre-check and the slow, exact parse only runs when it fires.
    if line.count(b'"%s"' % key.encode()) < 2:
        return False
    seen = 0

    def count(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal seen
        seen = max(seen, sum(1 for k, _ in pairs if k == key))
        return dict(pairs)

    try:
        json.loads(line, object_pairs_hook=count)
    except RecursionError:  # orjson allows deeper nesting than the json module
        raise EnvelopeError("envelope header is nested too deeply") from None
    return seen > 1


def _validate_envelope_headers(headers: dict[str, Any], line: bytes) -> None:
    normalize_event_id(headers.get("event_id"))
    if "dsn" in headers and not isinstance(headers["dsn"], str):
        raise EnvelopeError("envelope header dsn is not a string")
    # Relay rejects a duplicate sent_at (it drives clock-drift correction).
    if _has_duplicate_key(line, "sent_at"):
        raise EnvelopeError("envelope header has a duplicate sent_at")


def parse_envelope(data: bytes) -> Envelope:
    """Parse a (decompressed) envelope body, raising EnvelopeError if malformed."""
    n = len(data)
    eol = data.find(b"\n")
    if eol == -1:
        eol = n
    line = data[:eol]
    if line.endswith(b"\r"):
        line = line[:-1]
    if not line.strip():
        raise EnvelopeError("envelope header is missing")
    headers = _load_header(line, "envelope header")
    _validate_envelope_headers(headers, line)

    items: list[Item] = []
    has_event = has_transaction = False
    pos = eol + 1
    while pos < n:
        eol = data.find(b"\n", pos)
        if eol == -1:
            eol = n
        line = data[pos:eol]
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line.strip():
            # Blank lines where a header would start carry no item (trailing "\n\n").
            pos = eol + 1
            continue

        index = len(items) + 1
        item_headers = _load_header(line, f"item {index} header")
        item_type = item_headers.get("type")
        if item_type is None:
            raise EnvelopeError(f"item {index}: missing type")
        if not isinstance(item_type, str) or not item_type:
            raise EnvelopeError(f"item {index}: type is not a non-empty string")

        start = eol + 1
        length = item_headers.get("length")
        if length is None:
            end = data.find(b"\n", start)
            if end == -1:
                end = n
            payload = data[start:end]
            pos = end + 1
        else:
            if type(length) is not int or length < 0:
                raise EnvelopeError(
                    f"item {index}: length {length!r} is not a non-negative integer"
                )
            remaining = max(n - start, 0)
            if length > remaining:
                raise EnvelopeError(
                    f"item {index}: length {length} exceeds remaining {remaining} bytes"
                )
            end = start + length
            if end < n and data[end] != 0x0A:
                raise EnvelopeError(f"item {index}: payload is not followed by a newline")
            payload = data[start:end]
            pos = end + 1

        if item_type == "event":
            if has_event:
                raise EnvelopeError(f"item {index}: more than one event item")
            has_event = True
        elif item_type == "transaction":
            has_transaction = True
        if has_event and has_transaction:
            raise EnvelopeError(f"item {index}: event and transaction items are mutually exclusive")
        items.append(Item(item_headers, payload))

    return Envelope(headers, items)


def serialize_envelope(env: Envelope) -> bytes:
    """Serialize with an explicit ``length`` on every item, so payloads may hold newlines."""
    parts = [orjson.dumps(env.headers)]
    for item in env.items:
        headers = {**item.headers, "length": len(item.payload)}
        parts.append(orjson.dumps(headers))
        parts.append(item.payload)
    return b"\n".join(parts) + b"\n"


def validate_json_item(item: Item, index: int) -> dict[str, Any]:
    """Parse a JSON item's payload (event, transaction, feedback, session, ...) as an object."""
    try:
        value = orjson.loads(item.payload)
    except orjson.JSONDecodeError as exc:
        raise EnvelopeError(f"item {index} ({item.type}): invalid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise EnvelopeError(f"item {index} ({item.type}): payload is not a JSON object")
    return value
