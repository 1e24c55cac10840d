"""Value-level helpers for normalization and scrubbing.

`_meta` annotations, string and databag trimming, lenient coercion of
client-sent values (numbers, timestamps, pair lists), message formatting and
the search for sensitive substrings (cards, keys, IPs, ...).

`_meta` mirrors the event's shape. List indices become string keys and the
annotation for a node sits under the empty key, as in Sentry:

    {"extra": {"blob": {"": {"rem": [["!limit", "s", 509, 512]], "len": 9000}}}}

Remark kinds: "s" = substituted (optionally with the [start, end) range of the
replacement in the new value), "x" = removed.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Iterable
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
    return _trim(value, 1, path, _Bag(max_depth, max_string, max_bytes, meta))


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


# --- sensitive substrings (used by scrub.py) ---------------------------------------
#
# CPython's regex engine is only fast when a pattern starts with a literal, so
# every search below is anchored on one: "://", "-----BEGIN", a user-directory
# prefix, or, after mapping every digit to "0", literal digit shapes such as
# "000-00-0000". The exact pattern is then checked at the few candidates.

Span = tuple[int, int, str, str]  # start, end, rule id, replacement

FILTERED = "[Filtered]"
IP_REPLACEMENT = "[ip]"

_DIGITS_TO_ZERO = str.maketrans("123456789", "000000000")
_HEX_TO_H = str.maketrans("0123456789abcdefABCDEF", "h" * 22)
_PEM = re.compile(
    r"-----BEGIN[A-Z ]*(?:PRIVATE|PUBLIC) KEY-----\s*([^\x00]+?)\s*"
    r"-----END[A-Z ]*(?:PRIVATE|PUBLIC) KEY-----"
)
_URL_PASSWORD = re.compile(r"://[^\s:/@?#\x00]*:([^\s/@?#\x00]+)@")
# One pattern per separator: a literal first character is much faster than `[?&]`.
_QUERY_PARAMS = tuple(re.compile(rf"{sep}([^=&#\s?\x00]+)=([^&#\s\x00]*)") for sep in (r"\?", "&"))
_USER_DIRS = ("/home/", "/Users/", "\\Users\\")
_USER_NAME = re.compile(r"[^/\\\s\x00]+")
_CARD_SHAPE = re.compile(r"000(?:[-\s]?0){12}")
_CARD = re.compile(r"(?:3[47][0-9]|4[0-9]{3}|5[1-5][0-9]{2}|65[0-9]{2}|6011)(?:[-\s]?[0-9]){12}")
_ZERO_RUN = re.compile(r"0+")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
_IPV6_HINT = re.compile(r":[h:]")
_IPV6_RUN = re.compile(r"[h:.]+")


def find_sensitive_spans(
    blob: str, query_key_rule: Callable[[str], str | None], scrub_ip: bool
) -> list[Span]:
    """Spans of `blob` to redact. `query_key_rule` names the rule for a query key, if any."""
    spans: list[Span] = []
    add = spans.append
    if "-----BEGIN" in blob:
        for match in _PEM.finditer(blob):
            add((match.start(1), match.end(1), "@pemkey:filter", FILTERED))
    if "://" in blob:
        for match in _URL_PASSWORD.finditer(blob):
            add((match.start(1), match.end(1), "@urlauth:legacy", FILTERED))
    if "=" in blob:
        for pattern in _QUERY_PARAMS:
            for match in pattern.finditer(blob):
                rule = query_key_rule(match.group(1))
                if rule is not None and match.end(2) > match.start(2):
                    add((match.start(2), match.end(2), rule, FILTERED))
    for prefix in _USER_DIRS:
        position = blob.find(prefix)
        while position != -1:
            name = _USER_NAME.match(blob, position + len(prefix))
            if name:
                add((name.start(), name.end(), "@userpath:filter", FILTERED))
            position = blob.find(prefix, position + 1)
    digits = blob.translate(_DIGITS_TO_ZERO)
    if "000" in digits:
        _find_cards(blob, digits, add)
        _find_ssns(blob, digits, add)
    if scrub_ip:
        if "0.0" in digits:
            _find_ipv4(blob, digits, add)
        if ":" in blob:
            _find_ipv6(blob, add)
    return spans


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _is_bounded(blob: str, start: int, end: int) -> bool:
    """Regex `\\b` on both sides, for matches that start and end with a word char."""
    return (start == 0 or not _is_word(blob[start - 1])) and (
        end == len(blob) or not _is_word(blob[end])
    )


def _find_cards(blob: str, digits: str, add: Callable[[Span], None]) -> None:
    position = 0
    while (shape := _CARD_SHAPE.search(digits, position)) is not None:
        start = shape.start()
        match = _CARD.match(blob, start)
        if match and _is_bounded(blob, start, match.end()):
            add((start, match.end(), "@creditcard:filter", FILTERED))
            position = match.end()
        else:
            # A card starts at a word boundary, so never inside this run of digits.
            position = _ZERO_RUN.match(digits, start).end()  # type: ignore[union-attr]


def _find_ssns(blob: str, digits: str, add: Callable[[Span], None]) -> None:
    position = digits.find("000-00-0000")
    while position != -1:
        if _is_bounded(blob, position, position + 11):
            add((position, position + 11, "@usssn:filter", FILTERED))
        position = digits.find("000-00-0000", position + 1)


def _find_ipv4(blob: str, digits: str, add: Callable[[Span], None]) -> None:
    position = digits.find("0.0")
    while position != -1:
        start = position
        while start > 0 and position - start < 2 and digits[start - 1] == "0":
            start -= 1
        match = _IPV4.match(blob, start)
        if (
            match
            and (start == 0 or blob[start - 1] != ".")
            and _is_bounded(blob, start, match.end())
        ):
            end = match.end()
            if not (blob[end : end + 1] == "." and blob[end + 1 : end + 2].isdigit()):
                add((start, end, "@ip:replace", IP_REPLACEMENT))
                position = digits.find("0.0", end)
                continue
        position = digits.find("0.0", position + 1)


def _find_ipv6(blob: str, add: Callable[[Span], None]) -> None:
    hexes = blob.translate(_HEX_TO_H)
    position = 0
    while (hint := _IPV6_HINT.search(hexes, position)) is not None:
        colon = hint.start()
        start = colon
        while start > 0 and colon - start < 40 and hexes[start - 1] in "h:.":
            start -= 1
        end = _IPV6_RUN.match(hexes, colon).end()  # type: ignore[union-attr]
        position = end
        candidate = blob[start:end].rstrip(".")
        if _is_ipv6(candidate) and _is_bounded(blob, start, start + len(candidate)):
            add((start, start + len(candidate), "@ip:replace", IP_REPLACEMENT))


def _is_ipv6(candidate: str) -> bool:
    # At least two groups and a digit: `a[::2]` and `std::` are code, not addresses.
    groups = [group for group in candidate.split(":") if group]
    if len(groups) < 2 or not any(char.isdigit() for char in candidate):
        return False
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True
