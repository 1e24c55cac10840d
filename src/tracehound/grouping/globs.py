"""Glob patterns of the rule languages, matched in time linear in the value.

`*` is any run of characters, `?` one character, `[abc]`/`[!abc]` a set. In path
globs `*` and `?` stop at `/` and `**` crosses it. A naive translation to a regex
backtracks exponentially on `*a*a*a*b`-style patterns, so patterns become regexes
that commit to each middle segment's earliest (or only possible) match where that is
always right, and the few path patterns where it is not (`**/a*/*.py`-style) run as a
set-of-states automaton instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable

MAX_WILDCARDS = 16

_ANY = "any"  # `*`, or `**` in a path glob
_SEGMENT = "segment"  # `*` in a path glob: anything but `/`

# One pattern element: ("star", kind) or ("char", regex for exactly one character)
_Token = tuple[str, str]


class GlobError(ValueError):
    """A pattern that cannot be used; `offset` is where in the pattern it went wrong."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


def _tokens(pattern: str, path: bool) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    stars = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            start = i
            while i < len(pattern) and pattern[i] == "*":
                i += 1
            stars += 1
            if stars > MAX_WILDCARDS:
                raise GlobError(start, f"a pattern may have at most {MAX_WILDCARDS} '*' wildcards")
            kind = _SEGMENT if path and i - start == 1 else _ANY
            if tokens and tokens[-1][0] == "star":
                # `*` next to `**` is `**`; two segment stars never occur (merged above).
                tokens[-1] = ("star", _ANY if _ANY in (kind, tokens[-1][1]) else _SEGMENT)
            else:
                tokens.append(("star", kind))
            continue
        if char == "?":
            tokens.append(("char", "[^/]" if path else "."))
        elif char == "[" and (end := _class_end(pattern, i)) > 0:
            body = pattern[i + 1 : end]
            negate = body.startswith("!")
            body = body[1:] if negate else body
            escaped = body.replace("\\", "\\\\").replace("[", "\\[").replace("^", "\\^")
            regex = f"[{'^' if negate else ''}{escaped}]"
            try:
                re.compile(regex)
            except re.error as error:
                raise GlobError(
                    i, f"invalid character set {pattern[i : end + 1]!r} ({error.msg})"
                ) from None
            tokens.append(("char", regex))
            i = end
        else:
            tokens.append(("char", re.escape(char)))
        i += 1
    return tokens


def _class_end(pattern: str, start: int) -> int:
    """The index of the `]` closing the set that opens at `start`, or -1 (a literal `[`)."""
    i = start + 1
    if i < len(pattern) and pattern[i] == "!":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1  # a `]` first in the set is a member
    end = pattern.find("]", i)
    return end


def compile_glob(
    pattern: str, *, path: bool = False, ignore_case: bool = False
) -> Callable[[str], bool]:
    """A predicate telling whether a whole value matches `pattern`."""
    tokens = _tokens(pattern.lower() if ignore_case else pattern, path)
    stars = [kind for name, kind in tokens if name == "star"]
    if not stars:
        literal = pattern.lower() if ignore_case else pattern
        if all(name == "char" and not _is_wild(regex) for name, regex in tokens):
            if ignore_case:
                return lambda value: value.lower() == literal
            return lambda value: value == literal
    linear = _linear_regex(tokens)
    if linear is not None:
        fullmatch = re.compile(linear, re.DOTALL).fullmatch
        if ignore_case:
            return lambda value: fullmatch(value.lower()) is not None
        return lambda value: fullmatch(value) is not None
    automaton = _Automaton(tokens)
    if ignore_case:
        return lambda value: automaton.matches(value.lower())
    return automaton.matches


def _is_wild(regex: str) -> bool:
    return regex in (".", "[^/]") or regex.startswith("[")


def _linear_regex(tokens: list[_Token]) -> str | None:
    """A regex committing to each middle segment's one possible or earliest place
    (an atomic group, so backtracking stays linear), or None when neither is sure."""
    segments: list[list[str]] = [[]]
    kinds: list[str] = []
    for name, value in tokens:
        if name == "star":
            kinds.append(value)
            segments.append([])
        else:
            segments[-1].append(value)
    parts = ["".join(segments[0])]
    for index, kind in enumerate(kinds):
        star = ".*" if kind == _ANY else "[^/]*"
        segment = segments[index + 1]
        if index == len(kinds) - 1:
            parts.append(star + "".join(segment))
        elif kinds[index + 1] == _ANY or (kind == _SEGMENT and _one_place(segment)):
            # Before `.*` the earliest place leaves the most room for the rest. After a
            # `[^/]*`, a segment that cannot hold `/` is best taken earliest too (what
            # it skips has no `/`, so the next `[^/]*` absorbs it), and one whose first
            # possible `/` is a literal `/` has only one place: the next `/`.
            parts.append(f"(?>{star}?{''.join(segment)})")
        else:
            return None
    return "".join(parts)


def _one_place(segment: list[str]) -> bool:
    for regex in segment:
        if regex == "/":
            return True
        if re.fullmatch(regex, "/", re.DOTALL) is not None:
            return False
    return True


class _Automaton:
    """Runs a token list over a value keeping the set of reachable token positions."""

    __slots__ = ("_chars", "_stars", "_size")

    def __init__(self, tokens: list[_Token]) -> None:
        self._size = len(tokens)
        self._stars: dict[int, str] = {i: v for i, (n, v) in enumerate(tokens) if n == "star"}
        self._chars: dict[int, Callable[[str], object]] = {
            i: re.compile(v, re.DOTALL).fullmatch for i, (n, v) in enumerate(tokens) if n == "char"
        }

    def _closure(self, states: set[int]) -> set[int]:
        pending = list(states)
        while pending:
            state = pending.pop()
            if state in self._stars and state + 1 not in states:
                states.add(state + 1)
                pending.append(state + 1)
        return states

    def matches(self, value: str) -> bool:
        states = self._closure({0})
        for char in value:
            following: set[int] = set()
            for state in states:
                star = self._stars.get(state)
                if star is not None:
                    if star == _ANY or char != "/":
                        following.add(state)
                elif state < self._size and self._chars[state](char):
                    following.add(state + 1)
            if not following:
                return False
            states = self._closure(following)
        return self._size in states
