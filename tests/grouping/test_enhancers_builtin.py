"""The built-in stack-trace rules (`all-platforms@2023-01-11` behaviour) and how they meet the
SDK's in_app flags and a project's own rules."""

import re
from importlib import resources

import pytest

from tracehound.grouping.config import NEWSTYLE_2023_01_11
from tracehound.grouping.enhancers import BUILTIN_2023_01_11, parse_builtin_rules
from tracehound.grouping.frames import frame_states

BUILTIN_TEXT = resources.files("tracehound.grouping").joinpath("builtin_rules.txt").read_text()


def states(frames, platform, project=None):
    from tracehound.grouping.enhancers import parse_enhancements

    rules = parse_enhancements(project) if project else None
    return frame_states(frames, platform, NEWSTYLE_2023_01_11, rules)


def test_the_built_in_rules_ship_as_package_data_and_parse():
    assert len(BUILTIN_2023_01_11) > 100
    assert NEWSTYLE_2023_01_11.builtin_rules is BUILTIN_2023_01_11


def test_pyproject_ships_the_rule_file():
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads(Path(__file__).parents[2].joinpath("pyproject.toml").read_text())
    data = pyproject["tool"]["setuptools"]["package-data"]["tracehound"]
    assert "grouping/*.txt" in data


def test_every_block_of_built_in_rules_says_where_it_comes_from():
    blocks = re.split(r"\n\s*\n", BUILTIN_TEXT.split("\n\n", 1)[1])
    for block in blocks:
        if any(line and not line.startswith("#") for line in block.splitlines()):
            assert "[doc]" in block or "[sdk]" in block, block


def test_only_the_rules_below_the_marker_override_the_sdk():
    overriding = [rule for rule in BUILTIN_2023_01_11.rules if rule.overrides_client_in_app]
    assert overriding and all("node_modules" in str(rule.matchers) for rule in overriding)


def test_the_marker_is_what_splits_them():
    rules = parse_builtin_rules(
        "function:a -app\n#! rules below override the SDK's in_app\nfunction:b -app"
    )
    assert [rule.overrides_client_in_app for rule in rules.rules] == [False, True]
    assert not any(r.overrides_client_in_app for r in parse_builtin_rules("function:a -app").rules)


def test_a_built_in_minus_app_leaves_an_sdk_decision_alone():
    # sentry-cocoa marked a framework in its own bundle in-app (inAppInclude): kept.
    frame = {"function": "f", "package": "/usr/lib/libMine.dylib", "in_app": True}
    assert states([frame], "cocoa").in_app == [True]


def test_a_built_in_minus_app_decides_frames_the_sdk_left_undecided():
    frame = {"function": "f", "package": "/usr/lib/libsystem_c.dylib"}
    result = states([frame], "native")
    assert result.in_app == [False]
    assert result.category == ["system"]


def test_the_node_modules_rule_overrides_the_sdk():
    frame = {"function": "f", "abs_path": "/srv/node_modules/x/index.js", "in_app": True}
    assert states([frame], "node").in_app == [False]


def test_project_rules_override_the_sdk_and_the_built_in_rules():
    frames = [
        {"function": "std::sort", "in_app": False},
        {"function": "_pthread_start", "package": "/usr/lib/system/libsystem_pthread.dylib"},
    ]
    result = states(frames, "native", "function:std::* +app\ncategory:threadbase +group")
    assert result.in_app == [True, False]
    assert result.contributes == [True, True]


@pytest.mark.parametrize(
    ("platform", "frame", "in_app", "contributes"),
    [
        ("native", {"function": "std::vector<T>::at"}, False, True),
        ("native", {"function": "core::ptr::drop_in_place"}, False, True),
        ("native", {"function": "start"}, False, False),
        ("native", {"function": "RtlUserThreadStart"}, False, False),
        ("native", {"function": "__CFRunLoopDoSource0"}, False, False),
        ("cocoa", {"function": "_dispatch_main_queue_callback_4CF"}, False, False),
        (
            "native",
            {"function": "main", "package": "C:\\Windows\\System32\\ntdll.dll"},
            False,
            True,
        ),
        ("native", {"function": "main", "package": "/lib/x86_64-linux-gnu/libc.so.6"}, False, True),
        ("native", {"function": "shop::main", "package": "/opt/shop/bin/shop"}, False, True),
        ("java", {"module": "java.util.ArrayList", "function": "get"}, False, True),
        (
            "java",
            {"module": "sun.reflect.GeneratedMethodAccessor12", "function": "x"},
            False,
            False,
        ),
        ("java", {"module": "io.sentry.Hub", "function": "captureException"}, False, False),
        ("java", {"module": "shop.Cart", "function": "total"}, False, True),
        ("javascript", {"function": "f", "abs_path": "webpack/bootstrap 3a2b1c"}, False, False),
        ("node", {"function": "f", "abs_path": "node:internal/timers"}, False, False),
        (
            "node",
            {"function": "emit", "abs_path": "events.js", "filename": "events.js"},
            False,
            False,
        ),
        (
            "javascript",
            {"function": "f", "abs_path": "https://cdn.jsdelivr.net/npm/x.js"},
            False,
            True,
        ),
        (
            "javascript",
            {"function": "f", "abs_path": "https://unpkg.com/react@18/umd/x.js"},
            False,
            True,
        ),
        (
            "javascript",
            {"function": "f", "abs_path": "https://app.example/static/raven.min.js"},
            False,
            False,
        ),
        (
            "javascript",
            {"function": "f", "abs_path": "https://app.example/src/app.js"},
            False,
            True,
        ),
        ("other", {"function": "f", "abs_path": "dart:async/zone.dart"}, False, True),
        (
            "other",
            {"function": "f", "abs_path": "package:flutter/src/widgets/framework.dart"},
            False,
            True,
        ),
        ("python", {"module": "std.thing", "function": "start"}, False, True),
    ],
)
def test_built_in_defaults_per_family(platform, frame, in_app, contributes):
    result = states([frame], platform)
    assert (result.in_app, result.contributes) == ([in_app], [contributes])


def test_only_the_thread_base_leaves_the_group_not_what_it_started():
    frames = [
        {"function": "thread_start", "package": "/usr/lib/system/libsystem_pthread.dylib"},
        {"function": "_pthread_start", "package": "/usr/lib/system/libsystem_pthread.dylib"},
        {"function": "shop::worker", "package": "/opt/shop"},
    ]
    assert states(frames, "native").contributes == [False, False, True]


def test_rust_try_frames_at_the_base_do_not_cut_the_whole_stack():
    frames = [
        {"function": "std::panicking::try"},
        {"function": "shop::handler"},
        {"function": "core::panicking::panic_fmt"},
        {"function": "rust_begin_unwind"},
    ]
    assert states(frames, "native").contributes == [True, True, False, False]
