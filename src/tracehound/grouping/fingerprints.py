"""SDK fingerprints: replace the default grouping, or refine it with `{{ default }}`.

`["payment-timeout", "{{ transaction }}"]` groups on exactly those values.
`["{{ default }}", "{{ tags.region }}"]` keeps each default hash but splits it
by region: the default values are spliced in where `{{ default }}` stands.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tracehound.grouping.exceptions import Exception_
from tracehound.grouping.frames import Frame
from tracehound.grouping.hashing import hash_values
from tracehound.grouping.parameterize import parameterize
from tracehound.grouping.strategies import logentry_of

_VARIABLE = re.compile(r"\{\{\s*([\w.\-]+)\s*\}\}")
_DEFAULT = re.compile(r"\{\{\s*default\s*\}\}", re.IGNORECASE)


@dataclass(slots=True, frozen=True)
class FingerprintContext:
    event: dict[str, Any]
    last_exception: Exception_ | None
    frame: Frame | None


def fingerprint_of(event: dict[str, Any]) -> list[str] | None:
    """The SDK's fingerprint as strings, or None when it asks for the default grouping."""
    raw = event.get("fingerprint")
    if not isinstance(raw, list):
        return None
    values = [text for text in map(_stringify, raw) if text is not None]
    if not values or (len(values) == 1 and is_default_marker(values[0])):
        return None
    return values


def _stringify(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return None  # null, objects and lists carry nothing to group on


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


# Fields Sentry also files as tags, so `tags.transaction` works before digest derives them.
DERIVED_TAGS = frozenset(
    {"environment", "release", "dist", "level", "logger", "transaction", "server_name"}
)


def tag_values(event: dict[str, Any], name: str) -> Iterator[Any]:
    """The values of tag `name`, from the map or the list-of-pairs shape, else the field
    of that name for the tags Sentry derives from fields."""
    tags = event.get("tags")
    found = False
    if isinstance(tags, dict):
        found = name in tags
        yield tags.get(name)
    elif isinstance(tags, list):
        for pair in tags:
            if isinstance(pair, (list, tuple)) and len(pair) == 2 and pair[0] == name:
                found = True
                yield pair[1]
    if not found and name in DERIVED_TAGS:
        yield event.get(name)


def is_default_marker(value: str) -> bool:
    """Whether a fingerprint value is `{{ default }}` (any spacing or case)."""
    return _DEFAULT.fullmatch(value.strip()) is not None


def _tag(event: dict[str, Any], name: str) -> str:
    for value in tag_values(event, name):
        if value is not None:
            return _text(value)
    return ""


def _message(event: dict[str, Any]) -> str:
    logentry = logentry_of(event)
    if logentry is not None:
        return _text(logentry.get("formatted")) or _text(logentry.get("message"))
    return ""


def resolve_variable(name: str, context: FingerprintContext) -> str | None:
    """The value of `{{ name }}`, a `<no-…>` placeholder when absent, None when unknown."""
    event = context.event
    exception = context.last_exception or {}
    frame = context.frame or {}
    key = name.lower()
    if key == "transaction":
        return _text(event.get("transaction")) or "<no-transaction>"
    if key in ("type", "error.type"):
        return _text(exception.get("type")) or "<no-type>"
    if key in ("value", "error.value"):
        return parameterize(_text(exception.get("value"))) or "<no-value>"
    if key.startswith("stack."):
        key = key[6:]
    if key == "function":
        return _text(frame.get("function")) or "<no-function>"
    if key == "module":
        return _text(frame.get("module")) or "<no-module>"
    if key == "package":
        return _text(frame.get("package")) or "<no-package>"
    if key == "level":
        return _text(event.get("level")) or "<no-level>"
    if key == "logger":
        return _text(event.get("logger")) or "<no-logger>"
    if key == "message":
        return _message(event) or "<no-message>"
    if key.startswith("tags."):
        tag = name[5:]
        return _tag(event, tag) or f"<no-value-for-tag-{tag}>"
    return None


def resolve_variables(value: str, context: FingerprintContext) -> str:
    """`value` with each known `{{ variable }}` replaced; unknown ones stay as written."""
    if "{{" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        resolved = resolve_variable(match.group(1), context)
        return match.group(0) if resolved is None else resolved

    return _VARIABLE.sub(substitute, value)


def fingerprint_hashes(
    fingerprint: list[str], variants: list[tuple[str, list[str]]], context: FingerprintContext
) -> list[str]:
    """One hash per default variant for hybrid fingerprints, else one hash."""
    exception_value = _text((context.last_exception or {}).get("value"))
    resolved: list[str | None] = []  # None marks where the default values go
    for raw in fingerprint:
        if is_default_marker(raw):
            resolved.append(None)
        elif exception_value and raw == exception_value:
            # SDKs often fingerprint on str(exc); its variable parts must not split the issue.
            resolved.append(parameterize(raw))
        else:
            resolved.append(resolve_variables(raw, context))

    extras = [value for value in resolved if value is not None]
    if len(extras) == len(resolved) or not variants:
        # A plain fingerprint; or a hybrid on an event whose default grouping has nothing.
        return [hash_values(extras)]
    hashes = []
    for _, default_values in variants:
        spliced: list[str] = []
        for value in resolved:
            if value is None:
                spliced.extend(default_values)
            else:
                spliced.append(value)
        hashes.append(hash_values(spliced))
    return hashes
