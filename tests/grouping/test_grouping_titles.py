"""Error titles, culprits and metadata as Sentry shows them, and the versioned API."""

import pytest

from tracehound.grouping import (
    DEFAULT_GROUPING_VERSION,
    GROUPING_VERSIONS,
    GroupingResult,
    group_event,
)


def error(value="invalid literal for int() with base 10: 'x'", frames=None, **extra):
    exception = {"type": "ValueError", "value": value}
    if frames is not None:
        exception["stacktrace"] = {"frames": frames}
    data = {"platform": "python", "exception": {"values": [exception]}}
    data.update(extra)
    return data


def py_frame(module, function, in_app=True, filename=None):
    return {
        "module": module,
        "function": function,
        "filename": filename or module.replace(".", "/") + ".py",
        "in_app": in_app,
    }


def test_an_error_is_titled_type_colon_value():
    result = group_event(error())
    assert (result.type, result.title) == (
        "error",
        "ValueError: invalid literal for int() with base 10: 'x'",
    )


def test_an_error_title_uses_only_the_first_line_of_the_value_cut_at_100_characters():
    title = group_event(error("a" * 300 + "\nsecond line")).title
    assert title == "ValueError: " + "a" * 99 + "…"


def test_an_error_without_a_value_is_titled_by_its_type():
    assert group_event(error(value=None)).title == "ValueError"


def test_an_error_without_a_type_is_called_error():
    event = {"exception": {"values": [{"value": "boom"}]}}
    assert group_event(event).title == "Error: boom"


def test_a_chain_is_titled_by_the_exception_that_was_raised_last():
    event = error()
    event["exception"]["values"].append({"type": "RuntimeError", "value": "wrapped"})
    assert group_event(event).title == "RuntimeError: wrapped"


def test_the_culprit_is_the_transaction_when_there_is_one():
    frames = [py_frame("shop.views", "checkout")]
    assert group_event(error(frames=frames, transaction="/checkout/")).culprit == "/checkout/"


def test_the_culprit_is_the_newest_in_app_frame_written_module_in_function():
    frames = [
        py_frame("shop.views", "checkout"),
        py_frame("shop.cart", "total"),
        py_frame("decimal", "__new__", in_app=False),
    ]
    assert group_event(error(frames=frames)).culprit == "shop.cart in total"


def test_without_in_app_frames_the_culprit_is_the_newest_frame():
    frames = [py_frame("gunicorn.app", "run", False), py_frame("json.decoder", "decode", False)]
    assert group_event(error(frames=frames)).culprit == "json.decoder in decode"


def test_a_javascript_culprit_is_written_function_then_file():
    frames = [
        {
            "function": "HTMLButtonElement.onClick",
            "filename": "https://shop.example.com/static/app.js",
            "abs_path": "https://shop.example.com/static/app.js",
            "in_app": True,
        }
    ]
    event = error(frames=frames, platform="javascript")
    assert group_event(event).culprit == "HTMLButtonElement.onClick(/static/app.js)"


def test_without_frames_or_transaction_the_culprit_is_the_request_url():
    event = error(request={"url": "https://shop.example.com/cart"})
    assert group_event(event).culprit == "https://shop.example.com/cart"


def test_error_metadata_names_the_crashing_frame_and_the_frame_mix():
    frames = [py_frame("gunicorn.app", "run", False), py_frame("shop.cart", "total")]
    assert group_event(error(frames=frames)).metadata == {
        "type": "ValueError",
        "value": "invalid literal for int() with base 10: 'x'",
        "filename": "shop/cart.py",
        "function": "total",
        "in_app_frame_mix": "mixed",
    }


@pytest.mark.parametrize(
    ("in_app", "mix"),
    [([True, True], "in-app-only"), ([False, False], "system-only"), ([], "system-only")],
)
def test_the_frame_mix_says_whose_code_the_stack_runs_through(in_app, mix):
    frames = [py_frame("m", f"f{i}", flag) for i, flag in enumerate(in_app)]
    assert group_event(error(frames=frames)).metadata["in_app_frame_mix"] == mix


def test_the_metadata_value_is_capped():
    assert len(group_event(error("v" * 10_000)).metadata["value"]) == 1024


def test_the_default_version_is_known_and_used_by_default():
    assert DEFAULT_GROUPING_VERSION == "newstyle:2023-01-11"
    assert DEFAULT_GROUPING_VERSION in GROUPING_VERSIONS
    assert group_event(error()) == group_event(error(), DEFAULT_GROUPING_VERSION)


def test_an_unknown_grouping_version_is_refused():
    with pytest.raises(ValueError, match="unknown grouping version"):
        group_event(error(), "newstyle:1999-01-01")


def test_a_result_is_immutable_and_its_hashes_are_md5_hex():
    result = group_event(error())
    assert isinstance(result, GroupingResult)
    with pytest.raises(AttributeError):
        result.title = "x"  # type: ignore[misc]
    assert all(len(h) == 32 and int(h, 16) >= 0 for h in result.hashes)


def test_grouping_does_not_modify_the_event():
    event = error(frames=[py_frame("shop.cart", "total")], fingerprint=["{{ default }}", "x"])
    before = repr(event)
    group_event(event)
    assert repr(event) == before


def test_a_js_capture_message_with_a_synthetic_exception_is_titled_by_its_message():
    event = {
        "platform": "node",
        "logentry": {"formatted": "Queue backlog above 1000 items"},
        "exception": {
            "values": [
                {
                    "value": "Queue backlog above 1000 items",
                    "mechanism": {"type": "generic", "synthetic": True},
                    "stacktrace": {
                        "frames": [{"function": "main", "module": "app", "in_app": True}]
                    },
                }
            ]
        },
    }
    assert group_event(event).title == "Queue backlog above 1000 items"
