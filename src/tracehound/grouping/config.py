"""Grouping versions. A project keeps its version, so improving grouping never re-buckets old issues."""

from __future__ import annotations

from dataclasses import dataclass

from tracehound.grouping.enhancers import BUILTIN_2023_01_11, Enhancements

JAVASCRIPT_PLATFORMS = frozenset({"javascript", "node"})


@dataclass(slots=True, frozen=True)
class GroupingConfig:
    id: str
    # Platforms whose source lines are stable enough to group on.
    contextline_platforms: frozenset[str]
    # Sentry's built-in stack-trace rules for this version; they run before a project's own.
    builtin_rules: Enhancements
    # Longer lines are usually minified code: grouping on them splits issues.
    max_context_line_length: int = 120
    # JavaScript: group `Object.foo` and `foo` together (browsers disagree on the prefix).
    javascript_fuzzing: bool = True


NEWSTYLE_2023_01_11 = GroupingConfig(
    id="newstyle:2023-01-11",
    contextline_platforms=frozenset({"javascript", "node", "python", "php", "ruby"}),
    builtin_rules=BUILTIN_2023_01_11,
)

CONFIGS: dict[str, GroupingConfig] = {NEWSTYLE_2023_01_11.id: NEWSTYLE_2023_01_11}


def get_config(version: str) -> GroupingConfig:
    try:
        return CONFIGS[version]
    except (KeyError, TypeError):
        known = ", ".join(sorted(CONFIGS))
        raise ValueError(f"unknown grouping version {version!r} (known: {known})") from None
