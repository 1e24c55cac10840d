"""Native symbol names (C, C++, Objective-C, Swift, Rust) as they group.

Symbolicators and SDKs disagree on how much of a symbol they print (return type,
arguments, template arguments, qualifiers, Rust's per-build hash); grouping keeps the
part that names the code.
"""

from __future__ import annotations

import re
from functools import lru_cache

NATIVE_PLATFORMS = frozenset({"c", "cocoa", "native", "objc", "swift"})
# `0x…` in place of a name: an unsymbolicated address.
_ADDRESS = re.compile(r"<?0x[0-9a-fA-F]+>?")
# Swift names that are phrases, not `type name`: they keep their words. The optimizer's
# prefixes come and go between builds, so they are dropped.
_SWIFT_OPTIMIZER_PREFIX = re.compile(r"^(?:(?:partial apply for|specialized|merged) )+")
_SWIFT_PHRASES = ("closure #", "implicit closure #", "reabstraction thunk", "protocol witness")
_RUST_HASH = re.compile(r"::h[0-9a-f]{16}$")
_CPP_SUFFIXES = re.compile(r"(?:\s+(?:const|volatile|noexcept|&&|&)|\s*\[(?:clone|abi:)[^\]]*\])+$")
_CPP_LAMBDA = re.compile(r"\{lambda\([^{}]*\)#\d+\}")
_CPP_OPERATOR = re.compile(r"operator(?:\(\)|\[\]|<=>|<<=?|>>=?|->\*?|<=|>=|<|>)")
_ANONYMOUS_NAMESPACE = "(anonymous namespace)"
_SWIFT_RETURN = re.compile(r"\)\s+->\s+.*$")


def trim_native_function(function: str) -> str | None:
    """A C, C++, Objective-C, Swift or Rust symbol as it groups (see `_trim`)."""
    # Symbols repeat across events and trimming one costs microseconds: cache the
    # usual ones, never the huge ones (the cache would hold them all).
    return _trim_cached(function) if len(function) <= 512 else _trim(function)


def _trim(function: str) -> str | None:
    """A C, C++, Objective-C, Swift or Rust symbol as it groups: no return type, arguments,
    template arguments, qualifiers or Rust hash; None for a bare address."""
    name = function.strip()
    if not name or _ADDRESS.fullmatch(name):
        return None
    if name[0] in "+-" and name[1:2] == "[":
        return name  # Objective-C: `-[Class selector:]` is already minimal
    name = _RUST_HASH.sub("", name)
    name = _SWIFT_RETURN.sub(")", name)
    name = _SWIFT_OPTIMIZER_PREFIX.sub("", name)
    phrase = name.startswith(_SWIFT_PHRASES)
    name = _CPP_SUFFIXES.sub("", name)
    name = _CPP_LAMBDA.sub("{lambda}", name)
    protected: list[str] = []

    def protect(match: re.Match[str]) -> str:
        protected.append(match.group(0))
        return f"\x00{len(protected) - 1}\x00"

    name = _CPP_OPERATOR.sub(protect, name.replace(_ANONYMOUS_NAMESPACE, "\x01"))
    name = _strip_arguments(name)
    name = _collapse_templates(name)
    if not phrase:
        name = _last_word(name)
    for index, text in enumerate(protected):
        name = name.replace(f"\x00{index}\x00", text)
    name = name.replace("\x01", _ANONYMOUS_NAMESPACE)
    return name or None


def _strip_arguments(name: str) -> str:
    """Drop the trailing `(…)` argument list (balanced), if any."""
    if not name.endswith(")"):
        return name
    depth = 0
    for index in range(len(name) - 1, -1, -1):
        char = name[index]
        if char == ")":
            depth += 1
        elif char == "(":
            depth -= 1
            if depth == 0:
                return name[:index].rstrip() if index else name
    return name  # unbalanced: leave it alone


def _collapse_templates(name: str) -> str:
    """`<…>` becomes `<T>`; Rust's `<impl …>` and `<X as Trait>` are kept (they name the type)."""
    if "<" not in name:
        return name
    out: list[str] = []
    depth = 0
    start = 0
    for index, char in enumerate(name):
        if char == "<":
            if depth == 0:
                start = index
            depth += 1
        elif char == ">" and depth:
            depth -= 1
            if depth == 0:
                inner = name[start + 1 : index]
                if inner.startswith("impl ") or " as " in inner:
                    out.append("<" + _collapse_templates(inner) + ">")
                else:
                    out.append("<T>")
        elif depth == 0:
            out.append(char)
    if depth:
        return name  # unbalanced: leave it alone
    return "".join(out)


def _last_word(name: str) -> str:
    """The part after the return type: the last space-separated word outside `<…>`."""
    depth = 0
    cut = 0
    for index, char in enumerate(name):
        if char == "<":
            depth += 1
        elif char == ">" and depth:
            depth -= 1
        elif char == " " and depth == 0:
            cut = index + 1
    return name[cut:]


_trim_cached = lru_cache(maxsize=8_192)(_trim)
