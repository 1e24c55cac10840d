"""Sentry's issue search syntax: what each query parses to, and where a bad one fails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tracehound.issues.search import (
    MAX_QUERY_LENGTH,
    MAX_TERMS,
    QueryError,
    ShortId,
    Term,
    parse_query,
    parse_short_id,
)

DAY = timedelta(days=1)


def jan(day: int, hour: int = 0) -> datetime:
    return datetime(2024, 1, day, hour, tzinfo=UTC)


@pytest.mark.parametrize(
    ("query", "terms"),
    [
        ("", []),
        ("   ", []),
        ("is:unresolved", [Term("is", ("unresolved",))]),
        ("is:Resolved", [Term("is", ("resolved",))]),
        ("is:archived", [Term("is", ("archived",))]),
        ("is:for_review", [Term("is", ("for_review",))]),
        ("!is:ignored", [Term("is", ("ignored",), negated=True)]),
        ("is:[regressed, unassigned]", [Term("is", ("regressed", "unassigned"))]),
        ("assigned:me", [Term("assigned", ("me",))]),
        ("assigned:[me,none]", [Term("assigned", ("me", "none"))]),
        ("assigned:ann", [Term("assigned", ("ann",))]),
        ("level:error", [Term("level", ("error",))]),
        ("release:latest", [Term("release", ("latest",))]),
        ("release:shop@1.2.0", [Term("release", ("shop@1.2.0",))]),
        ('release:"1.0 beta"', [Term("release", ("1.0 beta",))]),
        ("environment:production", [Term("environment", ("production",))]),
        ("!environment:staging", [Term("environment", ("staging",), negated=True)]),
        ("firstRelease:1.0", [Term("first_release", ("1.0",))]),
        # Relative dates: -24h is "within the last 24 hours", +7d "more than 7 days ago".
        ("firstSeen:-24h", [Term("first_seen", (timedelta(hours=24),), op=">=")]),
        ("lastSeen:+7d", [Term("last_seen", (7 * DAY,), op="<=")]),
        ("age:-2w", [Term("first_seen", (14 * DAY,), op=">=")]),
        ("lastSeen:-30m", [Term("last_seen", (timedelta(minutes=30),), op=">=")]),
        ("lastSeen:>-1h", [Term("last_seen", (timedelta(hours=1),), op=">")]),
        ("first_seen:<-90s", [Term("first_seen", (timedelta(seconds=90),), op="<")]),
        # Absolute dates: with an operator a point in time, without one the day (or second).
        ("firstSeen:>2024-01-02", [Term("first_seen", (jan(2),), op=">")]),
        ("lastSeen:<=2024-01-02T05:00:00Z", [Term("last_seen", (jan(2, 5),), op="<=")]),
        ("lastSeen:>=2024-01-02T07:00:00+02:00", [Term("last_seen", (jan(2, 5),), op=">=")]),
        ("firstSeen:2024-01-02", [Term("first_seen", (jan(2), jan(3)), op="range")]),
        (
            "lastSeen:2024-01-02T05:00:00",
            [Term("last_seen", (jan(2, 5), jan(2, 5) + timedelta(seconds=1)), op="range")],
        ),
        ("times_seen:100", [Term("times_seen", (100,))]),
        ("times_seen:>100", [Term("times_seen", (100,), op=">")]),
        ("timesSeen:>=2k", [Term("times_seen", (2000,), op=">=")]),
        ("times_seen:<3", [Term("times_seen", (3,), op="<")]),
        ("times_seen:<=1m", [Term("times_seen", (1_000_000,), op="<=")]),
        ("has:user", [Term("has", ("user",))]),
        ("!has:release", [Term("has", ("release",), negated=True)]),
        ("user.email:ann@example.com", [Term("user", ("ann@example.com",), tag="email")]),
        ("user.id:42", [Term("user", ("42",), tag="id")]),
        ("user.username:ann", [Term("user", ("ann",), tag="username")]),
        ("user.ip:10.0.0.1", [Term("user", ("10.0.0.1",), tag="ip")]),
        ("user:id:42", [Term("tag", ("id:42",), tag="user")]),
        ("browser:Chrome", [Term("tag", ("Chrome",), tag="browser")]),
        ("browser.name:Firefox", [Term("tag", ("Firefox",), tag="browser.name")]),
        ("tags.region:eu", [Term("tag", ("eu",), tag="region")]),
        ("tags[os.name]:Linux", [Term("tag", ("Linux",), tag="os.name")]),
        ("tags[a:b]:c", [Term("tag", ("c",), tag="a:b")]),
        ("!region:[eu, us]", [Term("tag", ("eu", "us"), negated=True, tag="region")]),
        ('region:""', [Term("tag", ("",), tag="region")]),
        ("url:http://x.test/a?b=1", [Term("tag", ("http://x.test/a?b=1",), tag="url")]),
        ("issue:BACKEND-1A", [Term("issue", (ShortId("BACKEND", 42),))]),
        ("issue.id:123", [Term("issue", (123,))]),
        ("issue:backend-1", [Term("issue", (ShortId("BACKEND", 1),))]),
        # Free text: everything else, joined into one phrase.
        ("connection reset", [Term("text", ("connection reset",))]),
        ('"connection reset" by peer', [Term("text", ("connection reset by peer",))]),
        ("TypeError: undefined", [Term("text", ("TypeError: undefined",))]),
        ("!boom", [Term("text", ("!boom",))]),
        ('"say \\"hi\\" \\\\ bye"', [Term("text", ('say "hi" \\ bye',))]),
        ("message:timeout", [Term("text", ("timeout",))]),
    ],
)
def test_a_query_parses_to_its_terms(query, terms):
    parsed = [Term(t.key, t.values, t.op, t.negated, t.tag) for t in parse_query(query)]
    assert parsed == terms


def test_terms_keep_their_positions_and_free_text_comes_last():
    terms = parse_query('is:unresolved  oops  !level:info "two words" browser:[a, "b c"]')
    assert [(t.key, t.position) for t in terms] == [
        ("is", 0),
        ("level", 21),
        ("tag", 45),
        ("text", 15),
    ]
    assert terms[-1].values == ("oops two words",)
    assert terms[2].values == ("a", "b c")


@pytest.mark.parametrize(
    ("query", "position", "words"),
    [
        ("is:bogus", 3, "is:bogus is not supported"),
        ("is:unresolved is:[resolved, nope]", 28, "is:nope"),
        ('browser:"Chrome', 8, "unterminated quoted value"),
        ('  "free text', 2, "unterminated quoted value"),
        ("release:[1.0, 2.0", 8, "unterminated list"),
        ("release:[1.0,,2.0]", 13, "empty value in list"),
        ("release:[1.0 2.0]", 13, "expected ',' or ']'"),
        ("times_seen:many", 11, "not a whole number"),
        ("times_seen:>-5", 12, "not a whole number"),
        ("times_seen:99999999999999999999", 11, "whole number"),
        ("times_seen:9999999999999999999", 11, "too large"),
        ("times_seen:[1,2]", 11, "one value"),
        ("firstSeen:yesterday", 10, "not a date"),
        ("lastSeen:>2024-13-45", 10, "not a date"),
        ("firstSeen:-24y", 10, "not a date"),
        ("firstSeen:-999999999w", 10, "too far back"),
        ("lastSeen:9999-12-31", 9, "out of range"),
        ("firstSeen:0001-01-01T00:00:00+01:00", 10, "out of range"),
        ("lastSeen:<9999-12-31T23:59:59-01:00", 10, "out of range"),
        ("firstSeen:>0001-01-01T00:30:00+05:00", 11, "out of range"),
        ("firstSeen:[-1h,-2h]", 10, "one value"),
        ("issue:???", 6, "not an issue id"),
        ("level:\x00", 6, "NUL"),
        ("release:[]", 9, "empty value in list"),
    ],
)
def test_a_bad_query_names_the_position_of_the_problem(query, position, words):
    with pytest.raises(QueryError) as caught:
        parse_query(query)
    assert caught.value.position == position
    assert words in caught.value.message
    assert str(caught.value) == f"{caught.value.message} (at position {position})"


def test_a_query_over_the_length_cap_is_refused_before_parsing():
    with pytest.raises(QueryError) as caught:
        parse_query("a" * (MAX_QUERY_LENGTH + 1))
    assert caught.value.position == 0 and "longer than" in caught.value.message


def test_a_query_with_too_many_terms_names_the_first_one_too_many():
    query = " ".join(f"k{n}:v" for n in range(MAX_TERMS + 5))
    with pytest.raises(QueryError) as caught:
        parse_query(query)
    assert caught.value.position == query.index(f"k{MAX_TERMS}:v")


def test_a_value_longer_than_any_stored_tag_value_is_refused():
    with pytest.raises(QueryError) as caught:
        parse_query("release:" + "9" * 201)
    assert caught.value.position == 8


@pytest.mark.parametrize(
    "query",
    [
        "\U0001f4a9:\U0001f4a9",
        "::::",
        "!!!",
        "[[[[",
        "]]]",
        '"',
        "\\",
        "a:" + "[" * 500,
        "key:\\",
        "!:x",
        "x:" + '"\\' * 400,
        "\u202etext\u202c",
        "is:",
        "has:",
        "\t\n\r\x0b\x0c",
        "1e300 2**64 18446744073709551616",
    ],
)
def test_hostile_queries_parse_or_fail_with_a_query_error_only(query):
    try:
        parse_query(query)
    except QueryError as exc:
        assert 0 <= exc.position <= len(query)


def test_an_empty_value_after_a_key_is_free_text_not_an_error():
    assert [t.key for t in parse_query("is: resolved")] == ["text"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("BACKEND-1", ShortId("BACKEND", 1)),
        ("backend-1a", ShortId("BACKEND", 42)),
        ("MY-APP-Y", ShortId("MY-APP", 31)),
        ("MY-APP-Z", None),  # the alphabet has 33 letters; base 32 never writes Z
        ("BACKEND-10", ShortId("BACKEND", 32)),
        ("BACKEND", None),
        ("BACKEND-", None),
        ("BACKEND-U", None),  # not in Crockford's alphabet
        ("-1", None),
    ],
)
def test_short_ids_read_as_the_ui_writes_them(raw, expected):
    assert parse_short_id(raw) == expected
