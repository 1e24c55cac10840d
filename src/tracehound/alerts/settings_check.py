"""Checking channel settings by their declared kind (alerts.base.Setting)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson

from tracehound.alerts.base import ConfigError, Setting

EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
MAX_VALUE = 4000


def check_url(name: str, raw: str) -> str:
    value = raw.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(name, "must be an http:// or https:// URL")
    if parts.username or parts.password:
        raise ConfigError(name, "must not carry a user name or password")
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
            pairs = {}
            for line in text.splitlines():
                if not line.strip():
                    continue
                key, sep, value = line.partition(":")
                if not sep:
                    raise ConfigError(name, f"line {line[:40]!r} is not 'Name: value'")
                pairs[key.strip()] = value.strip()
            raw = pairs
    if not isinstance(raw, dict):
        raise ConfigError(name, "must be an object of header names to values")
    out: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not HEADER_NAME.match(key):
            raise ConfigError(name, f"{str(key)[:40]!r} is not a valid header name")
        if not isinstance(value, str) or any(c in value for c in "\r\n\0"):
            raise ConfigError(name, f"the value of {key} must be one line of text")
        out[key] = value
    return out


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
