"""Release versions: which parse as semver, and how two releases are ordered."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tracehound.issues.versions import Version, compare_releases, parse_version


@pytest.mark.parametrize(
    ("release", "expected"),
    [
        ("1.2.3", Version("", 1, 2, 3, 0, "", "")),
        ("1", Version("", 1, 0, 0, 0, "", "")),
        ("1.2", Version("", 1, 2, 0, 0, "", "")),
        ("1.2.3.4", Version("", 1, 2, 3, 4, "", "")),
        ("package@1.2.3-rc.1+build", Version("package", 1, 2, 3, 0, "rc.1", "build")),
        ("@scope/app@2.0.0-beta", Version("@scope/app", 2, 0, 0, 0, "beta", "")),
        ("my.app@10.20.30+20240101.abc", Version("my.app", 10, 20, 30, 0, "", "20240101.abc")),
        ("9223372036854775807", Version("", 2**63 - 1, 0, 0, 0, "", "")),
    ],
)
def test_semver_like_releases_parse(release, expected):
    assert parse_version(release) == expected


@pytest.mark.parametrize(
    "release",
    [
        "",
        "abc123def",  # a commit sha
        "v1.2.3",  # not semver (Sentry does not strip the v)
        "1.2.3.4.5",
        "1.2.3-",
        "1.2.3+",
        "1..2",
        "1.2.3-rc!1",
        "package@",
        "9223372036854775808",  # past the 64-bit columns
        "1" * 300,
        "1.2.3\x00",
    ],
)
def test_other_releases_do_not_parse(release):
    assert parse_version(release) is None


SEEN = {
    "abc": datetime(2024, 1, 1, tzinfo=UTC),
    "def": datetime(2024, 2, 1, tzinfo=UTC),
    "1.0.0": datetime(2024, 3, 1, tzinfo=UTC),  # first seen after 2.0.0: semver still wins
    "2.0.0": datetime(2024, 1, 15, tzinfo=UTC),
}


@pytest.mark.parametrize(
    ("a", "b", "expected", "why"),
    [
        ("1.0.0", "2.0.0", -1, "semver, although 1.0.0 was first seen later"),
        ("2.0.0", "1.0.0", 1, "semver"),
        ("1.10.0", "1.9.0", 1, "numeric, not text order"),
        ("1.0.0-rc.1", "1.0.0", -1, "a prerelease precedes its release"),
        ("1.0.0-alpha", "1.0.0-alpha.1", -1, "fewer identifiers first"),
        ("1.0.0-alpha.2", "1.0.0-alpha.10", -1, "numeric identifiers numerically"),
        ("1.0.0-1", "1.0.0-alpha", -1, "numeric before alphanumeric"),
        ("1.0.0-beta", "1.0.0-alpha", 1, "alphanumeric in text order"),
        ("1.0.0+10", "1.0.0+9", 1, "numeric builds numerically"),
        ("1.0.0+abc", "1.0.0+99", 1, "an alphanumeric build above a numeric one"),
        ("1.0.0+1", "1.0.0", 1, "a numeric build above none"),
        ("1.0.0+b", "1.0.0+a", 1, "alphanumeric builds in text order"),
        ("1.0.1", "1.0.0+99", 1, "the build only decides among equal versions"),
        ("app@1.0.0", "app@1.0.1", -1, "same package: semver"),
        ("1.0.0", "1.0.0.0", 0, "missing parts are zero"),
        ("abc", "def", -1, "not semver: first seen"),
        ("def", "abc", 1, "not semver: first seen"),
        ("abc", "2.0.0", -1, "one side not semver: first seen"),
        ("new", "abc", 1, "a release never seen is newer than any seen"),
        ("a@1.0.0", "b@2.0.0", 0, "different packages, neither seen: no order"),
        ("abc", "abc", 0, "the same release"),
    ],
)
def test_releases_are_ordered_by_semver_else_by_first_seen(a, b, expected, why):
    assert compare_releases(a, b, SEEN) == expected, why
