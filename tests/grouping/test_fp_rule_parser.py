"""Fingerprint rule text: what parses, and errors that name the line and column."""

from __future__ import annotations

import pytest

from tracehound.grouping.errors import RuleSyntaxError
from tracehound.grouping.fingerprint_rules import (
    MAX_RULES,
    MAX_TEXT_LENGTH,
    parse_fingerprint_rules,
)
from tracehound.grouping.globs import compile_glob


def test_comments_blank_lines_and_aliases_parse():
    rules = parse_fingerprint_rules(
        "# database trouble\n"
        "\n"
        "type:DatabaseUnavailable -> system-down\n"
        '  error.value:"connection error: *" -> connection-error, {{ transaction }}\n'
        '!logger:noisy.* level:error -> errors title="Error from {{ logger }}"\n'
    ).rules
    assert [rule.line for rule in rules] == [3, 4, 5]
    assert [m.key for m in rules[0].matchers] == ["error.type"]
    assert rules[1].matchers[0].pattern == "connection error: *"
    assert rules[1].fingerprint == ("connection-error", "{{ transaction }}")
    assert rules[2].matchers[0].negated is True
    assert rules[2].title == "Error from {{ logger }}"


def test_quoted_fingerprint_values_keep_spaces_commas_and_escapes():
    (rule,) = parse_fingerprint_rules(r'type:X -> "a, b", "say \"hi\"", plain').rules
    assert rule.fingerprint == ("a, b", 'say "hi"', "plain")


def test_windows_line_endings_parse():
    assert len(parse_fingerprint_rules("type:A -> a\r\ntype:B -> b\r\n").rules) == 2


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("type:A -> a\nerror.type:B\n", 2, 13, "expected '->'"),
        ("type:A -> a\n\n\ncolour:red -> x", 4, 1, "unknown matcher 'colour'"),
        ("type:A -> a\n  error.type ValueError -> x", 2, 13, "expected ':' after the matcher"),
        ("-> x", 1, 1, "expected a matcher"),
        ("type:A ->", 1, 10, "expected a fingerprint value after '->'"),
        ("type:A -> a,", 1, 13, "expected a value after ','"),
        ("type:A -> a b", 1, 13, "expected ',' between fingerprint values"),
        ('type:"unterminated -> x', 1, 6, "unterminated quoted value"),
        ("type: -> x", 1, 6, "expected a value after ':'"),
        ("type:A -> {{ colour }}", 1, 11, "unknown variable '{{ colour }}'"),
        ('type:A -> a colour="red"', 1, 13, "unknown attribute 'colour'"),
        ('type:A -> a title="x" title="y"', 1, 23, "title is given twice"),
        ('type:A -> a title="x", b', 1, 22, "fingerprint values go before title="),
        ("family:windows -> x", 1, 8, "unknown family 'windows'"),
        ("app:maybe -> x", 1, 5, "app: takes yes or no"),
        ("type:" + "*a" * 17 + " -> x", 1, 38, "at most 16 '*' wildcards"),
        ("type:A\x00 -> x", 1, 7, "NUL characters are not allowed"),
        ("tags.:x -> y", 1, 1, "unknown matcher 'tags.'"),
        ("error.type:[z-a] -> x", 1, 12, "invalid character set '[z-a]'"),
        ("type:A -> a\npath:src/[a-\\] -> x", 2, 10, "invalid character set '[a-/]'"),
    ],
)
def test_mistakes_name_their_line_and_column(text, line, column, message):
    with pytest.raises(RuleSyntaxError) as caught:
        parse_fingerprint_rules(text)
    error = caught.value
    assert (error.line, error.column) == (line, column), str(error)
    assert message in error.message
    assert str(error).startswith(f"line {line}, column {column}: ")


def test_hostile_texts_are_refused_before_any_work():
    with pytest.raises(RuleSyntaxError, match="limited to"):
        parse_fingerprint_rules("#" * (MAX_TEXT_LENGTH + 1))
    many = "".join(f"type:E{i} -> e\n" for i in range(MAX_RULES + 1))
    with pytest.raises(RuleSyntaxError) as caught:
        parse_fingerprint_rules(many)
    assert caught.value.line == MAX_RULES + 1
    with pytest.raises(RuleSyntaxError, match="limited to 1000 characters"):
        parse_fingerprint_rules("type:" + "x" * 1001 + " -> x")
    with pytest.raises(RuleSyntaxError, match="must be text"):
        parse_fingerprint_rules(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("pattern", "path", "value", "matches"),
    [
        ("a*b*c", False, "a-x-b-y-c", True),
        ("a*b*c", False, "a-x-b-y-", False),
        ("*ab*b", False, "abb", True),
        ("*ab*b", False, "ab", False),
        ("**/x*y", True, "/x/a/xy", True),  # the first /x is the wrong place to commit to
        ("*/x", True, "a/b/x", False),
        ("**/x", True, "a/b/x", True),
        ("src/?.py", True, "src/a.py", True),
        ("src/?.py", True, "src//.py", False),
        ("[!a]x", False, "bx", True),
        ("[!a]x", False, "ax", False),
        ("[]]x", False, "]x", True),
        ("a[b", False, "a[b", True),
        ("a.b", False, "aXb", False),
        ("*", False, "multi\nline", True),
    ],
)
def test_globs(pattern, path, value, matches):
    assert compile_glob(pattern, path=path)(value) is matches


@pytest.mark.parametrize("path", [False, True])
def test_globs_that_backtrack_exponentially_as_regexes_answer_quickly(path):
    # As a plain regex (.*a.*a ...) this would not return within any test run.
    pattern = "*a" * 5 + "*/*a" * 5 + "*b"
    assert compile_glob(pattern, path=path)("a" * 20_000) is False
    assert compile_glob(pattern, path=path)("x" * 20_000 + "aaaaa/a/a/a/a/ab") is True


def test_path_globs_with_many_stars_agree_with_a_plain_backtracking_regex():
    # The compiled glob commits to a middle segment's place (atomic groups) where that
    # is sure; a plain translation that backtracks freely is the reference on short values.
    import random
    import re

    from tracehound.grouping.globs import _tokens

    def reference(pattern: str, path: bool, value: str) -> bool:
        parts = [
            (".*" if v == "any" else "[^/]*") if name == "star" else v
            for name, v in _tokens(pattern, path)
        ]
        return re.fullmatch("".join(parts), value, re.DOTALL) is not None

    rng = random.Random(4)
    pieces = ["*", "**", "?", "a", "b", "/", "[ab]", "[!a]", "[/a]", "ab/", "*a/"]
    for _ in range(3000):
        pattern = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 8)))
        path = rng.random() < 0.7
        glob = compile_glob(pattern, path=path)
        for _ in range(6):
            value = "".join(rng.choice("ab/c") for _ in range(rng.randint(0, 10)))
            assert glob(value) is reference(pattern, path, value), (pattern, path, value)


def test_a_path_glob_of_sixteen_segment_stars():
    glob = compile_glob("/".join(["*a"] * 16) + "x7", path=True)
    assert glob("a/" * 15 + "ax7") is True
    assert glob("ba/" * 15 + "bax7") is True
    assert glob("a/" * 100 + "b7") is False
    assert glob("a/" * 14 + "ax7") is False
    assert glob("a/" * 16 + "ax7") is False
