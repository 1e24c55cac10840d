"""Table-driven grouping cases shared by the tests/grouping/test_platform_*.py files.

A case is two events shaped like what a real SDK sends, whether they must land in one
issue or two, and why. "Same issue" means they share their primary hash (Sentry looks
events up by every hash, but the primary one is what makes a new issue).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import pytest

from tracehound.grouping import group_event


@dataclass(frozen=True)
class Case:
    reason: str
    first: dict[str, Any]
    second: dict[str, Any]
    same: bool
    project_rules: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProjectRules:
    stacktrace: Any


def error_event(
    platform: str,
    exc_type: str,
    value: str,
    frames: list[dict[str, Any]],
    *,
    mechanism: dict[str, Any] | None = None,
    **top: Any,
) -> dict[str, Any]:
    exception: dict[str, Any] = {
        "type": exc_type,
        "value": value,
        "stacktrace": {"frames": copy.deepcopy(frames)},
    }
    if mechanism is not None:
        exception["mechanism"] = mechanism
    return {"platform": platform, "exception": {"values": [exception]}, **top}


def crash_event(platform: str, frames: list[dict[str, Any]], **top: Any) -> dict[str, Any]:
    """A native crash: a signal, and the crashed thread's stack."""
    return {
        "platform": platform,
        "exception": {
            "values": [
                {
                    "type": "EXC_BAD_ACCESS",
                    "value": "KERN_INVALID_ADDRESS at 0x0000000000000010",
                    "mechanism": {"type": "mach", "synthetic": True, "handled": False},
                    "stacktrace": {"frames": copy.deepcopy(frames)},
                }
            ]
        },
        **top,
    }


def primary(event: dict[str, Any], rules_text: str | None = None) -> str:
    rules = None
    if rules_text is not None:
        from tracehound.grouping.enhancers import parse_enhancements

        rules = ProjectRules(parse_enhancements(rules_text))
    return group_event(event, rules=rules).hashes[0]


def check(case: Case) -> None:
    first = primary(case.first, case.project_rules)
    second = primary(case.second, case.project_rules)
    if case.same:
        assert first == second, f"should group together: {case.reason}"
    else:
        assert first != second, f"should stay apart: {case.reason}"


def cases(table: list[Case]) -> Any:
    return pytest.mark.parametrize("case", table, ids=[case.reason for case in table])
