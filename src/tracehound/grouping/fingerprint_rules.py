"""Per-project fingerprint rules in Sentry's text syntax.

    # comments and blank lines are allowed
    error.type:DatabaseUnavailable -> system-down
    error.value:"connection error: *" -> connection-error, {{ transaction }}
    logger:my.package.* level:error -> error-logger title="Error from {{ logger }}"
    stack.function:charge !app:no -> {{ default }}, payments

Every matcher of a line must hold; the matchers about frames (`stack.*`, `family`,
`app`) must all hold on one and the same frame. The first matching line wins.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tracehound.grouping.enhancers import FAMILIES, family_of
from tracehound.grouping.errors import RuleSyntaxError
from tracehound.grouping.exceptions import exception_values
from tracehound.grouping.fingerprints import tag_values
from tracehound.grouping.globs import GlobError, compile_glob
from tracehound.grouping.prepare import capped
from tracehound.grouping.strategies import event_platform, logentry_of

MAX_TEXT_LENGTH = 64 * 1024
MAX_RULES = 500
MAX_MATCHERS = 20
MAX_VALUES = 20
MAX_VALUE_LENGTH = 1000
# Frame matchers look at the first stacks only (exceptions first, then threads).
MAX_STACKS = 50

ALIASES = {
    "type": "error.type",
    "value": "error.value",
    "path": "stack.abs_path",
    "module": "stack.module",
    "function": "stack.function",
    "package": "stack.package",
}
EVENT_MATCHERS = frozenset(
    {"error.type", "error.value", "message", "logger", "level", "sdk", "release"}
)
FRAME_MATCHERS = frozenset(
    {"stack.abs_path", "stack.module", "stack.function", "stack.package", "family", "app"}
)
KNOWN_MATCHERS = sorted({*EVENT_MATCHERS, *FRAME_MATCHERS, *ALIASES, "tags.<name>"})
# How each matcher compares: (path semantics, case-insensitive).
_GLOB_STYLE = {
    "error.type": (False, False),
    "error.value": (False, True),
    "message": (False, True),
    "logger": (False, False),
    "level": (False, True),
    "sdk": (False, False),
    "release": (False, False),
    "stack.abs_path": (True, True),
    "stack.module": (False, False),
    "stack.function": (False, False),
    "stack.package": (True, True),
}
# What the frame matchers read of a frame.
_FRAME_FIELDS = ("platform", "in_app", "abs_path", "filename", "package", "module", "function")
_APP_VALUES = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}

VARIABLES = frozenset(
    {
        "default",
        "transaction",
        "type",
        "error.type",
        "value",
        "error.value",
        "function",
        "stack.function",
        "module",
        "stack.module",
        "package",
        "stack.package",
        "level",
        "logger",
        "message",
    }
)
ATTRIBUTES = frozenset({"title"})

_KEY = re.compile(r"[A-Za-z0-9_.\-]+")
_ATTRIBUTE = re.compile(r"([A-Za-z_]+)=(?=\")")
_UNQUOTED = re.compile(r"(?:\{\{[^}\n]*\}\}|[^\s,\"{])+")
_VARIABLE = re.compile(r"\{\{\s*([^}\s]*)\s*\}\}")


@dataclass(slots=True, frozen=True)
class Matcher:
    key: str  # canonical name: "error.type", "stack.function", "tags.region", ...
    pattern: str
    negated: bool
    test: Callable[[str], bool]

    def holds(self, values: Iterator[str]) -> bool:
        """Whether any of the values matches, inverted for a negated matcher."""
        found = any(self.test(value) for value in values)
        return found != self.negated


@dataclass(slots=True, frozen=True)
class FingerprintRule:
    line: int
    text: str
    matchers: tuple[Matcher, ...]
    fingerprint: tuple[str, ...]
    title: str | None = None
    is_builtin: bool = False
    # The platform families a frame must have for the rule to match (None: any); lets
    # an event skip rules for other platforms without evaluating their matchers.
    families: frozenset[str] | None = None


@dataclass(slots=True, frozen=True)
class FingerprintRules:
    rules: tuple[FingerprintRule, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.rules)

    def match(self, event: dict[str, Any]) -> FingerprintRule | None:
        """The first rule whose matchers all hold for the event."""
        if not self.rules:
            return None
        facts = EventFacts(event)
        for rule in self.rules:
            if rule.families is not None and rule.families.isdisjoint(facts.families()):
                continue
            if facts.satisfies(rule):
                return rule
        return None


# --- matching ------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


class EventFacts:
    """What the matchers look at, read from the event once."""

    __slots__ = ("_event", "_exceptions", "_families", "_frames", "_platform")

    def __init__(self, event: dict[str, Any]) -> None:
        self._event = event
        self._exceptions = exception_values(event)
        self._platform = event_platform(event)
        self._frames: list[dict[str, Any]] | None = None
        self._families: set[str] | None = None

    def families(self) -> set[str]:
        """The families a frame matcher may see (a superset: the event's is always in)."""
        if self._families is None:
            families = {family_of(self._platform)}
            for frame in self.frames():
                platform = frame.get("platform")
                if platform and platform != self._platform and isinstance(platform, str):
                    families.add(family_of(platform))
            self._families = families
        return self._families

    def values(self, key: str) -> Iterator[str]:
        event = self._event
        if key == "error.type":
            yield from _present(exception.get("type") for exception in self._exceptions)
        elif key == "error.value":
            yield from _present(exception.get("value") for exception in self._exceptions)
        elif key == "message":
            logentry = logentry_of(event) or {}
            yield from _present((logentry.get("formatted"), logentry.get("message")))
            yield from _present(exception.get("value") for exception in self._exceptions)
        elif key in ("logger", "level", "release"):
            yield from _present((event.get(key),))
        elif key == "sdk":
            sdk = event.get("sdk")
            yield from _present((sdk.get("name") if isinstance(sdk, dict) else None,))
        elif key.startswith("tags."):
            yield from _present(tag_values(event, key[5:]))

    def frames(self) -> list[dict[str, Any]]:
        """The distinct frames as the matchers see them: a deep recursion, or the same
        frames on several threads, is matched once per distinct frame."""
        if self._frames is None:
            distinct: dict[tuple[Any, ...], dict[str, Any]] = {}
            for frame in _all_frames(self._event, self._exceptions):
                view = {key: frame.get(key) for key in _FRAME_FIELDS}
                if not isinstance(view["platform"], str):
                    view["platform"] = None
                key = tuple(
                    _text(value) if key != "in_app" else value is True
                    for key, value in view.items()
                )
                distinct.setdefault(key, view)
            self._frames = list(distinct.values())
        return self._frames

    def satisfies(self, rule: FingerprintRule) -> bool:
        frame_matchers = []
        for matcher in rule.matchers:
            if matcher.key in FRAME_MATCHERS:
                frame_matchers.append(matcher)
            elif not matcher.holds(self.values(matcher.key)):
                return False
        if not frame_matchers:
            return True
        # With no frames at all, family still answers from the event's platform.
        frames = self.frames() or [{}]
        return any(
            all(self._frame_holds(matcher, frame) for matcher in frame_matchers) for frame in frames
        )

    def _frame_holds(self, matcher: Matcher, frame: dict[str, Any]) -> bool:
        key = matcher.key
        if key == "family":
            platform = _text(frame.get("platform")) or self._platform
            return matcher.holds(iter((family_of(platform),)))
        if key == "app":
            return matcher.holds(iter(("yes" if frame.get("in_app") is True else "no",)))
        if key == "stack.abs_path":
            paths = _present((frame.get("abs_path"), frame.get("filename")))
            return matcher.holds(_path_forms(paths))
        if key == "stack.package":
            return matcher.holds(_path_forms(_present((frame.get("package"),))))
        field = key[6:]  # "stack.module" → "module"
        return matcher.holds(_present((frame.get(field),)))


def family_set(value: str) -> frozenset[str] | None:
    """The families a `family:` value names; None for `all`."""
    families = {family.strip().lower() for family in value.split(",")}
    if "all" in families:
        return None
    if "other" in families:
        families.add("jvm")  # Sentry's "other" takes in the JVM platforms
    return frozenset(families)


def _present(values: Any) -> Iterator[str]:
    for value in values:
        text = _text(value)
        if text:
            yield text


def _path_forms(paths: Iterator[str]) -> Iterator[str]:
    """A path as written and, for a relative one, rooted, so `**/x.py` matches `x.py`."""
    for path in paths:
        path = path.replace("\\", "/")
        yield path
        if not path.startswith("/"):
            yield "/" + path


def _all_frames(
    event: dict[str, Any], exceptions: list[dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    """The frames of the first MAX_STACKS stacks, each cut as grouping cuts it."""
    stacks: list[Any] = [exception.get("stacktrace") for exception in exceptions]
    stacks.append(event.get("stacktrace"))
    threads = event.get("threads")
    values = threads.get("values") if isinstance(threads, dict) else None
    if isinstance(values, list):
        stacks.extend(thread.get("stacktrace") for thread in values if isinstance(thread, dict))
    for stack in stacks[:MAX_STACKS]:
        frames = capped(stack).get("frames") if isinstance(stack, dict) else None
        if isinstance(frames, list):
            yield from (frame for frame in frames if isinstance(frame, dict))


# --- parsing -------------------------------------------------------------------------


def parse_fingerprint_rules(text: str, *, builtin: bool = False) -> FingerprintRules:
    """Parse rule text; raises RuleSyntaxError naming the line and column of a mistake."""
    if not isinstance(text, str):
        raise RuleSyntaxError(1, 1, "fingerprint rules must be text")
    if len(text) > MAX_TEXT_LENGTH:
        raise RuleSyntaxError(
            1, 1, f"fingerprint rules are limited to {MAX_TEXT_LENGTH} characters"
        )
    rules: list[FingerprintRule] = []
    for number, line in enumerate(text.splitlines(), start=1):
        nul = line.find("\x00")
        if nul >= 0:
            raise RuleSyntaxError(number, nul + 1, "NUL characters are not allowed")
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if len(rules) == MAX_RULES:
            raise RuleSyntaxError(number, 1, f"at most {MAX_RULES} rules are allowed")
        rules.append(_LineParser(line, number, builtin).rule())
    return FingerprintRules(tuple(rules))


class _LineParser:
    __slots__ = ("builtin", "line", "number", "pos")

    def __init__(self, line: str, number: int, builtin: bool) -> None:
        self.line = line
        self.number = number
        self.builtin = builtin
        self.pos = 0

    def error(self, message: str, pos: int | None = None) -> RuleSyntaxError:
        return RuleSyntaxError(self.number, (self.pos if pos is None else pos) + 1, message)

    def skip_spaces(self) -> None:
        while self.pos < len(self.line) and self.line[self.pos].isspace():
            self.pos += 1

    def at_end(self) -> bool:
        return self.pos >= len(self.line)

    def rule(self) -> FingerprintRule:
        matchers: list[Matcher] = []
        while True:
            self.skip_spaces()
            if self.line.startswith("->", self.pos):
                self.pos += 2
                break
            if self.at_end():
                raise self.error("expected '->' followed by the fingerprint")
            if len(matchers) == MAX_MATCHERS:
                raise self.error(f"a rule may have at most {MAX_MATCHERS} matchers")
            matchers.append(self.matcher())
        if not matchers:
            raise self.error("expected a matcher such as error.type:ValueError before '->'", 0)
        fingerprint, title = self.fingerprint()
        families: frozenset[str] | None = None
        for matcher in matchers:
            if matcher.key == "family" and not matcher.negated:
                allowed = family_set(matcher.pattern)
                if allowed is not None:
                    families = allowed if families is None else families & allowed
        return FingerprintRule(
            line=self.number,
            text=self.line.strip(),
            matchers=tuple(matchers),
            fingerprint=tuple(fingerprint),
            title=title,
            is_builtin=self.builtin,
            families=families,
        )

    def matcher(self) -> Matcher:
        negated = self.line.startswith("!", self.pos)
        if negated:
            self.pos += 1
        start = self.pos
        found = _KEY.match(self.line, self.pos)
        if found is None:
            raise self.error("expected a matcher such as error.type:ValueError")
        name = found.group()
        self.pos = found.end()
        if not self.line.startswith(":", self.pos):
            raise self.error(f"expected ':' after the matcher name {name!r}")
        key = ALIASES.get(name, name)
        is_tag = key.startswith("tags.") and len(key) > 5
        if key not in EVENT_MATCHERS and key not in FRAME_MATCHERS and not is_tag:
            known = ", ".join(KNOWN_MATCHERS)
            raise self.error(f"unknown matcher {name!r} (known: {known})", start)
        self.pos += 1
        value_start = self.pos
        value = self.argument()
        return Matcher(key, value, negated, self.predicate(key, value, value_start))

    def argument(self) -> str:
        if self.line.startswith('"', self.pos):
            return self.quoted()
        start = self.pos
        while not self.at_end() and not self.line[self.pos].isspace():
            self.pos += 1
        value = self.line[start : self.pos]
        if not value:
            raise self.error("expected a value after ':'")
        return self.checked_length(value, start)

    def quoted(self) -> str:
        start = self.pos
        self.pos += 1
        chars: list[str] = []
        while not self.at_end():
            char = self.line[self.pos]
            if char == "\\" and self.pos + 1 < len(self.line):
                chars.append(self.line[self.pos + 1])
                self.pos += 2
                continue
            self.pos += 1
            if char == '"':
                return self.checked_length("".join(chars), start)
            chars.append(char)
        raise self.error("unterminated quoted value", start)

    def checked_length(self, value: str, start: int) -> str:
        if len(value) > MAX_VALUE_LENGTH:
            raise self.error(f"values are limited to {MAX_VALUE_LENGTH} characters", start)
        return value

    def predicate(self, key: str, value: str, start: int) -> Callable[[str], bool]:
        if key == "family":
            unknown = [f for f in value.lower().split(",") if f.strip() not in FAMILIES]
            if unknown:
                raise self.error(
                    f"unknown family {unknown[0]!r} (known: {', '.join(sorted(FAMILIES))})", start
                )
            families = family_set(value)
            return (lambda _: True) if families is None else families.__contains__
        if key == "app":
            wanted = _APP_VALUES.get(value.lower())
            if wanted is None:
                raise self.error(f"app: takes yes or no, not {value!r}", start)
            expected = "yes" if wanted else "no"
            return expected.__eq__
        path, ignore_case = _GLOB_STYLE.get(key, (False, False))
        if path:
            value = value.replace("\\", "/")  # paths are matched with `/` separators
        try:
            return compile_glob(value, path=path, ignore_case=ignore_case)
        except GlobError as exc:
            raise self.error(exc.message, start + exc.offset) from None

    def fingerprint(self) -> tuple[list[str], str | None]:
        values: list[str] = []
        title: str | None = None
        expect_value = True  # at the start, and after a comma
        while True:
            self.skip_spaces()
            if self.at_end():
                if expect_value:
                    raise self.error(
                        "expected a fingerprint value after '->'"
                        if not values
                        else "expected a value after ','"
                    )
                break
            start = self.pos
            attribute = _ATTRIBUTE.match(self.line, self.pos)
            if attribute is not None:
                name = attribute.group(1)
                if name not in ATTRIBUTES:
                    raise self.error(f"unknown attribute {name!r} (known: title)", start)
                if title is not None:
                    raise self.error("title is given twice", start)
                if not values:
                    raise self.error("expected a fingerprint value before title=", start)
                self.pos = attribute.end()
                title = self.quoted()
                self.check_variables(title, start)
                expect_value = False
                continue
            if title is not None:
                raise self.error("fingerprint values go before title=", start)
            if not expect_value:
                if self.line.startswith(",", self.pos):
                    self.pos += 1
                    expect_value = True
                    continue
                raise self.error("expected ',' between fingerprint values")
            if self.line.startswith(",", self.pos):
                raise self.error("expected a fingerprint value before ','")
            if self.line.startswith('"', self.pos):
                value = self.quoted()
            else:
                found = _UNQUOTED.match(self.line, self.pos)
                if found is None:
                    raise self.error("expected a fingerprint value (quote it if it has spaces)")
                value = self.checked_length(found.group(), start)
                self.pos = found.end()
            self.check_variables(value, start)
            if len(values) == MAX_VALUES:
                raise self.error(f"a fingerprint may have at most {MAX_VALUES} values", start)
            values.append(value)
            expect_value = False
        return values, title

    def check_variables(self, value: str, start: int) -> None:
        for found in _VARIABLE.finditer(value):
            name = found.group(1).lower()
            if name not in VARIABLES and not (name.startswith("tags.") and len(name) > 5):
                known = ", ".join(f"{{{{ {v} }}}}" for v in sorted(VARIABLES))
                raise self.error(
                    f"unknown variable {found.group(0)!r} (known: {known}, {{{{ tags.<name> }}}})",
                    start,
                )
