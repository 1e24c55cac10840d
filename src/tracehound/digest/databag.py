"""Value-level helpers for normalization and scrubbing.

`_meta` annotations, string and databag trimming, lenient coercion of
client-sent values (numbers, timestamps, pair lists) and message formatting.
The search for sensitive substrings lives in pii.py.

`_meta` mirrors the event's shape. List indices become string keys and the
annotation for a node sits under the empty key, as in Sentry:

    {"extra": {"blob": {"": {"rem": [["!limit", "s", 509, 512]], "len": 9000}}}}

Remark kinds: "s" = substituted (optionally with the [start, end) range of the
replacement in the new value), "x" = removed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson

Meta = dict[str, Any]
Path = list[str | int]

LIMIT_RULE = "!limit"
ELLIPSIS = "..."


def annotation(meta: Meta, path: Iterable[str | int]) -> dict[str, Any]:
    """Return (creating it) the `""` annotation dict for the value at `path`."""
    node = meta
    for segment in path:
        key = str(segment)
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    ann = node.get("")
    if not isinstance(ann, dict):
        ann = {}
        node[""] = ann
    return ann


def add_remark(
    meta: Meta,
    path: Iterable[str | int],
    rule_id: str,
    kind: str,
    span: tuple[int, int] | None = None,
    original_length: int | None = None,
) -> None:
    ann = annotation(meta, path)
    remarks = ann.get("rem")
    if not isinstance(remarks, list):
        remarks = ann["rem"] = []
    remarks.append([rule_id, kind, span[0], span[1]] if span else [rule_id, kind])
    # The first recorded length is the true original (client meta may already hold one).
    if original_length is not None:
        ann.setdefault("len", original_length)


def add_error(meta: Meta, path: Iterable[str | int], error: Any, value: Any = None) -> None:
    ann = annotation(meta, path)
    errors = ann.get("err")
    if not isinstance(errors, list):
        errors = ann["err"] = []
    errors.append(error)
    if value is not None:
        ann.setdefault("val", value)


def set_length(meta: Meta, path: Iterable[str | int], original_length: int) -> None:
    annotation(meta, path).setdefault("len", original_length)


def trim_string(value: str, max_chars: int, meta: Meta, path: Path, allowance: int = 0) -> str:
    """Cut `value` to `max_chars` (ending in "...") when it exceeds `max_chars + allowance`."""
    length = len(value)
    if length <= max_chars + allowance:
        return value
    cut = max(max_chars - len(ELLIPSIS), 0)
    add_remark(meta, path, LIMIT_RULE, "s", (cut, cut + len(ELLIPSIS)), length)
    return value[:cut] + ELLIPSIS


class _Bag:
    """Limits plus the remaining byte budget of one databag walk."""

    __slots__ = ("max_depth", "max_string", "budget", "meta")

    def __init__(self, max_depth: int, max_string: int, max_bytes: int, meta: Meta) -> None:
        self.max_depth = max_depth
        self.max_string = max_string
        self.budget = max_bytes
        self.meta = meta


def trim_databag(
    value: Any,
    meta: Meta,
    path: Path,
    *,
    max_depth: int = 5,
    max_string: int = 512,
    max_bytes: int = 16 * 1024,
) -> Any:
    """Trim free-form data in place: depth, string length and an approximate JSON size.

    The bag root is depth 1; containers deeper than `max_depth` are replaced by
    None. Once the size budget is spent, the remaining items of each container
    are dropped and the container's original item count goes into `_meta`.
    `path` is used as a stack and is restored before returning.
    """
    kind = type(value)
    if kind is str:
        if len(value) <= max_string:
            return value
    elif kind is dict and max_depth >= 1 and _is_flat_and_small(value, max_string, max_bytes):
        return value  # most bags (frame vars, breadcrumb data, contexts): nothing to trim
    return _trim(value, 1, path, _Bag(max_depth, max_string, max_bytes, meta))


def _is_flat_and_small(value: dict[Any, Any], max_string: int, max_bytes: int) -> bool:
    """Whether `_trim` would leave `value` as it is, for a dict without containers.

    The walk below charges what `_trim_dict` charges, so it says yes only when no string
    is too long and the budget lasts for every item.
    """
    budget = max_bytes - 2
    for key, child in value.items():
        if type(key) is not str:
            return False
        kind = type(child)
        if kind is str:
            if len(child) > max_string:
                return False
            budget -= len(key) + len(child) + 6
        elif isinstance(child, (dict, list)):
            return False
        else:
            budget -= len(key) + 12
        if budget <= 0:
            return False
    return True


def _trim(value: Any, depth: int, path: Path, bag: _Bag) -> Any:
    if isinstance(value, str):
        if len(value) > bag.max_string:
            value = trim_string(value, bag.max_string, bag.meta, path)
        bag.budget -= len(value) + 2
        return value
    if not isinstance(value, (dict, list)):
        bag.budget -= 8
        return value
    if depth > bag.max_depth:
        add_remark(bag.meta, path, LIMIT_RULE, "x")
        return None
    bag.budget -= 2
    if isinstance(value, dict):
        _trim_dict(value, depth, path, bag)
    else:
        _trim_list(value, depth, path, bag)
    return value


def _trim_dict(value: dict[Any, Any], depth: int, path: Path, bag: _Bag) -> None:
    # Strings are handled inline: a call per string would dominate normalization.
    max_string = bag.max_string
    dropped: list[Any] = []
    for key, child in value.items():
        if bag.budget <= 0:
            dropped.append(key)
            continue
        cost = len(key) + 4 if type(key) is str else 8
        if type(child) is str:
            if len(child) > max_string:
                path.append(key)
                value[key] = child = trim_string(child, max_string, bag.meta, path)
                path.pop()
            bag.budget -= cost + len(child) + 2
        elif isinstance(child, (dict, list)):
            bag.budget -= cost
            path.append(key)
            new = _trim(child, depth + 1, path, bag)
            path.pop()
            if new is not child:
                value[key] = new  # replacing a value while iterating is safe
        else:
            bag.budget -= cost + 8
    if dropped:
        set_length(bag.meta, path, len(value))
        for key in dropped:
            del value[key]


def _trim_list(value: list[Any], depth: int, path: Path, bag: _Bag) -> None:
    max_string = bag.max_string
    for index, child in enumerate(value):
        if bag.budget <= 0:
            set_length(bag.meta, path, len(value))
            del value[index:]
            return
        if type(child) is str:
            if len(child) > max_string:
                path.append(index)
                value[index] = child = trim_string(child, max_string, bag.meta, path)
                path.pop()
            bag.budget -= len(child) + 2
        elif isinstance(child, (dict, list)):
            path.append(index)
            new = _trim(child, depth + 1, path, bag)
            path.pop()
            if new is not child:
                value[index] = new
        else:
            bag.budget -= 8


# Format specs are matched but ignored: `%999999999s` must not allocate 1 GB.
_PERCENT = re.compile(
    r"%(?:\((?P<name>[^)]*)\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?"
    r"(?P<conv>[diouxXeEfFgGcrsa%])"
)
_BRACE = re.compile(r"\{(?P<key>\d*|[A-Za-z_]\w*)(?:![rsa])?(?::[^{}]*)?\}")


def parse_timestamp(value: Any) -> float | None:
    """Float unix seconds from a number, a numeric string or RFC 3339 (naive = UTC)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
        return number if math.isfinite(number) else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        return number if math.isfinite(number) else None
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    except (ValueError, OverflowError):  # also year-0001 dates with a positive offset
        return None


