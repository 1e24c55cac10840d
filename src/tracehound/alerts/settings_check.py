"""Checking channel settings by their declared kind (alerts.base.Setting)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import SplitResult, urlsplit

import orjson

from tracehound.alerts.base import ConfigError, Setting

EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
MAX_VALUE = 4000
# What an HTTP header value or a token may hold: visible ASCII and spaces. Anything else
# (a snowman, a NUL, a line break) cannot be sent in a header, so every delivery would
# fail; it is refused when the setting is saved instead.
HEADER_TEXT = re.compile(r"^[\x20-\x7e]*$")


def split_url(name: str, value: str) -> SplitResult:
    """urlsplit and its port, with a malformed URL (`https://[::1`, a port of 99999)
    refused as a ConfigError rather than the ValueError urllib raises."""
    try:
        parts = urlsplit(value)
        port = parts.port  # ValueError when not a number or above 65535
    except ValueError:
        raise ConfigError(name, "is not a valid URL") from None
    if port == 0:
        raise ConfigError(name, "is not a valid URL (the port must be 1 to 65535)")
    return parts


def check_url(name: str, raw: str) -> str:
    """An http(s) URL without credentials, ASCII only: a non-ASCII path or query is
    refused rather than percent-encoded, so what is stored is exactly what is requested
    (docs/alerts.md)."""
    value = raw.strip()
    parts = split_url(name, value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(name, "must be an http:// or https:// URL")
    if parts.username or parts.password:
        raise ConfigError(name, "must not carry a user name or password")
    if not value.isascii() or any(c <= " " or c == "\x7f" for c in value):
        raise ConfigError(
            name, "must be ASCII without spaces (percent-encode other characters, as %C3%BC)"
        )
    return value


def check_headers(name: str, raw: Any) -> dict[str, str]:
    if isinstance(raw, str):
        text = raw.strip()
        if not text:
            return {}
        if text.startswith("{"):
            try:
                raw = orjson.loads(text)
            except orjson.JSONDecodeError:
                raise ConfigError(name, "is not a JSON object") from None
        else:
            raw = header_lines(name, text)
    if not isinstance(raw, dict):
        raise ConfigError(name, "must be an object of header names to values")
    out: dict[str, str] = {}
    # Messages name the header's position, never its text: a value is often a token,
    # and a mistyped line ("Authorization Bearer …") is all value.
    for number, (key, value) in enumerate(raw.items(), start=1):
        if not isinstance(key, str) or not HEADER_NAME.match(key):
            raise ConfigError(name, f"header {number}: the name is not a valid header name")
        if not isinstance(value, str) or not HEADER_TEXT.match(value):
            raise ConfigError(
                name, f"the value of {key} must be one line of visible ASCII characters"
            )
        out[key] = value
    return out


def header_lines(name: str, text: str) -> dict[str, str]:
    """The "Name: value" lines; a bad one is named by its number only (it may be a secret)."""
    pairs = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise ConfigError(name, f"line {number} is not 'Name: value'")
        pairs[key.strip()] = value.strip()
    return pairs


def clean_value(setting: Setting, raw: Any) -> Any:
    name = setting.name
    if setting.kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(name, "must be true or false")
    if setting.kind == "headers":
        return check_headers(name, raw)
    if not isinstance(raw, str):
        raise ConfigError(name, "must be a string")
    if "\0" in raw or len(raw) > MAX_VALUE:
        raise ConfigError(name, f"must be text of at most {MAX_VALUE} characters")
    if setting.kind == "text":
        return raw
    value = raw.strip()
    if setting.secret and setting.kind == "string" and not HEADER_TEXT.match(value):
        # Tokens and keys travel in headers (Authorization, basic auth).
        raise ConfigError(name, "must be visible ASCII characters (a token or key)")
    if setting.kind == "url":
        return check_url(name, value)
    if setting.kind == "email_list":
        addresses = [a.strip() for a in re.split(r"[,;\s]+", value) if a.strip()]
        for address in addresses:
            if not EMAIL.match(address):
                raise ConfigError(name, f"{address[:80]!r} is not an email address")
        return ", ".join(addresses)
    if setting.kind == "choice":
        allowed = [c for c, _ in setting.choices]
        if value not in allowed:
            raise ConfigError(name, f"must be one of {', '.join(allowed)}")
        return value
    return value


def clean_settings(declared: Iterable[Setting], values: Mapping[str, Any]) -> dict[str, Any]:
    """Every declared setting checked and normalised; unknown names refused."""
    declared = tuple(declared)
    known = {s.name for s in declared}
    for key in values:
        if key not in known:
            raise ConfigError(
                key, f"is not a setting of this kind (known: {', '.join(sorted(known)) or 'none'})"
            )
    cleaned: dict[str, Any] = {}
    for setting in declared:
        raw = values.get(setting.name)
        if raw is None or (isinstance(raw, str) and not raw.strip() and setting.kind != "bool"):
            if setting.required and setting.default is None:
                raise ConfigError(setting.name, "is required")
            cleaned[setting.name] = setting.default
            continue
        value = clean_value(setting, raw)
        if setting.validate is not None:
            try:
                setting.validate(value)
            except ValueError as exc:
                raise ConfigError(setting.name, str(exc)) from None
        cleaned[setting.name] = value
    return cleaned
