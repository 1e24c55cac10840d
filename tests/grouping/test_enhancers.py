"""Stack-trace rules: the syntax Sentry documents, what each matcher and action does."""

import pytest

from tracehound.grouping import ProjectRules, group_event
from tracehound.grouping.enhancers import (
    MAX_RULES,
    MAX_TEXT_LENGTH,
    FrameStates,
    parse_enhancements,
)
from tracehound.grouping.errors import RuleSyntaxError


def run(text, frames, platform="python", exception=None):
    return parse_enhancements(text).apply(frames, platform, exception)


def fn(name, **extra):
    return {"function": name, **extra}


# --- parsing --------------------------------------------------------------------------


def test_the_documented_example_parses_into_three_rules():
    rules = parse_enhancements(
        "# mark all functions in the std namespace to be outside the app\n"
        "family:native stack.function:std::*       -app\n"
        "\n"
        "# mark all code in node modules not to be in app\n"
        "stack.abs_path:**/node_modules/**         -app\n"
        "stack.abs_path:**/generated/**.js         -group\n"
    )
    assert len(rules) == 3
    assert [rule.line for rule in rules.rules] == [2, 5, 6]


def test_comments_blank_lines_and_trailing_comments_are_ignored():
    rules = parse_enhancements("  # a comment\n\n\tfunction:foo -group  # why\n")
    assert len(rules) == 1
    assert rules.rules[0].flags[0].flag == "group"


def test_an_empty_text_is_an_empty_rule_set():
    assert not parse_enhancements("")
    assert run("", [fn("a")]).contributes == [True]


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [
        ("function:foo", 1, 13, "at least one action"),
        ("-app", 1, 1, "at least one matcher"),
        ("foo -app", 1, 1, "key:value"),
        ("bogus:x -app", 1, 1, "unknown matcher `bogus`"),
        ("function: -app", 1, 10, "needs a value"),
        ("function:[z-a] -app", 1, 10, "an unquoted '[' starts a `[ … ]` group"),
        ("function:x +app function:y", 1, 17, "before the actions"),
        ("function:x +frob", 1, 12, "unknown action"),
        ("function:x colour=red", 1, 12, "unknown variable `colour`"),
        ("function:x max-frames=abc", 1, 23, "number"),
        ("function:x max-frames=99999999", 1, 23, "number"),
        ("function:x min-frames=-1", 1, 23, "number"),
        ("function:x category=a/b", 1, 21, "category"),
        ("family:nativ -app", 1, 8, "unknown family `nativ`"),
        ("app:maybe -app", 1, 5, "yes or no"),
        ('function:"a b -app', 1, 10, "unterminated quote"),
        ('function:"a"b -app', 1, 13, "space after the closing quote"),
        ('"function:a" -app', 1, 1, "only start a value"),
        ("[ app:yes ] function:x -app", 1, 13, "expected `|`"),
        ("[ app:yes function:x -app", 1, 1, "without a matching `]`"),
        ("[ ] | function:x -app", 1, 1, "at least one matcher"),
        ("function:x | app:yes -app", 1, 14, "callee"),
        ("function:x -app ]", 1, 17, "unexpected `]`"),
        ("\n\n  # fine\n  function:x -app\n   module:y +nope", 5, 13, "unknown action"),
    ],
)
def test_malformed_rules_name_their_line_and_column(text, line, column, words):
    with pytest.raises(RuleSyntaxError) as raised:
        parse_enhancements(text)
    assert (raised.value.line, raised.value.column) == (line, column)
    assert words in raised.value.message
    assert str(raised.value).startswith(f"line {line}, column {column}: ")


def test_aliases_parse_like_the_long_names():
    short = parse_enhancements(
        "function:a module:b path:c package:d type:E value:v mechanism:m -app"
    )
    long = parse_enhancements(
        "stack.function:a stack.module:b stack.abs_path:c stack.package:d "
        "error.type:E error.value:v error.mechanism:m -app"
    )
    assert [m.field for m in short.rules[0].matchers] == [m.field for m in long.rules[0].matchers]


# --- hostile rule text ------------------------------------------------------------------


