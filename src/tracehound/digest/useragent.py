"""Browser and OS from a User-Agent header, for events that have no such contexts.

Browser SDKs send the request's User-Agent but no browser/os context; Sentry derives
them from the header. This covers the big families only. Patterns are anchored on
literal tokens with bounded digit runs, and only the first MAX_LENGTH characters are
read, so a hostile header costs linear time at most.
"""

from __future__ import annotations

import re
from typing import NamedTuple

MAX_LENGTH = 512


class Named(NamedTuple):
    name: str
    version: str  # may be ""


_V = r"(\d{1,8}(?:[._]\d{1,8}){0,3})"

# First match wins: tokens that ride along in other browsers' strings come later
# (Edge and Opera say "Chrome/", Chrome says "Safari/").
# (name, a literal the pattern needs: a cheap test before the regex, pattern)
_BROWSERS: tuple[tuple[str, str, re.Pattern[str]], ...] = tuple(
    (name, needle, re.compile(pattern, re.ASCII))
    for name, needle, pattern in (
        ("Edge", "Edg", r"\b(?:Edg|Edge|EdgA|EdgiOS)/" + _V),
        ("Opera", "OPR/", r"\bOPR/" + _V),
        ("Opera", "Opera", r"\bOpera[/ ]" + _V),
        ("Firefox", "F", r"\b(?:Firefox|FxiOS)/" + _V),
        ("Chrome Mobile iOS", "CriOS/", r"\bCriOS/" + _V),
        ("Chrome Mobile", "Mobile", r"\bChrome/" + _V + r"[^()]{0,64}\bMobile\b"),
        ("Chrome", "Chrome/", r"\bChrome/" + _V),
        (
            "Mobile Safari",
            "Mobile",
            r"\bVersion/" + _V + r"[^()]{0,64}\bMobile\b[^()]{0,64}\bSafari/",
        ),
        ("Safari", "Version/", r"\bVersion/" + _V + r"[^()]{0,64}\bSafari/"),
    )
)

_WINDOWS_NT = {
    "10.0": "10",
    "6.3": "8.1",
    "6.2": "8",
    "6.1": "7",
    "6.0": "Vista",
    "5.2": "XP",
    "5.1": "XP",
}
_IOS = re.compile(r"\b(?:iPhone|CPU) OS " + _V + r" like Mac OS X", re.ASCII)
_IPAD = re.compile(r"\biPad\b.{0,64}?\bOS " + _V, re.ASCII)
_ANDROID = re.compile(r"\bAndroid(?: " + _V + r")?", re.ASCII)
_WINDOWS = re.compile(r"\bWindows NT (\d{1,2}\.\d{1,2})", re.ASCII)
_MACOS = re.compile(r"\bMac OS X(?: " + _V + r")?", re.ASCII)


def _version(raw: str | None) -> str:
    return (raw or "").replace("_", ".")


def parse_browser(ua: str) -> Named | None:
    ua = ua[:MAX_LENGTH]
    for name, needle, pattern in _BROWSERS:
        if needle in ua and (match := pattern.search(ua)):
            return Named(name, _version(match.group(1)))
    return None


def parse_os(ua: str) -> Named | None:
    ua = ua[:MAX_LENGTH]
    if " OS " in ua:
        if match := _IOS.search(ua):
            return Named("iOS", _version(match.group(1)))
        if match := _IPAD.search(ua):
            return Named("iOS", _version(match.group(1)))
    if "Android" in ua and (match := _ANDROID.search(ua)):
        return Named("Android", _version(match.group(1)))
    if "Windows" in ua:
        match = _WINDOWS.search(ua)
        return Named("Windows", _WINDOWS_NT.get(match.group(1), "") if match else "")
    if "Mac OS X" in ua and (match := _MACOS.search(ua)):
        return Named("Mac OS X", _version(match.group(1)))
    if "CrOS" in ua:
        return Named("Chrome OS", "")
    if "Linux" in ua:
        return Named("Linux", "")
    return None
