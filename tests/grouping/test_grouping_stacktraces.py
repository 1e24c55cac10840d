"""Exception and stack-trace grouping: what splits an issue and what does not."""

import copy
import hashlib

import pytest

from tracehound.grouping import group_event


def md5(*values: str) -> str:
    return hashlib.md5("".join(values).encode()).hexdigest()


def frame(module="shop.cart", function="checkout", line="total = price * qty", **extra):
    data = {
        "module": module,
        "filename": module.replace(".", "/") + ".py" if module else "cart.py",
        "abs_path": "/srv/" + (module or "cart").replace(".", "/") + ".py",
        "function": function,
        "context_line": line,
        "lineno": 10,
        "in_app": True,
    }
    data.update(extra)
    return data


def error(frames, exc_type="ValueError", value="bad input", platform="python", **extra):
    exception = {"type": exc_type, "value": value, "stacktrace": {"frames": frames}}
    exception.update(extra)
    return {"platform": platform, "exception": {"values": [exception]}}


def hashes(event):
    return group_event(event).hashes


def test_line_numbers_do_not_change_the_group():
    first = error([frame(lineno=10, colno=3)])
    second = error([frame(lineno=99, colno=7)])
    assert hashes(first) == hashes(second)


def test_different_data_in_the_exception_value_keeps_the_group():
    assert hashes(error([frame()], value="user 1")) == hashes(error([frame()], value="user 2"))


def test_a_different_exception_type_is_a_different_issue():
    assert hashes(error([frame()], "ValueError")) != hashes(error([frame()], "TypeError"))


def test_a_different_function_is_a_different_issue():
    assert hashes(error([frame(function="a")])) != hashes(error([frame(function="b")]))


def test_a_python_frame_groups_on_module_function_and_source_line():
    event = error([frame()])
    assert hashes(event) == [md5("shop.cart", "checkout", "total = price * qty", "ValueError")]


def test_the_module_outranks_the_file_name():
    renamed = error([frame(filename="elsewhere.py", abs_path="/x/elsewhere.py")])
    assert hashes(renamed) == hashes(error([frame()]))


def test_without_a_module_the_lowercased_file_basename_contributes():
    event = error(
        [frame(module=None, filename="src/Shop/Cart.PY", abs_path="/srv/src/Shop/Cart.PY")]
    )
    assert hashes(event) == [md5("cart.py", "checkout", "total = price * qty", "ValueError")]


def test_whitespace_in_the_source_line_is_collapsed():
    tabs = error([frame(line="\ttotal  =   price\t* qty   ")])
    assert hashes(tabs) == hashes(error([frame()]))


def test_a_source_line_longer_than_120_characters_is_ignored():
    event = error([frame(line="x" * 121)])
    assert hashes(event) == [md5("shop.cart", "checkout", "ValueError")]


def test_source_lines_only_count_for_platforms_that_send_stable_ones():
    event = error([frame()], platform="java")
    assert hashes(event) == [md5("shop.cart", "checkout", "ValueError")]


def test_recursion_counts_once():
    once = error([frame(function="main"), frame(function="walk")])
    deep = error([frame(function="main")] + [frame(function="walk")] * 50)
    assert hashes(once) == hashes(deep)


def test_library_frames_do_not_split_the_primary_hash():
    app = frame(function="view")
    first = error([frame(module="django.core", function="handle", in_app=False), app])
    second = error([frame(module="flask.app", function="dispatch", in_app=False), app])
    assert hashes(first)[0] == hashes(second)[0]
    assert hashes(first)[1] != hashes(second)[1]


def test_without_in_app_frames_only_the_system_hash_is_kept():
    event = error([frame(in_app=False), frame(function="deeper", in_app=False)])
    line = "total = price * qty"
    assert hashes(event) == [
        md5("shop.cart", "checkout", line, "shop.cart", "deeper", line, "ValueError")
    ]


def test_when_every_frame_is_in_app_the_app_and_system_hashes_collapse_into_one():
    assert len(hashes(error([frame(), frame(function="inner")]))) == 1


