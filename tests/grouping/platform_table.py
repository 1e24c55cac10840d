"""Table-driven grouping cases shared by the tests/grouping/test_platform_*.py files.

A case is two events shaped like what a real SDK sends, whether they must land in one
issue or two, and why. "Same issue" means they share their primary hash (Sentry looks
events up by every hash, but the primary one is what makes a new issue).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pytest

from tracehound.grouping import ProjectRules, group_event
from tracehound.grouping.enhancers import parse_enhancements


@dataclass(frozen=True)
class Case:
    reason: str
    first: dict[str, Any]
    second: dict[str, Any]
    same: bool
    project_rules: str | None = None
    # Which hash to compare: 0 is the primary one (`app` when in-app frames contribute),
    # -1 the last (`system`: every contributing frame).
    variant: int = 0


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


def pair(reason: str, event_of: Any, first: Any, second: Any, *, same: bool, **extra: Any) -> Case:
    """A case whose two events differ in one part: `event_of(first)` and `event_of(second)`."""
    return Case(reason, event_of(first), event_of(second), same, **extra)


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


def hashes(event: dict[str, Any], rules_text: str | None = None) -> list[str]:
    rules = None if rules_text is None else ProjectRules(parse_enhancements(rules_text))
    return group_event(event, rules=rules).hashes


def check(case: Case) -> None:
    first = hashes(case.first, case.project_rules)[case.variant]
    second = hashes(case.second, case.project_rules)[case.variant]
    if case.same:
        assert first == second, f"should group together: {case.reason}"
    else:
        assert first != second, f"should stay apart: {case.reason}"


def cases(table: list[Case]) -> Any:
    return pytest.mark.parametrize("case", table, ids=[case.reason for case in table])
