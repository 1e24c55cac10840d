"""Variable parts of messages become placeholders so that they group together."""

import pytest

from tracehound.grouping.parameterize import parameterize

CASES = [
    ("user 42 not found", "user <int> not found"),
    ("mail to bob.smith+test@example.com bounced", "mail to <email> bounced"),
    ("GET https://api.example.com/v1/users?id=3 failed", "GET <url> failed"),
    ("connect to api.example.com timed out", "connect to <hostname> timed out"),
    ("connect to 10.0.0.12 refused", "connect to <ip> refused"),
    ("connect to 10.0.0.12:5432 refused", "connect to <ip>:<int> refused"),
    ("peer fe80::1ff:fe23:4567:890a gone", "peer <ip> gone"),
    ("peer ::1 gone", "peer <ip> gone"),
    ("trace 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "trace <traceparent>"),
    ("order 550e8400-e29b-41d4-a716-446655440000 missing", "order <uuid> missing"),
    ("blob 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12 missing", "blob <sha1> missing"),
    ("etag d41d8cd98f00b204e9800998ecf8427e stale", "etag <md5> stale"),
    ("expired at 2023-01-11T10:00:00Z", "expired at <date>"),
    ("expired at 2023-01-11 10:00:00.123+00:00", "expired at <date>"),
    ("expired on 2023-01-11", "expired on <date>"),
    ("expired Wed, 11 Jan 2023 10:00:00 GMT", "expired <date>"),
    ("expired Wednesday, 11-Jan-23 10:00:00 GMT", "expired <date>"),
    ("expired Wed Jan 11 2023 10:00:00 GMT+0000 (Coordinated Universal Time)", "expired <date>"),
    ("expired Wed Jan 11 10:00:00 2023", "expired <date>"),
    ("closes at 3:04PM", "closes at <date>"),
    ("started 10:00:00", "started <date>"),
    ("took 150ms", "took <duration>"),
    ("took 1.5s", "took <duration>"),
    ("retry in 3 seconds", "retry in <duration>"),
    ("segfault at 0x7fff5fbff8a0", "segfault at <hex>"),
    ("token abcdef0123456789 rejected", "token <hex> rejected"),
    ("TOKEN ABCDEF0123456789 REJECTED", "TOKEN <hex> REJECTED"),
    ("account 123456789 locked", "account <int> locked"),
    ("deployed abc1234", "deployed <git_sha>"),
    ("ratio 0.75 too high", "ratio <float> too high"),
    ("balance -3 below zero", "balance <int> below zero"),
    ("Item 5.", "Item <int>."),
    ("page 3/4", "page <int>/<int>"),
    ('name="hello" retry=true strict=False', "name=<quoted_str> retry=<bool> strict=<bool>"),
    ("name='hello'", "name=<quoted_str>"),
]

UNCHANGED = [
    "version 1.2.3 is required",
    "mymodule.views failed",
    "abc123 is not a number",
    "say 'hello' to everyone",
    "it is true",
    "plain words only",
    "<p> is not allowed",
]


@pytest.mark.parametrize(("message", "expected"), CASES)
def test_variable_parts_become_placeholders(message, expected):
    assert parameterize(message) == expected


@pytest.mark.parametrize("message", UNCHANGED)
def test_ordinary_words_are_left_alone(message):
    assert parameterize(message) == message


def test_the_result_is_trimmed():
    assert parameterize("  user 7 left \n") == "user <int> left"


def test_two_messages_differing_only_in_data_become_equal():
    first = "Payment 1234 for alice@example.com failed at 2024-05-01T12:00:00Z"
    second = "Payment 98 for bob@example.org failed at 2024-06-30T23:59:59Z"
    assert parameterize(first) == parameterize(second)


# Long runs of separators, where a pattern allowed to start after every `.` or `-`
# rescanned the rest of the run from each one (8 KiB took over a second). The outputs
# are the same as for short runs; bench/grouping_rules.py prints the time.
LONG_RUNS = [
    ("a." * 4096, "a." * 4096),
    ("1." * 4096, "1." * 4096),
    ("a-" * 4096, "a-" * 4096),
    (":" * 8192, ":" * 8192),
    ("0x" * 4096, "0x" * 4096),
    ("a." * 4000 + "@", "a." * 4000 + "@"),
    ("a." * 4000 + "a@example.com", "<email>"),
    ("x " + "a." * 4000 + "com y", "x <hostname> y"),
    (("a--" * 20 + "a.") * 130 + "com", "<hostname>"),
    ("--user@example.com", "--<email>"),
    ("-." * 10 + "foo.com", "-." * 10 + "<hostname>"),
    ("mail a.b.c@example.com now", "mail <email> now"),
]


@pytest.mark.parametrize(("message", "expected"), LONG_RUNS, ids=lambda v: repr(v[:12]))
def test_long_separator_runs(message: str, expected: str) -> None:
    assert parameterize(message) == expected
