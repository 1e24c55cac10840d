"""Replace the variable parts of a message with placeholders, so that
"user 42 not found" and "user 43 not found" group together.

All patterns run as one compiled alternation in a single pass. Where two
patterns could match at the same position, the one listed first wins, so the
list goes from most specific (email, url) to least (int).
"""

from __future__ import annotations

import re

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_LONG_DAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
# The most common top-level domains; a bare dotted word with any other ending
# (a Python module path, a file name) is left alone.
_TLDS = (
    "com|net|org|io|dev|app|ai|co|edu|gov|mil|int|info|biz|xyz|online|site|top|tech|store|cloud|"
    "local|internal|localhost|me|tv|cc|us|uk|de|fr|nl|ru|cn|jp|br|in|it|es|ca|au|ch|se|no|dk|fi|"
    "pl|be|at|cz|pt|gr|ie|nz|za|mx|ar|kr|tw|hk|sg|id|tr|ua|il|ir|eu|asia|gg|ly|sh|so|to|ws|fm|im"
)
_IPV4_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = rf"(?:{_IPV4_OCTET}\.){{3}}{_IPV4_OCTET}"
_H16 = r"[0-9a-fA-F]{1,4}"
_IPV6 = (
    r"(?:"
    rf"(?:{_H16}:){{7}}{_H16}"
    rf"|(?:{_H16}:){{1,7}}:(?!\w)"
    rf"|(?:{_H16}:){{1,6}}:{_H16}"
    rf"|(?:{_H16}:){{1,5}}(?::{_H16}){{1,2}}"
    rf"|(?:{_H16}:){{1,4}}(?::{_H16}){{1,3}}"
    rf"|(?:{_H16}:){{1,3}}(?::{_H16}){{1,4}}"
    rf"|(?:{_H16}:){{1,2}}(?::{_H16}){{1,5}}"
    rf"|{_H16}:(?::{_H16}){{1,6}}"
    rf"|::(?:{_H16}:){{0,5}}(?:{_IPV4}|{_H16})"
    r")"
)
_TIME = r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
_ZONE = r"(?:Z|[+-]\d{2}:?\d{2})"
# The arguments of a datetime repr: numbers, then optionally tzinfo=<one level of call>.
_REPR_ARGS = (
    r"\d{1,4}(?:,\s?\d{1,6}){1,6}"
    r"(?:,\s?(?:tzinfo|fold)=[\w.]+(?:\([^()]{0,100}\))?){0,2}"
)