def test_an_exception_without_frames_groups_on_type_and_parameterized_value():
    event = {"platform": "python", "exception": {"values": [{"type": "KeyError", "value": "'42'"}]}}
    assert hashes(event) == [md5("KeyError", "'<int>'")]


def test_a_synthetic_exception_type_does_not_contribute():
    event = error([frame()], exc_type="SIGSEGV", mechanism={"type": "signal", "synthetic": True})
    assert hashes(event) == [md5("shop.cart", "checkout", "total = price * qty")]


def test_every_exception_of_a_chain_contributes_in_order():
    cause = {"type": "KeyError", "value": "'x'", "stacktrace": {"frames": [frame(function="load")]}}
    raised = {"type": "LookupError", "value": "no", "stacktrace": {"frames": [frame()]}}
    event = {"platform": "python", "exception": {"values": [cause, raised]}}
    assert hashes(event) == [
        md5(
            "shop.cart",
            "load",
            "total = price * qty",
            "KeyError",
            "shop.cart",
            "checkout",
            "total = price * qty",
            "LookupError",
        )
    ]


def test_a_chain_is_a_different_issue_from_its_last_exception_alone():
    cause = {"type": "KeyError", "value": "'x'"}
    raised = {"type": "LookupError", "value": "no", "stacktrace": {"frames": [frame()]}}
    chained = {"platform": "python", "exception": {"values": [cause, raised]}}
    alone = {"platform": "python", "exception": {"values": [copy.deepcopy(raised)]}}
    assert hashes(chained) != hashes(alone)


# --- JavaScript ----------------------------------------------------------------------


def js_frame(function="handleClick", filename="app.js", abs_path="/srv/app.js", **extra):
    data = {"function": function, "filename": filename, "abs_path": abs_path, "in_app": True}
    data.update(extra)
    return data


def js_error(frames, platform="javascript"):
    return error(frames, exc_type="TypeError", value="x is undefined", platform=platform)


def test_javascript_object_prefixes_are_ignored_in_function_names():
    assert hashes(js_error([js_frame("Object.handleClick")])) == hashes(
        js_error([js_frame("handleClick")])
    )


@pytest.mark.parametrize("name", ["?", "<anonymous>", "Anonymous function", "Object.<anonymous>"])
def test_anonymous_javascript_functions_do_not_contribute_a_name(name):
    assert hashes(js_error([js_frame(name)])) == [md5("app.js", "TypeError")]


def test_javascript_file_names_behind_urls_are_ignored():
    event = js_error(
        [js_frame(filename="/static/app.js", abs_path="https://cdn.example.com/app.js")]
    )
    assert hashes(event) == [md5("handleClick", "TypeError")]


@pytest.mark.parametrize(
    "noise",
    [
        {"function": "eval", "abs_path": "/srv/app.js"},
        {"function": "forEach", "abs_path": "[native code]", "filename": "[native code]"},
        {"function": "Promise", "abs_path": "<anonymous>", "filename": "<anonymous>"},
    ],
)
def test_low_quality_javascript_frames_are_skipped(noise):
    base = [js_frame()]
    assert hashes(js_error(base + [js_frame(**noise)])) == hashes(js_error(base))


def test_javascript_modules_that_look_like_paths_fall_back_to_the_file_name():
    event = js_error([js_frame(module="src/components/button", filename="button.js")], "node")
    assert hashes(event) == [md5("button.js", "handleClick", "TypeError")]


def test_node_modules_frames_are_not_app_code_even_when_the_sdk_says_so():
    lib = js_frame("dispatch", "index.js", "/srv/node_modules/express/index.js")
    event = js_error([lib, js_frame()], "node")
    assert hashes(event)[0] == md5("app.js", "handleClick", "TypeError")


def test_a_source_mapped_javascript_frame_groups_on_its_line_not_its_guessed_name():
    mapped = js_frame("a", context_line="submit(form);", data={"sourcemap": "app.js.map"})
    renamed = js_frame("b", context_line="submit(form);", data={"sourcemap": "app.js.map"})
    assert hashes(js_error([mapped])) == hashes(js_error([renamed]))


