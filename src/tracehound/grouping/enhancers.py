"""Sentry's stack-trace rules ("grouping enhancements"): the parser and the engine.

The syntax is the one documented at docs.sentry.io ("Stack Trace Rules"): one
rule a line, matchers then actions, `#` starts a comment::

    family:native stack.function:std::* -app
    stack.abs_path:**/node_modules/** -app
    [ category:telemetry ] | app:yes -group
    stack.function:core::panicking::begin_panic ^-app -app ^-group -group
    family:native max-frames=3

Matchers: `stack.function` (`function`), `stack.module` (`module`),
`stack.abs_path` (`path`), `stack.package` (`package`), `family`, `category`,
`app`, and on the exception `error.type` (`type`), `error.value` (`value`),
`error.mechanism` (`mechanism`); `!` negates, values may be quoted. Actions:
`[^|v][+|-](app|group)` and `category=`, `max-frames=`, `min-frames=`.

Frames are oldest first (the crash is the last frame), so `^` ("above, toward
the crash") means later frames and `v` earlier ones; a caller (`[ ... ] |`) is
the previous frame, a callee (`| [ ... ]`) the next one.

Globs compile to anchored regexes without nested quantifiers; a wildcard
followed by a literal is matched atomically at its leftmost occurrence
wherever that cannot lose a match, so hostile patterns and frames cannot make
matching explode.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any, Protocol

from tracehound.grouping.errors import RuleSyntaxError
from tracehound.grouping.native import NATIVE_PLATFORMS, trim_native_function

__all__ = [
    "Enhancements",
    "FrameStates",
    "StacktraceRuleSource",
    "family_of",
    "parse_builtin_rules",
    "parse_enhancements",
]

MAX_TEXT_LENGTH = 100_000
MAX_LINE_LENGTH = 2_000
MAX_RULES = 1_000
MAX_TOKENS_PER_RULE = 50
MAX_WILDCARDS = 16
MAX_BACKTRACKING_WILDCARDS = 1
MAX_FRAMES_VALUE = 10_000
# Frame fields longer than this are matched on their first characters only (no real
# function name or path is this long; normalization trims them well below anyway).
MAX_SUBJECT_LENGTH = 2_048
_CACHE_SIZE = 20_000

JAVASCRIPT_PLATFORMS = frozenset({"javascript", "node"})
JVM_PLATFORMS = frozenset({"java"})  # Kotlin, Scala and Clojure SDKs send "java" too
FAMILIES = frozenset({"native", "javascript", "jvm", "other", "all"})


def family_of(platform: str) -> str:
    if platform in NATIVE_PLATFORMS:
        return "native"
    if platform in JAVASCRIPT_PLATFORMS:
        return "javascript"
    if platform in JVM_PLATFORMS:
        return "jvm"
    return "other"


class StacktraceRuleSource(Protocol):
    """What `group_event` needs from a project's compiled rules (`ProjectRules`)."""

    @property
    def stacktrace(self) -> Enhancements | None: ...


# --- globs -------------------------------------------------------------------------

_ANY = ".*"
_NO_SLASH = "[^/]*"


def _compile_glob(pattern: str, *, path: bool, ignore_case: bool) -> re.Pattern[str]:
    """`*` matches anything (in paths: anything but `/`, and `**` anything); `?` one character."""
    if path:
        pattern = pattern.replace("\\", "/")
    # Split into literal segments and the wildcards between them.
    segments: list[str] = []
    slashes: list[bool] = []  # whether each segment holds a literal `/`
    wildcards: list[str] = []
    literal: list[str] = []
    i = 0
    length = len(pattern)
    while i < length:
        char = pattern[i]
        if char == "*":
            run = 1
            while i + run < length and pattern[i + run] == "*":
                run += 1
            segments.append("".join(literal))
            slashes.append("/" in pattern[i - len(literal) : i] if literal else False)
            wildcards.append(_NO_SLASH if path and run == 1 else _ANY)
            literal = []
            i += run
            continue
        literal.append(("[^/]" if path else ".") if char == "?" else re.escape(char))
        i += 1
    segments.append("".join(literal))
    slashes.append(False)
    if len(wildcards) > MAX_WILDCARDS:
        raise ValueError(f"too many wildcards (at most {MAX_WILDCARDS})")

    parts = ["\\A", segments[0]]
    backtracking = 0
    for index, wildcard in enumerate(wildcards):
        segment = segments[index + 1]
        last = index == len(wildcards) - 1
        if last:
            parts.append(wildcard + segment)
            continue
        following = wildcards[index + 1]
        # Taking the leftmost occurrence of a fixed-length segment never loses a match
        # when what follows can absorb the text skipped to reach a later one: `.*`
        # always can; `[^/]*` can when this wildcard and segment cannot hold a `/`.
        if following == _ANY or (wildcard == _NO_SLASH and not slashes[index + 1]):
            parts.append(f"(?>{wildcard}?{segment})")
        else:
            backtracking += 1
            parts.append(wildcard + segment)
    if backtracking > MAX_BACKTRACKING_WILDCARDS:
        raise ValueError("pattern too complex (too many `**` before `/…*`)")
    parts.append("\\Z")
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("".join(parts), flags)


