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
_BROWSERS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.ASCII))
    for name, pattern in (
        ("Edge", r"\b(?:Edg|Edge|EdgA|EdgiOS)/" + _V),
        ("Opera", r"\bOPR/" + _V),
        ("Opera", r"\bOpera[/ ]" + _V),
        ("Firefox", r"\b(?:Firefox|FxiOS)/" + _V),
        ("Chrome Mobile iOS", r"\bCriOS/" + _V),
        ("Chrome Mobile", r"\bChrome/" + _V + r"[^()]{0,64}\bMobile\b"),
        ("Chrome", r"\bChrome/" + _V),
        ("Mobile Safari", r"\bVersion/" + _V + r"[^()]{0,64}\bMobile\b[^()]{0,64}\bSafari/"),
        ("Safari", r"\bVersion/" + _V + r"[^()]{0,64}\bSafari/"),
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
    for name, pattern in _BROWSERS:
        match = pattern.search(ua)
        if match:
            return Named(name, _version(match.group(1)))
    return None


def parse_os(ua: str) -> Named | None:
    ua = ua[:MAX_LENGTH]
    if match := _IOS.search(ua):
        return Named("iOS", _version(match.group(1)))
    if match := _IPAD.search(ua):
        return Named("iOS", _version(match.group(1)))
    if match := _ANDROID.search(ua):
        return Named("Android", _version(match.group(1)))
    if match := _WINDOWS.search(ua):
        return Named("Windows", _WINDOWS_NT.get(match.group(1), ""))
    if "Windows" in ua:
        return Named("Windows", "")
    if match := _MACOS.search(ua):
        return Named("Mac OS X", _version(match.group(1)))
    if "CrOS" in ua:
        return Named("Chrome OS", "")
    if "Linux" in ua:
        return Named("Linux", "")
    return None
