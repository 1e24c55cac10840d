"""Changing a project's grouping: its rule texts and its grouping version.

Rules are validated here, before anything is saved, so digest only ever sees rule
texts that parse. A new grouping version never re-buckets old issues: the previous
version becomes the secondary one until its expiry, and digest looks up both
versions' hashes in that window (Sentry's "transition" upgrade).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from tracehound.grouping import GROUPING_VERSIONS
from tracehound.grouping.enhancers import parse_enhancements
from tracehound.grouping.errors import RuleSyntaxError
from tracehound.grouping.fingerprint_rules import parse_fingerprint_rules
from tracehound.projects.models import Project

DEFAULT_TRANSITION_DAYS = 30
MAX_TRANSITION_DAYS = 3650


class InvalidGroupingSetting(ValueError):
    """A setting that cannot be saved; `field` is its name in Sentry's project API."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Unset:
    """Marks a setting the caller leaves as it is (None means "clear" for some)."""


UNSET = Unset()


@dataclass(slots=True, frozen=True)
class GroupingChange:
    fingerprint_rules: str | Unset = UNSET
    stacktrace_rules: str | Unset = UNSET
    grouping_version: str | Unset = UNSET
    secondary_version: str | None | Unset = UNSET
    secondary_expiry: datetime | None | Unset = UNSET
    transition_days: int = DEFAULT_TRANSITION_DAYS


def check_version(field: str, version: str) -> None:
    if version not in GROUPING_VERSIONS:
        known = ", ".join(sorted(GROUPING_VERSIONS))
        raise InvalidGroupingSetting(
            field, f"unknown grouping config {version[:100]!r} (known: {known})"
        )


def validate_rules(fingerprint_text: str | Unset, stacktrace_text: str | Unset) -> None:
    """Raise InvalidGroupingSetting naming the field, line and column of a bad rule."""
    try:
        if isinstance(fingerprint_text, str):
            parse_fingerprint_rules(fingerprint_text)
    except RuleSyntaxError as exc:
        raise InvalidGroupingSetting("fingerprintingRules", str(exc)) from None
    try:
        if isinstance(stacktrace_text, str):
            parse_enhancements(stacktrace_text)
    except RuleSyntaxError as exc:
        raise InvalidGroupingSetting("groupingEnhancements", str(exc)) from None


@transaction.atomic
def change_project_grouping(project: Project, change: GroupingChange) -> Project:
    """Validate and save `change`; raises InvalidGroupingSetting and then saves nothing."""
    validate_rules(change.fingerprint_rules, change.stacktrace_rules)
    for field, version in (
        ("groupingConfig", change.grouping_version),
        ("secondaryGroupingConfig", change.secondary_version),
    ):
        if isinstance(version, str) and version:
            check_version(field, version)
    if not 0 <= change.transition_days <= MAX_TRANSITION_DAYS:
        raise InvalidGroupingSetting(
            "transitionDays", f"must be between 0 and {MAX_TRANSITION_DAYS} days"
        )

    # Lock the row: two saves at once must not both move the old version to secondary.
    locked = Project.objects.select_for_update().get(pk=project.pk)
    fields: list[str] = []
    if isinstance(change.fingerprint_rules, str):
        locked.fingerprint_rules = change.fingerprint_rules
        fields.append("fingerprint_rules")
    if isinstance(change.stacktrace_rules, str):
        locked.stacktrace_rules = change.stacktrace_rules
        fields.append("stacktrace_rules")
    new_version = change.grouping_version
    if isinstance(new_version, str) and new_version != locked.grouping_version:
        if change.transition_days > 0:
            locked.secondary_grouping_version = locked.grouping_version
            locked.secondary_grouping_expiry = timezone.now() + timedelta(
                days=change.transition_days
            )
        else:
            locked.secondary_grouping_version = ""
            locked.secondary_grouping_expiry = None
        locked.grouping_version = new_version
        fields += ["grouping_version", "secondary_grouping_version", "secondary_grouping_expiry"]
    # Explicit secondary settings (Sentry's project API has them) win over the defaults.
    if not isinstance(change.secondary_version, Unset):
        locked.secondary_grouping_version = change.secondary_version or ""
        fields.append("secondary_grouping_version")
    if not isinstance(change.secondary_expiry, Unset):
        locked.secondary_grouping_expiry = change.secondary_expiry
        fields.append("secondary_grouping_expiry")
    if fields:
        locked.save(update_fields=sorted(set(fields)))
    return locked