# --- matchers ---------------------------------------------------------------------

_FRAME_KEYS = {
    "stack.function": "function",
    "function": "function",
    "stack.module": "module",
    "module": "module",
    "stack.abs_path": "path",
    "path": "path",
    "stack.package": "package",
    "package": "package",
    "family": "family",
    "category": "category",
    "app": "app",
}
_EXCEPTION_KEYS = {
    "error.type": "type",
    "type": "type",
    "error.value": "value",
    "value": "value",
    "error.mechanism": "mechanism",
    "mechanism": "mechanism",
}
_APP_VALUES = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}
_STATIC_FIELDS = frozenset({"function", "module", "path", "package", "family"})

# A frame as the static matchers see it: family, function, module, paths, package.
_FrameKey = tuple[str, tuple[str, ...], str | None, tuple[str, ...], str | None]


@dataclass(slots=True, frozen=True)
class Matcher:
    field: str
    negated: bool
    raw: str
    regex: re.Pattern[str] | None = None
    families: frozenset[str] = frozenset()
    app: bool = False
    # The longest wildcard-free run of the glob (lowercase for paths): a cheap first test.
    literal: str = ""

    @property
    def is_static(self) -> bool:
        return self.field in _STATIC_FIELDS

    def _positive_static(self, key: _FrameKey) -> bool:
        family, functions, module, paths, package = key
        if self.field == "family":
            return (
                "all" in self.families
                or family in self.families
                or (family == "jvm" and "other" in self.families)
            )
        regex = self.regex
        assert regex is not None
        literal = self.literal
        if self.field == "function":
            return any(
                literal in function and regex.match(function) is not None for function in functions
            )
        if self.field == "module":
            return module is not None and literal in module and regex.match(module) is not None
        if self.field == "package":
            return package is not None and literal in package and _path_matches(regex, package)
        return any(literal in value and _path_matches(regex, value) for value in paths)

    def matches_static(self, key: _FrameKey) -> bool:
        return self._positive_static(key) != self.negated

    def matches_state(self, states: FrameStates, index: int) -> bool:
        if self.field == "app":
            hit = states.in_app[index] == self.app
        else:
            category = states.category[index]
            assert self.regex is not None
            hit = category is not None and self.regex.match(category) is not None
        return hit != self.negated

    def matches_exception(self, exception: dict[str, Any] | None) -> bool:
        value: Any = None
        if exception is not None:
            if self.field == "mechanism":
                mechanism = exception.get("mechanism")
                value = mechanism.get("type") if isinstance(mechanism, dict) else None
            else:
                value = exception.get(self.field)
        assert self.regex is not None
        hit = isinstance(value, str) and self.regex.match(value[:MAX_SUBJECT_LENGTH]) is not None
        return hit != self.negated


def _path_matches(regex: re.Pattern[str], value: str) -> bool:
    # Relative paths still match a leading `**/` (documented).
    return regex.match(value) is not None or (
        not value.startswith("/") and regex.match("/" + value) is not None
    )


# --- rules ------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class FlagAction:
    flag: str  # "app" or "group"
    value: bool
    range: str  # "" (the frame), "^" (frames toward the crash) or "v" (frames away from it)


@dataclass(slots=True, frozen=True)
class Rule:
    line: int
    matchers: tuple[Matcher, ...]
    caller: tuple[Matcher, ...] | None
    callee: tuple[Matcher, ...] | None
    flags: tuple[FlagAction, ...]
    category: str | None
    max_frames: int | None
    min_frames: int | None
    # Sentry's own defaults leave an in_app flag the SDK set alone; project rules override it.
    overrides_client_in_app: bool = True

    @property
    def exception_matchers(self) -> tuple[Matcher, ...]:
        return tuple(m for m in self.matchers if m.field in _EXCEPTION_VALUES)


