"""Sensitive substrings of free text: cards, SSNs, PEM keys, URL passwords, user paths, IPs.

Pure string search, used by scrub.py to find what to redact.

CPython's regex engine is only fast when a pattern starts with a literal, so
every search below is anchored on one: "://", "-----BEGIN", a user-directory
prefix, or, after mapping every digit to "0", literal digit shapes such as
"000-00-0000". The exact pattern is then checked at the few candidates.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import AnyStr

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
# For ASCII text, as bytes: `\s` of a str pattern also matches \x1c-\x1f, a bytes one not.
_DIGITS_TO_ZERO_BYTES = bytes.maketrans(b"123456789", b"000000000")
_CARD_SHAPE_ASCII = re.compile(rb"000(?:[-\t\n\x0b\x0c\r\x1c-\x1f ]?0){12}")
_ZERO_RUN_ASCII = re.compile(rb"0+")
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
    for prefix in _USER_DIRS if "Users" in blob else _USER_DIRS[:1]:
        position = blob.find(prefix)
        while position != -1:
            name = _USER_NAME.match(blob, position + len(prefix))
            if name:
                add((name.start(), name.end(), "@userpath:filter", FILTERED))
            position = blob.find(prefix, position + 1)
    if blob.isascii():
        # The same search on bytes (same offsets), where mapping digits is far cheaper.
        ascii_digits = blob.encode("ascii").translate(_DIGITS_TO_ZERO_BYTES)
        if b"000" in ascii_digits:
            _find_cards(blob, ascii_digits, add, _CARD_SHAPE_ASCII, _ZERO_RUN_ASCII)
            _find_ssns(blob, ascii_digits, add, b"000-00-0000")
        digits = None
    else:
        digits = blob.translate(_DIGITS_TO_ZERO)
        if "000" in digits:
            _find_cards(blob, digits, add, _CARD_SHAPE, _ZERO_RUN)
            _find_ssns(blob, digits, add, "000-00-0000")
    if scrub_ip:
        if digits is None:
            digits = blob.translate(_DIGITS_TO_ZERO)
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


def _find_cards(
    blob: str,
    digits: AnyStr,
    add: Callable[[Span], None],
    shape_pattern: re.Pattern[AnyStr],
    zero_run: re.Pattern[AnyStr],
) -> None:
    position = 0
    while (shape := shape_pattern.search(digits, position)) is not None:
        start = shape.start()
        match = _CARD.match(blob, start)
        if match and _is_bounded(blob, start, match.end()):
            add((start, match.end(), "@creditcard:filter", FILTERED))
            position = match.end()
        else:
            # A card starts at a word boundary, so never inside this run of digits.
            position = zero_run.match(digits, start).end()  # type: ignore[union-attr]


def _find_ssns(blob: str, digits: AnyStr, add: Callable[[Span], None], shape: AnyStr) -> None:
    position = digits.find(shape)
    while position != -1:
        if _is_bounded(blob, position, position + 11):
            add((position, position + 11, "@usssn:filter", FILTERED))
        position = digits.find(shape, position + 1)


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
