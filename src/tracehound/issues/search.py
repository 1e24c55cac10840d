"""Sentry's issue search syntax, parsed into terms: pure, no Django.

`is:unresolved level:error !environment:staging release:[1.0,1.1] times_seen:>100
firstSeen:-24h "connection reset"` is a list of `key:value` terms (`!` negates one),
with free text for the rest. Values may be quoted (`"a b"`, with `\\"` and `\\\\`
escapes) or lists (`[a, "b c"]`, any of them matches). Dates and numbers take `>`,
`<`, `>=`, `<=`; a relative date `-24h` means "within the last 24 hours" and `+7d`
"longer ago than 7 days" (units s, m, h, d, w); an absolute date is ISO 8601. Any key
not listed in KEYS is a tag, as in Sentry (`browser:Chrome`, `tags[os.name]:Linux`).

Every error is a QueryError naming the 0-based position of what was wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MAX_QUERY_LENGTH = 2000  # characters
MAX_TERMS = 40
MAX_LIST_VALUES = 100
MAX_VALUE_LENGTH = 200  # tag values are stored with at most 200 characters
MAX_AGO = timedelta(days=100 * 366)
MAX_NUMBER = 2**63 - 1

IS_VALUES = (
    "unresolved",
    "resolved",
    "ignored",
    "archived",  # Sentry's newer name for ignored
    "regressed",
    "assigned",
    "unassigned",
    "for_review",
    "new",
    "ongoing",
)
# Sentry's names (and aliases) → the canonical key of a term.
KEYS = {
    "is": "is",
    "assigned": "assigned",
    "level": "level",
    "release": "release",
    "environment": "environment",
    "firstSeen": "first_seen",
    "first_seen": "first_seen",
    "age": "first_seen",
    "lastSeen": "last_seen",
    "last_seen": "last_seen",
    "times_seen": "times_seen",
    "timesSeen": "times_seen",
    "firstRelease": "first_release",
    "first_release": "first_release",
    "has": "has",
    "issue": "issue",
    "issue.id": "issue",
    "message": "text",
}
DATE_KEYS = frozenset({"first_seen", "last_seen"})
NUMBER_KEYS = frozenset({"times_seen"})
# user.* fields as the `user` tag stores them ("email:ann@example.com").
USER_FIELDS = {"id": "id", "email": "email", "username": "username", "ip": "ip", "ip_address": "ip"}
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
OPERATORS = (">=", "<=", ">", "<")  # longest first

KEY = re.compile(r"(!?)(tags\[[^\]\s\x00]{1,200}\]|[A-Za-z_][A-Za-z0-9_.\-]{0,199}):")
RELATIVE = re.compile(r"([+-])([0-9]{1,9})([smhdw])")
NUMBER = re.compile(r"([0-9]{1,19})([kKmM]?)")
SHORT_ID = re.compile(r"([A-Za-z0-9][A-Za-z0-9_-]{0,49})-([0-9A-Za-z]{1,13})")
# Crockford-style base32, as in short ids like BACKEND-1A (issues.queries.format_short_id).
SHORT_ID_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTVWXYZ"


class QueryError(ValueError):
    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at position {position})")
        self.message = message
        self.position = position


@dataclass(frozen=True)
class ShortId:
    project_slug: str  # upper case, as shown
    number: int


Value = str | int | datetime | timedelta | ShortId


@dataclass(frozen=True)
class Term:
    """One condition. `key` is canonical (see KEYS); "tag" terms carry the tag key in
    `tag`, "text" terms the free text. `op` is "=" for equality (any of `values`), a
    comparison for dates and numbers, or "range" for an absolute date without operator
    (values = (start, end), end excluded). A relative date's value is a timedelta: the
    point in time is now minus it."""

    key: str
    values: tuple[Value, ...]
    op: str = "="
    negated: bool = False
    tag: str = ""
    position: int = 0


def parse_query(text: str) -> list[Term]:
    """The terms of `text`; free text is gathered into one "text" term, last."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"the query is longer than {MAX_QUERY_LENGTH} characters", 0)
    if (nul := text.find("\x00")) >= 0:
        raise QueryError("the query contains a NUL character", nul)
    terms: list[Term] = []
    words: list[str] = []
    text_start = -1
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        if len(terms) + (1 if words else 0) >= MAX_TERMS:
            raise QueryError(f"the query has more than {MAX_TERMS} terms", i)
        match = KEY.match(text, i)
        if match and match.end() < n and not text[match.end()].isspace():
            term, i = parse_term(text, match)
            terms.append(term)
            continue
        if text_start < 0:
            text_start = i
        if text[i] == '"':
            word, i = read_quoted(text, i)
        else:
            end = i
            while end < n and not text[end].isspace():
                end += 1
            word, i = text[i:end], end
        words.append(word)
    if words:
        phrase = " ".join(w for w in words if w)
        if len(phrase) > MAX_VALUE_LENGTH:
            raise QueryError(f"free text is longer than {MAX_VALUE_LENGTH} characters", text_start)
        if phrase:
            terms.append(Term("text", (phrase,), position=text_start))
    return terms