# (name, pattern) in priority order; each match becomes "<name>".
PATTERNS: tuple[tuple[str, str], ...] = (
    # Starts only where a run of local-part characters starts (leading punctuation is
    # matched and kept by `_replace`): starting again after each `.` of "a.a.a..."
    # rescanned the run from every dot, quadratic time.
    (
        "email",
        r"(?<![\w.%+-])[.%+-]*+\b[a-zA-Z0-9._%+-]+@[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*\.[a-zA-Z]{2,}\b",
    ),
    ("url", r"\b(?:https?|wss?|ftps?|file)://[^\s\"'<>`]+"),
    # Not after `-`, nor after the `.` that ends a label: a match starting there would
    # be the tail of one starting earlier, and trying each rescanned the dotted run.
    (
        "hostname",
        rf"(?<!-)(?<![a-zA-Z0-9]\.)\b(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{{0,61}}[a-zA-Z0-9])?\.)+(?:{_TLDS})\b(?!\.\w)",
    ),
    ("ip", rf"(?<![\w:.]){_IPV4}(?![\w.])|(?<![\w:.]){_IPV6}(?![\w:.])"),
    ("traceparent", r"\b00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]\b"),
    ("uuid", r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
    ("sha1", r"\b[0-9a-fA-F]{40}\b"),
    ("md5", r"\b[0-9a-fA-F]{32}\b"),
    (
        "date",
        # ISO 8601 / RFC 3339, date-only included
        rf"\b\d{{4}}-\d{{2}}-\d{{2}}(?:[T ]{_TIME}{_ZONE}?)?(?![\w:])"
        # RFC 822 / 1123: Wed, 11 Jan 2023 10:00:00 GMT
        rf"|\b{_DAY},\s\d{{1,2}}\s{_MONTH}\s\d{{2,4}}\s{_TIME}(?:\s(?:[A-Z]{{1,5}}|[+-]\d{{4}}))?"
        # RFC 850: Wednesday, 11-Jan-23 10:00:00 GMT
        rf"|\b{_LONG_DAY},\s\d{{2}}-{_MONTH}-\d{{2}}\s{_TIME}(?:\s[A-Z]{{1,5}})?"
        # JavaScript Date.toString(): Wed Jan 11 2023 10:00:00 GMT+0000 (UTC)
        rf"|\b{_DAY}\s{_MONTH}\s\d{{2}}\s\d{{4}}\s{_TIME}(?:\sGMT[+-]\d{{4}}(?:\s\([^)]*\))?)?"
        # ctime / asctime: Wed Jan 11 10:00:00 2023
        rf"|\b{_DAY}\s{_MONTH}\s{{1,2}}\d{{1,2}}\s{_TIME}\s\d{{4}}"
        # Java Date.toString(): Wed Jan 11 10:00:00 UTC 2023
        rf"|\b{_DAY}\s{_MONTH}\s\d{{2}}\s{_TIME}\s[A-Z]{{2,5}}\s\d{{4}}"
        # Python reprs: datetime.datetime(2023, 1, 11, 10, 0, tzinfo=...), datetime.date(...)
        rf"|\bdatetime\.(?:datetime|date)\({_REPR_ARGS}\)"
        # kitchen clock: 3:04PM, 10:00 am, and plain 10:00:00
        r"|\b\d{1,2}:\d{2}(?::\d{2})?\s?[AaPp][Mm]\b"
        r"|(?<![\w:.])\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?(?![\w:])",
    ),
    (
        "duration",
        r"(?<![\w.])\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h)\b"
        r"|(?<![\w.])\d+(?:\.\d+)?\s(?:milliseconds?|seconds?|minutes?|hours?|days?)\b",
    ),
    (
        "hex",
        r"\b0[xX][0-9a-fA-F]+\b"
        # A digit and a letter: digits alone are a number (a 9-digit id is an <int>).
        r"|\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,128}\b"
        r"|\b(?=[0-9A-F]*\d)(?=[0-9A-F]*[A-F])[0-9A-F]{8,128}\b",
    ),
    ("git_sha", r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7}\b"),
    ("float", r"(?<![\w.])[-+]?\d+\.\d+(?:[eE][-+]?\d+)?(?!\w|\.\d)"),
    ("int", r"(?<![\w.])[-+]?\d+(?!\w|\.\d)"),
    ("quoted_str", r"(?<==)(?:'[^']*'|\"[^\"]*\")"),
    ("bool", r"(?<==)(?:[Tt]rue|TRUE|[Ff]alse|FALSE)\b"),
)

# Every pattern starts where no word character precedes it; checking that once per
# position, before trying the alternatives, skips the inside of words cheaply.
_PATTERN = re.compile(
    r"(?<!\w)(?:" + "|".join(f"(?P<{name}>{pattern})" for name, pattern in PATTERNS) + ")"
)
_REPLACEMENTS = {name: f"<{name}>" for name, _ in PATTERNS}
# Every pattern needs one of these characters; most messages without them skip the regex.
_MIGHT_MATCH = re.compile(r"[\d@:=.]").search


def _replace(match: re.Match[str]) -> str:
    name = match.lastgroup or ""
    if name == "email":
        text = match.group()
        return text[: len(text) - len(text.lstrip(".%+-"))] + "<email>"
    return _REPLACEMENTS[name]


def parameterize(message: str) -> str:
    """The message with variable parts replaced by `<name>` placeholders, trimmed."""
    if _MIGHT_MATCH(message) is not None:
        message = _PATTERN.sub(_replace, message)
    return message.strip()
