"""Release versions: semver parsing and the order regressions are judged by. Pure.

A release is `[package@]version`. The version is semver-like when it is 1 to 4
dot-separated numbers (major.minor.patch.revision) with an optional `-prerelease` and
`+build` (`version_key` orders them); two releases are ordered by semver when both parse (and name the same
package), otherwise by when each was first seen.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import NamedTuple

MAX_LENGTH = 200  # Release.version
MAX_NUMBER = 2**63 - 1  # the semver columns are 64-bit

_VERSION = re.compile(
    r"(\d{1,19})(?:\.(\d{1,19}))?(?:\.(\d{1,19}))?(?:\.(\d{1,19}))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?",
    re.ASCII,
)


class Version(NamedTuple):
    package: str
    major: int
    minor: int
    patch: int
    revision: int
    prerelease: str
    build: str


def parse_version(release: str) -> Version | None:
    """The semver reading of a release, or None when it is not semver-like."""
    if not isinstance(release, str) or not release or len(release) > MAX_LENGTH:
        return None
    package, _, version = release.rpartition("@")
    match = _VERSION.fullmatch(version)
    if match is None:
        return None
    major, minor, patch, revision, prerelease, build = match.groups()
    ma, mi, pa, re_ = (int(n) if n is not None else 0 for n in (major, minor, patch, revision))
    if max(ma, mi, pa, re_) > MAX_NUMBER:
        return None
    return Version(package, ma, mi, pa, re_, prerelease or "", build or "")


PrereleaseKey = tuple[int, tuple[tuple[int, int, str], ...]]
BuildKey = tuple[int, int, str]
VersionKey = tuple[int, int, int, int, PrereleaseKey, BuildKey]


def _prerelease_key(prerelease: str) -> PrereleaseKey:
    """Semver precedence: a release without prerelease sorts after any prerelease;
    numeric identifiers sort numerically and before alphanumeric ones."""
    if not prerelease:
        return (1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in prerelease.split("."))
    return (0, parts)


def _build_key(build: str) -> BuildKey:
    """Build metadata as Sentry orders it: none first, then numeric builds by number,
    then alphanumeric builds as text."""
    if not build:
        return (0, 0, "")
    if build.isdigit():
        return (1, int(build), "")
    return (2, 0, build)


def version_key(v: Version) -> VersionKey:
    """The sort key of a semver release (within one package): the one release order."""
    return (
        v.major,
        v.minor,
        v.patch,
        v.revision,
        _prerelease_key(v.prerelease),
        _build_key(v.build),
    )


LOWEST: VersionKey = (-1, -1, -1, -1, (0, ()), (0, 0, ""))


def release_key(release: str) -> VersionKey:
    """`version_key` of a release, or a key below every version's when it does not parse."""
    v = parse_version(release)
    return LOWEST if v is None else version_key(v)


def follows_semver(a: str, b: str) -> bool:
    """True when `a` and `b` are compared by semver."""
    va, vb = parse_version(a), parse_version(b)
    return va is not None and vb is not None and va.package == vb.package


def compare_releases(a: str, b: str, first_seen: Mapping[str, datetime]) -> int:
    """-1, 0 or 1 as release `a` is older than, the same as or newer than `b`.

    Semver order when both parse (same package); otherwise first-seen order, where a
    release never seen counts as newer than every seen one.
    """
    if a == b:
        return 0
    va, vb = parse_version(a), parse_version(b)
    if va is not None and vb is not None and va.package == vb.package:
        ka, kb = version_key(va), version_key(vb)
        return 0 if ka == kb else (-1 if ka < kb else 1)
    fa, fb = first_seen.get(a), first_seen.get(b)
    if fa is None and fb is None:
        return 0
    if fa is None or (fb is not None and fa > fb):
        return 1
    if fb is None or fa < fb:
        return -1
    return 0