_EXCEPTION_VALUES = frozenset(_EXCEPTION_KEYS.values())


@dataclass(slots=True)
class FrameStates:
    """Per frame: in-app, contributes to grouping, category; plus the stack's frame limits."""

    in_app: list[bool]
    client_set: list[bool]  # whether the SDK said in_app: True or False
    contributes: list[bool]
    category: list[str | None]
    max_frames: int = 0  # 0: all frames
    min_frames: int = 0

    @classmethod
    def of(cls, frames: list[dict[str, Any]]) -> FrameStates:
        flags = [frame.get("in_app") for frame in frames]
        return cls(
            in_app=[flag is True for flag in flags],
            client_set=[flag is True or flag is False for flag in flags],
            contributes=[True] * len(frames),
            category=[None] * len(frames),
        )


@dataclass(slots=True, frozen=True)
class _Pattern:
    static: tuple[Matcher, ...]
    dynamic: tuple[Matcher, ...]
    families: frozenset[str] | None  # the family matcher's set when it is positive


def _split(matchers: tuple[Matcher, ...]) -> _Pattern:
    dynamic = tuple(m for m in matchers if m.field in ("app", "category"))
    families: frozenset[str] | None = None
    static: list[Matcher] = []
    for matcher in matchers:
        if matcher.field == "family" and not matcher.negated:
            # Positive family matchers decide which bucket of patterns a frame tries.
            if "all" not in matcher.families:
                wanted = matcher.families | ({"jvm"} if "other" in matcher.families else set())
                families = wanted if families is None else families & wanted
        elif matcher.is_static:
            static.append(matcher)
    return _Pattern(tuple(static), dynamic, families)


class Enhancements:
    """A parsed rule set; `apply` runs it over one stack trace."""

    def __init__(self, rules: list[Rule], text: str = "") -> None:
        self.rules = tuple(rules)
        self.text = text
        count = len(self.rules)
        # Pattern ids: rule i's own matchers are pattern i; callers and callees follow.
        patterns = [_split(rule.matchers) for rule in self.rules]
        self._caller_ids: list[int | None] = []
        self._callee_ids: list[int | None] = []
        for rule in self.rules:
            for neighbour, ids in (
                (rule.caller, self._caller_ids),
                (rule.callee, self._callee_ids),
            ):
                if neighbour is None:
                    ids.append(None)
                else:
                    ids.append(len(patterns))
                    patterns.append(_split(neighbour))
        self._patterns = tuple(patterns)
        self._rule_count = count
        self._exception = tuple(rule.exception_matchers for rule in self.rules)
        self._by_family: dict[str, tuple[int, ...]] = {
            family: tuple(
                index
                for index, pattern in enumerate(self._patterns)
                if pattern.families is None or family in pattern.families
            )
            for family in ("native", "javascript", "jvm", "other")
        }
        self._cache: dict[tuple[Any, ...], frozenset[int]] = {}

    def __len__(self) -> int:
        return len(self.rules)

    def __bool__(self) -> bool:
        return bool(self.rules)

    def _static_matches(self, frame: dict[str, Any], family: str) -> frozenset[int]:
        get = frame.get
        raw = (
            family,
            get("function"),
            get("module"),
            get("abs_path"),
            get("filename"),
            get("package"),
        )
        try:
            found = self._cache.get(raw)
        except TypeError:  # an unhashable value where a string belongs: match, never cache
            return self._evaluate(raw)
        if found is None:
            found = self._evaluate(raw)
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            self._cache[raw] = found
        return found

    def _evaluate(self, raw: tuple[Any, ...]) -> frozenset[int]:
        family, function, module, abs_path, filename, package = raw
        functions: tuple[str, ...] = ()
        name = _subject(function)
        if name is not None:
            functions = (name,)
            if family == "native":
                # Rules name native functions with or without arguments, templates, hash.
                trimmed = trim_native_function(name)
                if trimmed and trimmed != name:
                    functions = (name, trimmed)
        paths = tuple(
            path for path in (_subject(abs_path, path=True), _subject(filename, path=True)) if path
        )  # lowercase: path globs ignore case
        key: _FrameKey = (family, functions, _subject(module), paths, _subject(package, path=True))
        patterns = self._patterns
        return frozenset(
            index
            for index in self._by_family[family]
            if all(matcher.matches_static(key) for matcher in patterns[index].static)
        )

    def apply(
        self,
        frames: list[dict[str, Any]],
        platform: str,
        exception: dict[str, Any] | None = None,
        states: FrameStates | None = None,
    ) -> FrameStates:
        """Run the rules top to bottom over `frames` (oldest first); returns the frame states."""
        if states is None:
            states = FrameStates.of(frames)
        if not self.rules or not frames:
            return states
        family = family_of(platform)
        by_family = self._by_family
        if not by_family[family] and not any("platform" in frame for frame in frames):
            return states  # no rule can match this stack
        matched = [self._static_matches(frame, _frame_family(frame, family)) for frame in frames]
        count = self._rule_count
        candidates = sorted(
            (rule, index) for index, ids in enumerate(matched) for rule in ids if rule < count
        )
        exception_ok: dict[int, bool] = {}
        patterns = self._patterns
        last = len(frames) - 1
        for rule_index, index in candidates:
            ok = exception_ok.get(rule_index)
            if ok is None:
                ok = all(m.matches_exception(exception) for m in self._exception[rule_index])
                exception_ok[rule_index] = ok
            if not ok:
                continue
            if not all(m.matches_state(states, index) for m in patterns[rule_index].dynamic):
                continue
            caller = self._caller_ids[rule_index]
            if caller is not None and not (
                index > 0
                and caller in matched[index - 1]
                and all(m.matches_state(states, index - 1) for m in patterns[caller].dynamic)
            ):
                continue
            callee = self._callee_ids[rule_index]
            if callee is not None and not (
                index < last
                and callee in matched[index + 1]
                and all(m.matches_state(states, index + 1) for m in patterns[callee].dynamic)
            ):
                continue
            _act(self.rules[rule_index], states, index, last)
        return states