def parse_term(text: str, match: re.Match[str]) -> tuple[Term, int]:
    negated = match[1] == "!"
    raw_key = match[2]
    start = match.start()
    i = match.end()
    key, tag = canonical_key(raw_key, match.start(2))
    op = "="
    if key in DATE_KEYS or key in NUMBER_KEYS:
        op = next((o for o in OPERATORS if text.startswith(o, i)), "=")
        i += 0 if op == "=" else len(op)
    value_at = i
    raw_values, i = read_values(text, i)
    if not raw_values:
        raise QueryError(f"{raw_key}: expected a value", value_at)
    if key == "text":
        return Term("text", tuple(v for v, _ in raw_values), negated=negated, position=start), i
    if key in DATE_KEYS:
        if len(raw_values) != 1:
            raise QueryError(f"{raw_key}: a date takes one value, not a list", value_at)
        op, value = parse_date(raw_values[0][0], op, raw_key, value_at)
        return Term(key, value, op=op, negated=negated, position=start), i
    values = [parse_value(key, raw_key, raw, at) for raw, at in raw_values]
    if key in NUMBER_KEYS and len(values) != 1:
        raise QueryError(f"{raw_key}: a number takes one value, not a list", value_at)
    return Term(key, tuple(values), op=op, negated=negated, tag=tag, position=start), i


def canonical_key(raw_key: str, position: int) -> tuple[str, str]:
    """(key, tag key); tag terms are ("tag", the tag's key)."""
    if raw_key in KEYS:
        return KEYS[raw_key], ""
    if raw_key.startswith("tags[") and raw_key.endswith("]"):
        return "tag", raw_key[5:-1]
    if raw_key.startswith("tags.") and len(raw_key) > 5:
        return "tag", raw_key[5:]
    if raw_key.startswith("user.") and raw_key[5:] in USER_FIELDS:
        return "user", USER_FIELDS[raw_key[5:]]
    return "tag", raw_key


def parse_value(key: str, raw_key: str, raw: str, position: int) -> Value:
    if key == "is":
        value = raw.lower()
        if value not in IS_VALUES:
            raise QueryError(
                f"is:{raw[:50]} is not supported; use one of {', '.join(IS_VALUES)}", position
            )
        return value
    if key in NUMBER_KEYS:
        return parse_number(raw, raw_key, position)
    if key == "issue":
        return parse_issue_id(raw, raw_key, position)
    if key == "has" and not raw:
        raise QueryError("has: expected a tag name", position)
    return raw


def parse_number(raw: str, raw_key: str, position: int) -> int:
    match = NUMBER.fullmatch(raw)
    if match is None:
        raise QueryError(f"{raw_key}: {raw[:50]!r} is not a whole number", position)
    value = int(match[1]) * {"": 1, "k": 1000, "m": 1_000_000}[match[2].lower()]
    if value > MAX_NUMBER:
        raise QueryError(f"{raw_key}: {raw[:50]} is too large", position)
    return value


