"""Pure grouping: a normalized event dict in, grouping hashes and issue display fields out.

Compatible with Sentry's `newstyle:2023-01-11` config: each variant's
contributing values are fed, in tree order, to MD5 with no separators. The
version is a parameter so a project keeps the grouping its issues were made with.
No Django here: this runs in the digest worker's hot loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tracehound.grouping import titles
from tracehound.grouping.config import CONFIGS, get_config
from tracehound.grouping.exceptions import exception_values, select_exceptions
from tracehound.grouping.fingerprint_rules import FingerprintRule
from tracehound.grouping.fingerprints import (
    FingerprintContext,
    fingerprint_hashes,
    fingerprint_of,
    is_default_marker,
    resolve_variables,
)
from tracehound.grouping.hashing import FALLBACK_HASH, hash_values
from tracehound.grouping.prepare import prepared_for_grouping
from tracehound.grouping.project_rules import BUILTIN_FINGERPRINTS, ProjectRules
from tracehound.grouping.strategies import ExceptionComponents, default_variants, event_platform

__all__ = [
    "DEFAULT_GROUPING_VERSION",
    "GROUPING_VERSIONS",
    "GroupingResult",
    "ProjectRules",
    "group_event",
]

DEFAULT_GROUPING_VERSION = "newstyle:2023-01-11"
GROUPING_VERSIONS: frozenset[str] = frozenset(CONFIGS)


@dataclass(slots=True, frozen=True)
class GroupingResult:
    hashes: list[str]  # 32-hex MD5s, primary first (app, then system); never empty
    title: str
    culprit: str
    # "error" (exception), "default" (message), "csp", "hpkp", "expectct", "expectstaple"
    type: str
    metadata: dict[str, Any]


def _fingerprint(
    event: dict[str, Any], rules: ProjectRules | None, has_exceptions: bool
) -> tuple[list[str] | None, FingerprintRule | None]:
    """The fingerprint to group on (None: the default grouping) and the rule that set it.

    As in Sentry, a project's first matching rule overrides an SDK fingerprint. Built-in
    rules stand in for the default grouping only: they apply when the SDK left the
    default, and a hybrid SDK fingerprint refines them as it would refine the default.
    """
    sdk = fingerprint_of(event)
    if rules is not None and rules.fingerprints:
        rule = rules.fingerprints.match(event)
        if rule is not None:
            return list(rule.fingerprint), rule
    if has_exceptions and (sdk is None or any(map(is_default_marker, sdk))):
        rule = BUILTIN_FINGERPRINTS.match(event)
        if rule is not None:
            if sdk is None:
                return list(rule.fingerprint), rule
            spliced = [
                v for raw in sdk for v in (rule.fingerprint if is_default_marker(raw) else (raw,))
            ]
            return spliced, rule
    return sdk, None


def group_event(
    event: dict[str, Any],
    version: str = DEFAULT_GROUPING_VERSION,
    *,
    rules: ProjectRules | None = None,
) -> GroupingResult:
    """Group a normalized event; raises ValueError for an unknown version.

    `rules` are the project's compiled rules (see project_rules()): its fingerprint
    rules, and its stack-trace rules, which run after the version's built-in ones.
    """
    config = get_config(version)
    event = prepared_for_grouping(event)
    platform = event_platform(event)
    exceptions = exception_values(event)
    stacktrace_rules = rules.stacktrace if rules else None
    components = ExceptionComponents(platform, config, stacktrace_rules)
    selection = select_exceptions(exceptions, components.chain_key) if exceptions else None
    variants = default_variants(event, config, components, selection)
    frame = titles.crash_frame(event, selection, platform, config, stacktrace_rules)

    fingerprint, rule = _fingerprint(event, rules, bool(exceptions))
    main = selection.main if selection is not None else None
    context = FingerprintContext(event, main, frame)
    if fingerprint is not None:
        hashes = fingerprint_hashes(fingerprint, variants, context)
    elif variants:
        hashes = [hash_values(values) for _, values in variants]
    else:
        hashes = [FALLBACK_HASH]  # events with nothing to group on share one issue
    if len(hashes) > 1:
        hashes = list(dict.fromkeys(hashes))  # app and system agree when every frame is in-app

    report = event.get("csp")
    if selection is not None:
        event_type = "error"
        title, metadata = titles.error_title_and_metadata(selection.main, frame, exceptions)
        if titles.is_synthetic_message(selection.main, event):
            # captureMessage with a stack trace (JS SDKs) sends a typeless synthetic
            # exception beside the message: the message is what the user wrote.
            title = titles.message_title(event)
            metadata["title"] = title
    elif isinstance(report, dict):
        event_type = "csp"
        title, metadata = titles.csp_title_and_metadata(event, report)
    elif (hostname_report := titles.hostname_report(event)) is not None:
        event_type = hostname_report[0]  # "hpkp", "expectstaple" or "expectct", as Sentry's
        title, metadata = titles.hostname_report_title_and_metadata(event, *hostname_report)
    else:
        event_type = "default"
        title = titles.message_title(event)
        metadata = {"title": title}
    if rule is not None and rule.title is not None:
        title = titles.truncate(resolve_variables(rule.title, context), titles.TITLE_LENGTH)
        metadata["title"] = title
    return GroupingResult(
        hashes=hashes,
        title=title,
        culprit=titles.culprit(event, frame, platform),
        type=event_type,
        metadata=metadata,
    )