def _frame_family(frame: dict[str, Any], family: str) -> str:
    platform = frame.get("platform")
    return family_of(platform) if isinstance(platform, str) else family


def _act(rule: Rule, states: FrameStates, index: int, last: int) -> None:
    for action in rule.flags:
        if action.range == "^":
            targets: range = range(index + 1, last + 1)
        elif action.range == "v":
            targets = range(0, index)
        else:
            targets = range(index, index + 1)
        if action.flag == "group":
            for target in targets:
                states.contributes[target] = action.value
        else:
            for target in targets:
                if rule.overrides_client_in_app or not states.client_set[target]:
                    states.in_app[target] = action.value
    if rule.category is not None:
        states.category[index] = rule.category
    if rule.max_frames is not None:
        states.max_frames = rule.max_frames
    if rule.min_frames is not None:
        states.min_frames = rule.min_frames


def _subject(value: Any, *, path: bool = False) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    text = value[:MAX_SUBJECT_LENGTH]
    return text.replace("\\", "/").lower() if path else text


# --- parser -----------------------------------------------------------------------

_FLAG_ACTION = re.compile(r"([\^v]?)([+-])(app|group)\Z")
_VARIABLES = frozenset({"category", "max-frames", "min-frames"})
_CATEGORY_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}\Z")


@dataclass(slots=True)
class _Token:
    text: str
    column: int  # 1-based
    kind: str  # "word", "[", "]", "|"
    quoted_value: str | None = None  # `key:"…"`: the unescaped value