def test_rule_text_over_the_size_limit_is_refused():
    with pytest.raises(RuleSyntaxError, match="at most"):
        parse_enhancements("function:x -app\n" * (MAX_TEXT_LENGTH // 10))


def test_more_rules_than_the_limit_are_refused_at_the_first_extra_line():
    with pytest.raises(RuleSyntaxError) as raised:
        parse_enhancements("f:x -app\n".replace("f:", "function:") * (MAX_RULES + 1))
    assert raised.value.line == MAX_RULES + 1


def test_a_nul_character_is_refused_with_its_position():
    with pytest.raises(RuleSyntaxError) as raised:
        parse_enhancements("function:x -app\nfunction:a\x00b -app")
    assert (raised.value.line, raised.value.column) == (2, 11)


def test_a_very_long_line_is_refused():
    with pytest.raises(RuleSyntaxError, match="a line is at most"):
        parse_enhancements("function:" + "a" * 5000 + " -app")


def test_too_many_wildcards_are_refused():
    with pytest.raises(RuleSyntaxError, match="wildcards"):
        parse_enhancements("function:" + "a*" * 40 + " -app")


def test_non_text_rules_are_refused():
    with pytest.raises(RuleSyntaxError):
        parse_enhancements(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "pattern",
    ["*a*a*a*a*a*a*a*a*a*a*b", "**/*a*a*a*a*a*a*a*a*b", "*a?a*a?a*a?a*a?a*b", "**a**a**a**a**a**b"],
)
def test_patterns_built_to_backtrack_finish_on_hostile_frames(pattern):
    # A naive glob-to-regex translation takes O(n^10) steps here: this would never finish.
    rules = parse_enhancements(f"path:{pattern} -group\nfunction:{pattern} -group")
    frames = [fn("a" * 2000, abs_path="/" + "a" * 2000, filename="a" * 2000)]
    assert rules.apply(frames, "python").contributes == [True]


def test_strange_frame_values_never_crash_matching():
    rules = parse_enhancements("function:x* -group\npath:**/x -app\npackage:x -app\nmodule:x -app")
    frames = [
        {"function": ["x"], "abs_path": {"a": 1}, "package": 10**30, "module": None},
        {"function": "x" * 100_000, "filename": "\x00x"},
        {"function": 1e300, "platform": 7},
    ]
    states = rules.apply(frames, "native")
    assert states.contributes == [True, False, True]


# --- matchers ---------------------------------------------------------------------------


def test_function_globs_are_case_sensitive_and_star_crosses_separators():
    states = run("function:std::* -group", [fn("std::vector<T>::at"), fn("STD::x"), fn("mystd::x")])
    assert states.contributes == [False, True, True]


def test_module_globs_match_dotted_names():
    frames = [{"module": "requests.adapters"}, {"module": "requestsx"}, {"module": "Requests.a"}]
    assert run("module:requests.* -app", frames).in_app == [False, False, False]
    assert run("module:requests.* -group", frames).contributes == [False, True, True]


def test_path_globs_are_case_insensitive_with_normalized_separators():
    frames = [
        {"abs_path": "C:\\Project\\Src\\Main.C"},
        {"abs_path": "/home/me/project/deep/er/x.c"},
        {"abs_path": "/home/me/other/x.c"},
    ]
    assert run("path:**/project/**.c -group", frames).contributes == [False, False, True]


def test_a_single_star_in_a_path_does_not_cross_folders():
    frames = [{"abs_path": "/src/vendor/foo/a.c"}, {"abs_path": "/src/vendor/foo/sub/a.c"}]
    assert run("path:**/vendor/foo/*.c -group", frames).contributes == [False, True]


def test_a_relative_file_name_still_matches_a_leading_double_star():
    frames = [{"filename": "foo.gen.c"}, {"filename": "foo/bar.gen.c"}, {"filename": "foo.c"}]
    assert run("path:**/*.gen.c -group", frames).contributes == [False, False, True]


def test_path_matches_the_file_name_when_abs_path_does_not():
    frames = [{"abs_path": "https://example.com/a.js", "filename": "/generated/a.js"}]
    assert run("path:**/generated/** -group", frames).contributes == [False]


def test_question_mark_matches_one_character():
    assert run("function:a?c -group", [fn("abc"), fn("ac"), fn("abbc")]).contributes == [
        False,
        True,
        True,
    ]


def test_package_matches_like_a_path():
    frames = [{"package": "/usr/lib/libcurl.dylib"}, {"package": "/app/MyApp"}]
    assert run("package:**/libcurl.dylib -group", frames).contributes == [False, True]


def test_family_matches_the_frames_platform_family():
    frames = [fn("f"), fn("f", platform="javascript"), fn("f", platform="java")]
    assert run("family:native function:f -group", frames, "cocoa").contributes == [
        False,
        True,
        True,
    ]
    assert run("family:javascript,native function:f -group", frames, "c").contributes == [
        False,
        False,
        True,
    ]
    # "other" is every platform that is neither native nor JavaScript (the JVM included).
    assert run("family:other function:f -group", frames, "c").contributes == [True, True, False]
    assert run("family:all function:f -group", frames, "c").contributes == [False, False, False]
    assert run("family:jvm function:f -group", frames, "c").contributes == [True, True, False]


def test_app_matches_the_in_app_flag_as_the_rules_left_it():
    frames = [fn("a", in_app=True), fn("b", in_app=False), fn("c")]
    assert run("app:yes -group", frames).contributes == [False, True, True]
    assert run("app:no -group", frames).contributes == [True, False, False]
    # Rules run top to bottom: the second sees what the first did.
    assert run("function:b +app\napp:yes -group", frames).contributes == [False, False, True]


def test_category_matches_what_an_earlier_rule_set():
    frames = [fn("sentry_capture"), fn("main")]
    states = run("function:sentry_* category=telemetry\ncategory:telemetry -group", frames)
    assert states.category == ["telemetry", None]
    assert states.contributes == [False, True]


def test_negation_inverts_a_matcher():
    frames = [fn("std::x"), fn("mine::y")]
    assert run("!function:std::* -group", frames).contributes == [True, False]
    assert run("function:* !app:yes -group", [fn("a", in_app=True), fn("b")]).contributes == [
        True,
        False,
    ]


def test_quoted_values_may_hold_spaces_and_escaped_quotes():
    frames = [fn("-[UIApplication sendEvent:]"), fn('say "hi"'), fn("other")]
    text = 'function:"-[UIApplication *]" -group\nfunction:"say \\"hi\\"" -group'
    assert run(text, frames).contributes == [False, False, True]


@pytest.mark.parametrize(
    ("matcher", "hit"),
    [
        ("error.type:ValueError", True),
        ("error.type:Value*", True),
        ("error.type:valueerror", False),
        ("!error.type:ValueError", False),
        ('error.value:"*BAD INPUT*"', True),
        ("error.mechanism:django", True),
        ("error.mechanism:celery", False),
    ],
)
def test_exception_matchers_gate_the_whole_rule(matcher, hit):
    exception = {"type": "ValueError", "value": "bad input", "mechanism": {"type": "django"}}
    states = run(f"{matcher} function:a -group", [fn("a"), fn("b")], exception=exception)
    assert states.contributes == [not hit, True]


def test_exception_matchers_never_match_a_stack_without_an_exception():
    assert run("error.type:* -group", [fn("a")]).contributes == [True]
    assert run("!error.type:X -group", [fn("a")]).contributes == [False]


def test_a_caller_matcher_looks_at_the_frame_that_called_this_one():
    # Frames are oldest first: frame i was called by frame i-1.
    frames = [fn("telemetry_hook"), fn("mine", in_app=True), fn("mine", in_app=True)]
    text = "function:telemetry_* category=telemetry\n[ category:telemetry ] | app:yes -group"
    assert run(text, frames).contributes == [True, False, True]


def test_a_callee_matcher_looks_at_the_frame_this_one_called():
    frames = [fn("libsys", in_app=False), fn("mine", in_app=True), fn("libsys", in_app=False)]
    assert run("app:no | [ app:yes ] -group", frames).contributes == [False, True, True]


def test_caller_and_callee_together():
    frames = [fn("a"), fn("b"), fn("c"), fn("b"), fn("d")]
    text = "[ function:a ] | function:b | [ function:c ] -group"
    assert run(text, frames).contributes == [True, False, True, True, True]


# --- actions ----------------------------------------------------------------------------


def test_app_flags_set_and_unset_in_app():
    frames = [fn("a", in_app=False), fn("b", in_app=True)]
    assert run("function:a +app\nfunction:b -app", frames).in_app == [True, False]


def test_group_flags_remove_and_restore_contribution():
    frames = [fn("a"), fn("b")]
    assert run("function:* -group\nfunction:b +group", frames).contributes == [False, True]


def test_up_range_cuts_the_frame_and_everything_toward_the_crash():
    # The documented Rust example: the panic frame and all frames above it leave the group.
    frames = [fn("main"), fn("work"), fn("std::panicking::begin_panic"), fn("inner"), fn("last")]
    states = run("function:std::panicking::begin_panic ^-app -app ^-group -group", frames)
    assert states.contributes == [True, True, False, False, False]
    assert states.in_app == [False] * 5


def test_down_range_cuts_everything_away_from_the_crash():
    frames = [fn("start"), fn("myapp::LinuxMainLoop"), fn("handler"), fn("crash")]
    states = run("function:myapp::LinuxMainLoop v-group -group", frames)
    assert states.contributes == [False, False, True, True]


def test_range_app_actions():
    frames = [fn("a"), fn("SpawnThread"), fn("b")]
    states = run("function:SpawnThread v+app ^+app", frames)
    assert states.in_app == [True, False, True]


def test_category_is_per_frame_and_the_last_rule_wins():
    frames = [fn("a"), fn("b")]
    states = run("function:* category=one\nfunction:b category=two", frames)
    assert states.category == ["one", "two"]


def test_max_and_min_frames_are_set_for_the_stack():
    states = run("family:native max-frames=3\nfamily:native min-frames=2", [fn("a")], "native")
    assert (states.max_frames, states.min_frames) == (3, 2)
    untouched = run("family:native max-frames=3", [fn("a")], "python")
    assert untouched.max_frames == 0


def test_rules_keep_state_passed_in_from_an_earlier_rule_set():
    first = parse_enhancements("function:a -group")
    second = parse_enhancements("function:b -group")
    frames = [fn("a"), fn("b"), fn("c")]
    states = second.apply(frames, "python", None, first.apply(frames, "python"))
    assert states.contributes == [False, False, True]


def test_the_match_cache_does_not_leak_between_rule_sets_or_families():
    frames = [fn("x")]
    native_only = parse_enhancements("family:native function:x -group")
    assert native_only.apply(frames, "native").contributes == [False]
    assert native_only.apply(frames, "python").contributes == [True]
    assert parse_enhancements("function:y -group").apply(frames, "native").contributes == [True]


def test_frame_states_start_from_the_sdks_flags():
    states = FrameStates.of([fn("a", in_app=True), fn("b", in_app=False), fn("c")])
    assert states.in_app == [True, False, False]
    assert states.client_set == [True, True, False]


# --- in group_event ---------------------------------------------------------------------


def py_event(*frames):
    return {
        "platform": "python",
        "exception": {
            "values": [{"type": "KeyError", "value": "'x'", "stacktrace": {"frames": list(frames)}}]
        },
    }


def py_frame(module, function, in_app=True):
    return {"module": module, "function": function, "context_line": "x()", "in_app": in_app}


def rules(text):
    return ProjectRules(parse_enhancements(text))


def test_project_rules_change_the_hash_of_matching_events_only():
    event = py_event(py_frame("shop.views", "index"), py_frame("shop.db", "query"))
    other = py_event(py_frame("shop.views", "index"), py_frame("shop.cache", "get"))
    project = rules("module:shop.db -group")
    assert group_event(event, rules=project).hashes != group_event(event).hashes
    assert group_event(other, rules=project).hashes == group_event(other).hashes


def test_a_wrapper_module_marked_minus_group_merges_calls_through_it():
    # One bug reached through two different helpers in a library marked -group groups once.
    via_a = py_event(py_frame("shop.views", "index"), py_frame("requests.api", "get", False))
    via_b = py_event(py_frame("shop.views", "index"), py_frame("requests.api", "post", False))
    project = rules("stack.module:requests.* -group")
    assert group_event(via_a).hashes != group_event(via_b).hashes
    assert group_event(via_a, rules=project).hashes == group_event(via_b, rules=project).hashes


def test_project_rules_override_the_sdks_in_app_flag():
    event = py_event(py_frame("shop.views", "index"), py_frame("vendored.lib", "call"))
    plain = group_event(event).hashes
    project = group_event(event, rules=rules("stack.module:vendored.* -app")).hashes
    assert plain[0] != project[0]  # the app variant lost the vendored frame
    assert plain[-1] == project[-1]  # the system variant still has it


def test_max_frames_keeps_only_the_frames_nearest_the_crash():
    base = [py_frame("shop.a", "a"), py_frame("shop.b", "b"), py_frame("shop.c", "c")]
    other_caller = [py_frame("shop.z", "z"), py_frame("shop.b", "b"), py_frame("shop.c", "c")]
    project = rules("module:shop.* max-frames=2")
    assert group_event(py_event(*base)).hashes != group_event(py_event(*other_caller)).hashes
    assert (
        group_event(py_event(*base), rules=project).hashes
        == group_event(py_event(*other_caller), rules=project).hashes
    )


def test_min_frames_makes_a_short_stack_fall_back_to_the_exception_value():
    short = py_event(py_frame("shop.a", "a"))
    grouped = group_event(short, rules=rules("module:* min-frames=2")).hashes
    assert grouped == group_event(py_event()).hashes  # type and value, no frames


def test_no_rules_and_an_empty_rule_set_group_alike():
    event = py_event(py_frame("shop.views", "index"))
    assert group_event(event, rules=ProjectRules(None)).hashes == group_event(event).hashes
    assert group_event(event, rules=rules("# nothing yet")).hashes == group_event(event).hashes


# --- globs against a reference matcher ---------------------------------------------------


def reference_glob(pattern: str, text: str, path: bool) -> bool:
    """Plain dynamic programming over the glob: slow, obviously right."""
    tokens: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "*":
            run = 1
            while i + run < len(pattern) and pattern[i + run] == "*":
                run += 1
            tokens.append("**" if run > 1 or not path else "*")
            i += run
        else:
            tokens.append(pattern[i])
            i += 1
    reachable = {0}
    for char in text:
        following: set[int] = set()
        for state in _closure(reachable, tokens):
            if state == len(tokens):
                continue
            token = tokens[state]
            if token == "**" or (token == "*" and char != "/"):
                following.add(state)
            elif token == "?" and not (path and char == "/") or token == char:
                following.add(state + 1)
        reachable = following
    return len(tokens) in _closure(reachable, tokens)


def _closure(states: set[int], tokens: list[str]) -> set[int]:
    result = set(states)
    for state in sorted(states):
        while state < len(tokens) and tokens[state] in ("*", "**"):
            state += 1
            result.add(state)
    return result


def test_compiled_globs_agree_with_a_reference_matcher():
    import random

    from tracehound.grouping.enhancers import _compile_glob

    rng = random.Random(6)
    pieces = ["a", "b", "/", "*", "**", "?", "ab", "/a"]
    checked = 0
    for _ in range(1500):
        pattern = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 7)))
        path = rng.random() < 0.5
        try:
            regex = _compile_glob(pattern, path=path, ignore_case=False)
        except ValueError:
            continue  # refused as too complex: nothing to compare
        for _ in range(8):
            text = "".join(rng.choice("ab/") for _ in range(rng.randint(0, 9)))
            expected = reference_glob(pattern, text, path)
            assert (regex.match(text) is not None) == expected, (pattern, text, path)
            checked += 1
    assert checked > 5000


def test_path_and_function_matchers_agree_with_the_reference_matcher():
    # The whole matcher (literal prefilter, relative paths, lowercasing) against the reference.
    import random

    rng = random.Random(7)
    pieces = ["a", "B", "/", "*", "**", "?", "ab", "/a"]
    checked = 0
    for _ in range(600):
        pattern = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 6)))
        try:
            rules = parse_enhancements(f"path:{pattern} -group\nfunction:{pattern} -app")
        except RuleSyntaxError:
            continue
        for _ in range(6):
            text = "".join(rng.choice("aAbB/") for _ in range(rng.randint(1, 8)))
            state = rules.apply([{"abs_path": text, "function": text, "in_app": True}], "python")
            lowered, pattern_lowered = text.lower(), pattern.lower()
            path_hit = reference_glob(pattern_lowered, lowered, True) or (
                not text.startswith("/") and reference_glob(pattern_lowered, "/" + lowered, True)
            )
            assert state.contributes == [not path_hit], (pattern, text)
            assert state.in_app == [not reference_glob(pattern, text, False)], (pattern, text)
            checked += 1
    assert checked > 2000