# --- exception groups -------------------------------------------------------------------


def group_member(exc_type, value, exception_id, parent_id=0, frames=None):
    member = {
        "type": exc_type,
        "value": value,
        "mechanism": {"type": "chained", "exception_id": exception_id, "parent_id": parent_id},
    }
    if frames:
        member["stacktrace"] = {"frames": frames}
    return member


def exception_group(*members):
    root = {
        "type": "ExceptionGroup",
        "value": "several things failed",
        "mechanism": {"type": "generic", "exception_id": 0, "is_exception_group": True},
        "stacktrace": {"frames": [frame(function="run_all")]},
    }
    return {"platform": "python", "exception": {"values": [*members, root]}}


def test_a_group_of_alike_exceptions_groups_like_one_of_them():
    grouped = exception_group(
        group_member("TimeoutError", "host 1", 2), group_member("TimeoutError", "host 2", 1)
    )
    single = {
        "platform": "python",
        "exception": {"values": [{"type": "TimeoutError", "value": "host 9"}]},
    }
    assert hashes(grouped) == hashes(single)
    assert group_event(grouped).title == "TimeoutError: host 2"


def test_a_group_of_different_exceptions_groups_on_all_of_them_and_is_named_by_the_group():
    grouped = exception_group(group_member("TypeError", "b", 2), group_member("ValueError", "a", 1))
    result = group_event(grouped)
    assert result.hashes[-1] == md5(
        "TypeError",
        "b",
        "ValueError",
        "a",
        "shop.cart",
        "run_all",
        "total = price * qty",
        "ExceptionGroup",
    )
    assert result.title == "ExceptionGroup: several things failed"


def test_a_malformed_exception_group_is_treated_as_a_plain_chain():
    grouped = exception_group(group_member("TypeError", "b", 1, parent_id=7))
    result = group_event(grouped)
    assert result.title == "ExceptionGroup: several things failed"
    assert result.hashes == [
        md5("TypeError", "b", "shop.cart", "run_all", "total = price * qty", "ExceptionGroup")
    ]


# --- generated names ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "first", "second"),
    [
        (
            "java",
            {"module": "shop.Cart$$Lambda$123/0x0000000800c0b040", "function": "apply"},
            {"module": "shop.Cart$$Lambda$987/0x0000000800d1c440", "function": "apply"},
        ),
        (
            "java",
            {"module": "shop.Cart$$EnhancerBySpringCGLIB$$1a2b3c", "function": "total"},
            {"module": "shop.Cart$$EnhancerBySpringCGLIB$$9f8e7d", "function": "total"},
        ),
        (
            "php",
            {"filename": "cart.php", "function": "class@anonymous/srv/cart.php:12$0::total"},
            {"filename": "cart.php", "function": "class@anonymous/srv/cart.php:12$1f::total"},
        ),
        (
            "ruby",
            {"filename": "index.html.erb", "function": "_app_views_index_html_erb___2756_7019"},
            {"filename": "index.html.erb", "function": "_app_views_index_html_erb___1234_5678"},
        ),
    ],
)
def test_generated_names_that_change_per_build_do_not_split_the_issue(platform, first, second):
    assert hashes(error([{**first, "in_app": True}], platform=platform)) == hashes(
        error([{**second, "in_app": True}], platform=platform)
    )


@pytest.mark.parametrize("platform", [["javascript"], {"a": 1}, 5, None])
def test_a_frame_platform_that_is_not_a_string_is_the_event_platform(platform):
    def event(frame_platform):
        frame = {"function": "handler", "module": "app.views", "in_app": True}
        if frame_platform is not None:
            frame["platform"] = frame_platform
        stacktrace = {"frames": [frame]}
        return {
            "platform": "python",
            "exception": {"values": [{"type": "E", "stacktrace": stacktrace}]},
        }

    odd, plain = group_event(event(platform)), group_event(event(None))
    assert (odd.hashes, odd.title, odd.culprit) == (plain.hashes, plain.title, plain.culprit)