@dataclass(slots=True)
class _Parser:
    line: int
    text: str
    tokens: list[_Token] = field(default_factory=list)

    def error(self, column: int, message: str) -> RuleSyntaxError:
        return RuleSyntaxError(self.line, column, message)

    def tokenize(self) -> None:
        text = self.text
        i = 0
        length = len(text)
        while i < length:
            char = text[i]
            if char in " \t\r\f\v":
                i += 1
                continue
            if char == "#":
                return
            if char in "[]|":
                self.tokens.append(_Token(char, i + 1, char))
                i += 1
                continue
            start = i
            quoted: str | None = None
            while i < length and text[i] not in " \t\r\f\v[]|":
                if text[i] == '"':
                    i, quoted = self._quoted(i, start)
                    break
                i += 1
            self.tokens.append(_Token(text[start:i], start + 1, "word", quoted))
            if len(self.tokens) > MAX_TOKENS_PER_RULE:
                raise self.error(
                    start + 1, f"too many matchers and actions (at most {MAX_TOKENS_PER_RULE})"
                )

    def _quoted(self, quote: int, start: int) -> tuple[int, str]:
        text = self.text
        if quote == start or text[quote - 1] != ":":
            raise self.error(quote + 1, 'a quote may only start a value (`key:"…"`)')
        out: list[str] = []
        i = quote + 1
        while i < len(text):
            char = text[i]
            if char == "\\" and i + 1 < len(text):
                out.append(text[i + 1])
                i += 2
                continue
            if char == '"':
                end = i + 1
                if end < len(text) and text[end] not in " \t\r\f\v[]|":
                    raise self.error(end + 1, "expected a space after the closing quote")
                return end, "".join(out)
            out.append(char)
            i += 1
        raise self.error(quote + 1, "unterminated quote")

    def parse(self) -> Rule | None:
        self.tokenize()
        tokens = self.tokens
        if not tokens:
            return None
        position = 0
        caller: tuple[Matcher, ...] | None = None
        callee: tuple[Matcher, ...] | None = None
        if tokens[0].kind == "[":
            caller, position = self._group(position)
            if position >= len(tokens) or tokens[position].kind != "|":
                column = tokens[position].column if position < len(tokens) else len(self.text) + 1
                raise self.error(column, "expected `|` after the caller `[ … ]`")
            position += 1
        matchers: list[Matcher] = []
        while position < len(tokens) and tokens[position].kind == "word":
            token = tokens[position]
            if _is_action(token.text) or token.text[0] in "+-^":
                break
            matchers.append(self._matcher(token))
            position += 1
        if position < len(tokens) and tokens[position].kind == "|":
            position += 1
            if position >= len(tokens) or tokens[position].kind != "[":
                column = tokens[position].column if position < len(tokens) else len(self.text) + 1
                raise self.error(column, "expected `[ … ]` (the callee) after `|`")
            callee, position = self._group(position)
        if not matchers and caller is None and callee is None:
            raise self.error(
                tokens[0].column, "a rule needs at least one matcher before its actions"
            )
        flags: list[FlagAction] = []
        variables: dict[str, Any] = {}
        if position >= len(tokens):
            raise self.error(len(self.text.rstrip()) + 1, "a rule needs at least one action")
        for token in tokens[position:]:
            if token.kind != "word":
                raise self.error(token.column, f"unexpected `{token.text}` among the actions")
            self._action(token, flags, variables)
        return Rule(
            line=self.line,
            matchers=tuple(matchers),
            caller=caller,
            callee=callee,
            flags=tuple(flags),
            category=variables.get("category"),
            max_frames=variables.get("max-frames"),
            min_frames=variables.get("min-frames"),
        )

    def _group(self, position: int) -> tuple[tuple[Matcher, ...], int]:
        tokens = self.tokens
        opening = tokens[position]
        position += 1
        matchers: list[Matcher] = []
        while (
            position < len(tokens)
            and tokens[position].kind == "word"
            and not _is_action(tokens[position].text)
        ):
            matchers.append(self._matcher(tokens[position]))
            position += 1
        if position >= len(tokens) or tokens[position].kind != "]":
            raise self.error(opening.column, "`[` without a matching `]`")
        if not matchers:
            raise self.error(opening.column, "`[ ]` needs at least one matcher")
        return tuple(matchers), position + 1

    def _matcher(self, token: _Token) -> Matcher:
        text = token.text
        negated = text.startswith("!")
        body = text[1:] if negated else text
        key, colon, raw_value = body.partition(":")
        if not colon:
            raise self.error(token.column, f"expected `key:value` or an action, got `{text}`")
        value = token.quoted_value if token.quoted_value is not None else raw_value
        if key not in _FRAME_KEYS and key not in _EXCEPTION_KEYS:
            raise self.error(token.column, f"unknown matcher `{key}`")
        value_column = token.column + len(text) - len(raw_value)
        if not value:
            if self.text.startswith("[", value_column - 1):
                raise self.error(
                    value_column,
                    f"`{key}:` needs a value: an unquoted '[' starts a `[ … ]` group here;"
                    f' quote a value holding it (`{key}:"[…]"`)',
                )
            raise self.error(value_column, f"`{key}:` needs a value")
        field_name = _FRAME_KEYS.get(key) or _EXCEPTION_KEYS[key]
        if field_name == "family":
            families = frozenset(part.strip() for part in value.split(","))
            unknown = sorted(families - FAMILIES)
            if unknown:
                known = ", ".join(sorted(FAMILIES))
                raise self.error(value_column, f"unknown family `{unknown[0]}` (known: {known})")
            return Matcher("family", negated, value, families=families)
        if field_name == "app":
            app = _APP_VALUES.get(value.lower())
            if app is None:
                raise self.error(value_column, "`app:` takes yes or no")
            return Matcher("app", negated, value, app=app)
        path = field_name in ("path", "package")
        ignore_case = path or field_name == "value"
        try:
            regex = _compile_glob(value, path=path, ignore_case=ignore_case)
        except ValueError as error:
            raise self.error(value_column, str(error)) from None
        runs = re.split(r"[*?]", value.replace("\\", "/") if path else value)
        # A relative path also matches a leading `**/` with the `/` it lacks: a path's
        # literal drops its leading `/` to stay a substring of every path that matches.
        literal = max(runs, key=len).lstrip("/") if path else max(runs, key=len)
        return Matcher(
            field_name, negated, value, regex=regex, literal=literal.lower() if path else literal
        )

    def _action(self, token: _Token, flags: list[FlagAction], variables: dict[str, Any]) -> None:
        text = token.text
        flag = _FLAG_ACTION.match(text)
        if flag is not None:
            flags.append(FlagAction(flag.group(3), flag.group(2) == "+", flag.group(1)))
            return
        name, equals, value = text.partition("=")
        if not equals:
            if ":" in text:
                raise self.error(token.column, "matchers must come before the actions")
            raise self.error(token.column, f"unknown action `{text}`")
        if name not in _VARIABLES:
            raise self.error(
                token.column, f"unknown variable `{name}` (known: category, max-frames, min-frames)"
            )
        value_column = token.column + len(name) + 1
        if name == "category":
            if not _CATEGORY_NAME.match(value):
                raise self.error(value_column, "a category is letters, digits, `_`, `.` or `-`")
            variables[name] = value
            return
        if not value.isascii() or not value.isdigit() or int(value) > MAX_FRAMES_VALUE:
            raise self.error(value_column, f"`{name}` takes a number from 0 to {MAX_FRAMES_VALUE}")
        variables[name] = int(value)


