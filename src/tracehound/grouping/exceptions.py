"""Which exceptions of an event group it, and which one names it.

A plain chain (`raise B from A`) groups on every exception in it. An exception
group (`ExceptionGroup`, `AggregateError`) links its members through
`mechanism.exception_id`/`parent_id`; when all its top-level members look the
same, the group is really about that one exception, so it alone groups and
names the issue. Otherwise the whole tree groups, named by the group itself.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

Exception_ = dict[str, Any]


@dataclass(slots=True, frozen=True)
class ExceptionSelection:
    grouped: list[Exception_]  # contribute to the hash, oldest first (the order they arrived in)
    main: Exception_  # the exception the title, metadata and culprit describe


def exception_values(event: dict[str, Any]) -> list[Exception_]:
    container = event.get("exception")
    # A bare list is the legacy shape some old SDKs still send.
    values = container.get("values") if isinstance(container, dict) else container
    if not isinstance(values, list):
        return []
    return [value for value in values if isinstance(value, dict)]


def _mechanism(exception: Exception_) -> dict[str, Any]:
    mechanism = exception.get("mechanism")
    return mechanism if isinstance(mechanism, dict) else {}


def _is_group(exception: Exception_) -> bool:
    return _mechanism(exception).get("is_exception_group") is True


def select_exceptions(
    exceptions: list[Exception_], chain_key: Callable[[list[Exception_]], Hashable]
) -> ExceptionSelection:
    """`chain_key` tells whether two chains would group alike."""
    plain = ExceptionSelection(grouped=exceptions, main=exceptions[-1])
    if not any(_is_group(exception) for exception in exceptions):
        return plain
    tree = _parse_tree(exceptions)
    if tree is None:  # malformed ids: fall back to treating it as a plain chain
        return plain
    root, children = tree
    tops: list[int] = []
    _collect_top_level(root, exceptions, children, tops)
    if not tops:
        return plain
    chains = [_chain(top, children) for top in tops]
    keys = {chain_key([exceptions[i] for i in chain]) for chain in chains}
    if len(keys) == 1:
        chain = chains[0]
        return ExceptionSelection(grouped=[exceptions[i] for i in chain], main=exceptions[tops[0]])
    return ExceptionSelection(grouped=exceptions, main=exceptions[root])


def _parse_tree(exceptions: list[Exception_]) -> tuple[int, dict[int, list[int]]] | None:
    """(index of the root, parent index → child indexes), or None when the ids are inconsistent."""
    index_of: dict[int, int] = {}
    for index, exception in enumerate(exceptions):
        exception_id = _mechanism(exception).get("exception_id")
        if not isinstance(exception_id, int) or exception_id in index_of:
            return None
        index_of[exception_id] = index
    roots: list[int] = []
    children: dict[int, list[int]] = {}
    for index, exception in enumerate(exceptions):
        parent_id = _mechanism(exception).get("parent_id")
        if parent_id is None:
            roots.append(index)
        elif isinstance(parent_id, int) and parent_id in index_of:
            children.setdefault(index_of[parent_id], []).append(index)
        else:
            return None
    if len(roots) != 1:
        return None
    # Members in the group's own order (lowest exception_id first), whatever order they arrived in.
    for members in children.values():
        members.sort(key=lambda member: _mechanism(exceptions[member])["exception_id"])
    return roots[0], children


def _collect_top_level(
    index: int, exceptions: list[Exception_], children: dict[int, list[int]], out: list[int]
) -> None:
    # Each exception has one parent, so walking down from the root always ends.
    for child in children.get(index, ()):
        if _is_group(exceptions[child]):
            _collect_top_level(child, exceptions, children, out)
        else:
            out.append(child)


def _chain(top: int, children: dict[int, list[int]]) -> list[int]:
    """The top-level exception and everything below it, oldest first."""
    found = [top]
    pending = [top]
    while pending:
        for child in children.get(pending.pop(), ()):
            found.append(child)
            pending.append(child)
    return sorted(found)