def rfc3339(timestamp: float) -> str | float:
    try:
        return datetime.fromtimestamp(timestamp, UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        return timestamp


def coerce_str(value: Any) -> str | None:
    """Strings as they are, numbers and booleans as text, anything else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return None


def coerce_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _param_text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def format_message(template: str, params: list[Any] | dict[str, Any]) -> str:
    """Fill `%s`-style or `{}`-style placeholders; unknown ones stay as written."""
    positional = iter(params) if isinstance(params, list) else iter(())
    named = params if isinstance(params, dict) else {}
    used = False

    def percent(match: re.Match[str]) -> str:
        nonlocal used
        conv, name = match.group("conv"), match.group("name")
        if conv == "%":
            return "%"
        try:
            value = named[name] if name is not None else next(positional)
        except (KeyError, StopIteration):
            return match.group(0)
        used = True
        if conv in "di" and isinstance(value, float) and math.isfinite(value):
            return str(int(value))
        return _param_text(value)

    if "%" in template:
        result = _PERCENT.sub(percent, template)
        if used:
            return result
    if "{" not in template:
        return template
    sequence = params if isinstance(params, list) else []
    auto = iter(range(len(sequence)))

    def brace(match: re.Match[str]) -> str:
        key = match.group("key")
        try:
            if key == "":
                return _param_text(sequence[next(auto)])
            if key.isdigit():
                return _param_text(sequence[int(key)])
            return _param_text(named[key])
        except (IndexError, KeyError, StopIteration):
            return match.group(0)

    return _BRACE.sub(brace, template)


def as_values(raw: Any, singular_keys: tuple[str, ...]) -> list[dict[str, Any]] | None:
    """`{"values": [...]}`, a bare list or one bare item → the list of dict items."""
    if isinstance(raw, dict):
        if isinstance(raw.get("values"), list):
            raw = raw["values"]
        elif any(key in raw for key in singular_keys):
            raw = [raw]
        else:
            return None
    if not isinstance(raw, list):
        return None
    return [item for item in raw if isinstance(item, dict)]


def text_or_json(value: Any) -> str | None:
    if value is None:
        return None
    text = coerce_str(value)
    if text is not None:
        return text
    try:
        return orjson.dumps(value, default=str).decode()
    except TypeError:
        return None


def normalize_pairs(raw: Any) -> Any:
    """Keep a dict as a dict and a list as [key, value] pairs, values as strings."""
    if isinstance(raw, dict):
        result = {}
        for key, value in raw.items():
            if isinstance(value, list):
                value = ", ".join(filter(None, map(coerce_str, value)))
            text = coerce_str(value)
            if text is not None:
                result[str(key)] = text
        return result
    if isinstance(raw, list):
        pairs = []
        for pair in raw:
            if isinstance(pair, (list, tuple)) and len(pair) == 2:
                key, value = coerce_str(pair[0]), coerce_str(pair[1])
                if key is not None and value is not None:
                    pairs.append([key, value])
        return pairs
    return None


def bounded_int(value: Any, low: int, high: int) -> int | None:
    """`coerce_int`, or None outside [low, high] (2**64 must not reach a column or orjson)."""
    number = coerce_int(value)
    return number if number is not None and low <= number <= high else None


def clean_text(value: Any, max_chars: int) -> str:
    """Text for a column: strings and numbers as text, anything else "", no NUL, capped."""
    text = coerce_str(value) or ""
    if "\x00" in text:
        text = text.replace("\x00", "")
    return text[:max_chars]


def has_nul(data: Any) -> bool:
    """Whether any string or key in `data` holds a NUL; one fast serialization."""
    try:
        return b"\\u0000" in orjson.dumps(data)
    except (TypeError, orjson.JSONEncodeError):
        return True  # cannot tell cheaply: let strip_nul walk it


def strip_nul(data: Any) -> Any:
    """Remove NUL from every string and key in `data` (in place where possible).

    PostgreSQL text and jsonb cannot hold NUL, and any string may reach a column
    (tags, release, title, ...), so NUL goes before anything else reads the event.
    Iterative: client JSON can be nested deeper than Python's recursion limit.
    """
    if isinstance(data, str):
        return data.replace("\x00", "")
    stack: list[Any] = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key in [k for k in node if isinstance(k, str) and "\x00" in k]:
                node[key.replace("\x00", "")] = node.pop(key)
            for key, child in node.items():
                if isinstance(child, str):
                    if "\x00" in child:
                        node[key] = child.replace("\x00", "")
                elif isinstance(child, (dict, list)):
                    stack.append(child)
        elif isinstance(node, list):
            for index, child in enumerate(node):
                if isinstance(child, str):
                    if "\x00" in child:
                        node[index] = child.replace("\x00", "")
                elif isinstance(child, (dict, list)):
                    stack.append(child)
    return data