def _is_action(text: str) -> bool:
    if _FLAG_ACTION.match(text):
        return True
    name, equals, _ = text.partition("=")
    return bool(equals) and ":" not in name


def parse_enhancements(text: str) -> Enhancements:
    """Parse rule text; raises RuleSyntaxError naming the line and column of the first error."""
    if not isinstance(text, str):
        raise RuleSyntaxError(1, 1, "rules must be text")
    if len(text) > MAX_TEXT_LENGTH:
        raise RuleSyntaxError(1, 1, f"rules are at most {MAX_TEXT_LENGTH} characters")
    rules: list[Rule] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if "\x00" in line:
            raise RuleSyntaxError(number, line.index("\x00") + 1, "NUL character")
        if len(line) > MAX_LINE_LENGTH:
            raise RuleSyntaxError(number, 1, f"a line is at most {MAX_LINE_LENGTH} characters")
        rule = _Parser(number, line).parse()
        if rule is None:
            continue
        if len(rules) >= MAX_RULES:
            raise RuleSyntaxError(number, 1, f"at most {MAX_RULES} rules")
        rules.append(rule)
    return Enhancements(rules, text)


_OVERRIDE_MARKER = "#! rules below override the SDK's in_app"


def parse_builtin_rules(text: str) -> Enhancements:
    """Built-in rules: those above the marker line leave an SDK-set in_app alone."""
    marker = len(text) + 1
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() == _OVERRIDE_MARKER:
            marker = number
            break
    parsed = parse_enhancements(text)
    rules = [
        rule if rule.line > marker else replace(rule, overrides_client_in_app=False)
        for rule in parsed.rules
    ]
    return Enhancements(rules, text)


def _load_builtin() -> Enhancements:
    text = resources.files("tracehound.grouping").joinpath("builtin_rules.txt").read_text("utf-8")
    return parse_builtin_rules(text)


# Sentry's `all-platforms@2023-01-11` behaviour, parsed once at import.
BUILTIN_2023_01_11 = _load_builtin()