def parse_issue_id(raw: str, raw_key: str, position: int) -> int | ShortId:
    if raw.isascii() and raw.isdigit() and len(raw) <= 18:
        return int(raw)
    short = parse_short_id(raw)
    if short is None:
        raise QueryError(f"{raw_key}: {raw[:50]!r} is not an issue id or short id", position)
    return short


def parse_short_id(raw: str) -> ShortId | None:
    """`BACKEND-1A` → ShortId("BACKEND", 42); None for anything else."""
    match = SHORT_ID.fullmatch(raw.strip())
    if match is None:
        return None
    number = 0
    for char in match[2].upper():
        digit = SHORT_ID_ALPHABET.find(char)
        if not 0 <= digit < 32:
            return None
        number = number * 32 + digit
    if number > MAX_NUMBER:
        return None
    return ShortId(match[1].upper(), number)


def parse_date(raw: str, op: str, raw_key: str, position: int) -> tuple[str, tuple[Value, ...]]:
    relative = RELATIVE.fullmatch(raw)
    if relative is not None:
        seconds = int(relative[2]) * UNITS[relative[3]]
        if seconds > MAX_AGO.total_seconds():
            raise QueryError(f"{raw_key}: {raw[:50]} is too far back", position)
        ago = timedelta(seconds=seconds)
        if op == "=":  # -24h: within the last 24 hours; +7d: longer ago than 7 days
            op = ">=" if relative[1] == "-" else "<="
        return op, (ago,)
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise QueryError(
            f"{raw_key}: {raw[:50]!r} is not a date (use 2024-01-31, 2024-01-31T12:00:00Z"
            " or a relative time such as -24h, +7d)",
            position,
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the first UTC datetime
        raise QueryError(f"{raw_key}: {raw[:50]} is out of range", position) from None
    if op != "=":
        return op, (parsed,)
    # No operator: the date (or second) it names, at its own precision.
    span = timedelta(days=1) if len(raw) <= 10 else timedelta(seconds=1)
    try:
        end = parsed + span
    except OverflowError:
        raise QueryError(f"{raw_key}: {raw[:50]} is out of range", position) from None
    return "range", (parsed, end)


def read_values(text: str, i: int) -> tuple[list[tuple[str, int]], int]:
    """A value, a quoted value or a `[list]` at `i`: (value, position) pairs, and the end."""
    if i < len(text) and text[i] == "[":
        return read_list(text, i)
    if i < len(text) and text[i] == '"':
        value, end = read_quoted(text, i)
    else:
        end = i
        while end < len(text) and not text[end].isspace():
            end += 1
        value = text[i:end]
    check_length(value, i)
    return ([(value, i)] if value or text[i : i + 1] == '"' else []), end


def read_list(text: str, start: int) -> tuple[list[tuple[str, int]], int]:
    values: list[tuple[str, int]] = []
    i = start + 1
    n = len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            raise QueryError("unterminated list: missing ']'", start)
        at = i
        if text[i] == '"':
            value, i = read_quoted(text, i)
        else:
            end = i
            while end < n and text[end] not in ",]" and not text[end].isspace():
                end += 1
            value, i = text[i:end], end
            if not value:
                raise QueryError("empty value in list", i)
        check_length(value, at)
        values.append((value, at))
        if len(values) > MAX_LIST_VALUES:
            raise QueryError(f"a list holds at most {MAX_LIST_VALUES} values", i)
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            raise QueryError("unterminated list: missing ']'", start)
        if text[i] == "]":
            return values, i + 1
        if text[i] != ",":
            raise QueryError("expected ',' or ']' in list", i)
        i += 1


def read_quoted(text: str, start: int) -> tuple[str, int]:
    """The value of the quoted string at `start` (backslash escapes any character)."""
    out: list[str] = []
    i = start + 1
    n = len(text)
    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n:
            out.append(text[i + 1])
            i += 2
            continue
        if char == '"':
            return "".join(out), i + 1
        out.append(char)
        i += 1
    raise QueryError("unterminated quoted value: missing '\"'", start)


def check_length(value: str, position: int) -> None:
    if len(value) > MAX_VALUE_LENGTH:
        raise QueryError(f"a value is longer than {MAX_VALUE_LENGTH} characters", position)
