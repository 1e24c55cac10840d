"""normalize gives every field a renderer reads the type and size the renderer expects."""

from __future__ import annotations

from typing import Any

from tests.digest.test_normalize import NOW, normalize


def one_frame(**frame: Any) -> dict[str, Any]:
    return {"exception": {"values": [{"type": "E", "stacktrace": {"frames": [frame]}}]}}


def frame_of(event: dict[str, Any]) -> dict[str, Any]:
    frame: dict[str, Any] = event["exception"]["values"][0]["stacktrace"]["frames"][0]
    return frame


# --- breadcrumbs ---------------------------------------------------------------------


def test_null_breadcrumbs_are_dropped_instead_of_failing_the_event():
    event = normalize({"breadcrumbs": None, "timestamp": NOW})
    assert "breadcrumbs" not in event
    assert event["timestamp"] == NOW


def test_a_breadcrumb_without_a_type_gets_the_default_type():
    event = normalize({"breadcrumbs": [{"category": "ui.click", "message": "clicked"}]})
    assert event["breadcrumbs"]["values"][0]["type"] == "default"


def test_breadcrumb_fields_become_strings_and_unknown_keys_go():
    crumb = {"type": ["t"], "category": 5, "message": {"m": 1}, "level": "loud", "x": "y"}
    [normalized] = normalize({"breadcrumbs": [crumb]})["breadcrumbs"]["values"]
    assert normalized == {"type": "default", "category": "5"}


def test_breadcrumb_timestamps_that_are_no_showable_date_are_removed():
    crumbs = [{"timestamp": 1e300}, {"timestamp": -1e15}, {"timestamp": NOW}]
    event = normalize({"breadcrumbs": crumbs})
    assert [c.get("timestamp") for c in event["breadcrumbs"]["values"]] == [None, None, NOW]
    assert event["_meta"]["breadcrumbs"]["values"]["0"]["timestamp"][""]["err"]


def test_a_sent_at_in_year_one_does_not_push_breadcrumbs_past_year_9999():
    crumbs = [{"timestamp": 253_402_000_000.0}]
    event = normalize({"breadcrumbs": crumbs}, sent_at="0001-01-01T00:00:00Z")
    assert "timestamp" not in event["breadcrumbs"]["values"][0]
    assert event["timestamp"] == NOW


# --- exceptions and frames --------------------------------------------------------------


def test_exception_type_and_value_are_trimmed_like_relay_does():
    event = normalize({"exception": {"values": [{"type": "T" * 300_000, "value": "v" * 300_000}]}})
    exc = event["exception"]["values"][0]
    assert (len(exc["type"]), len(exc["value"])) == (256, 8192)
    assert event["_meta"]["exception"]["values"]["0"]["value"][""]["len"] == 300_000


def test_context_lines_that_are_not_a_list_are_removed():
    frame = frame_of(normalize(one_frame(lineno=3, context_line="x", pre_context=7)))
    assert "pre_context" not in frame


def test_context_lines_become_strings_and_keep_the_nearest_fifty():
    pre = [f"line {i}" for i in range(100)] + [None]
    frame = frame_of(normalize(one_frame(pre_context=pre, post_context=[1, "b"])))
    assert frame["pre_context"][-2:] == ["line 99", ""]
    assert len(frame["pre_context"]) == 50
    assert frame["post_context"] == ["1", "b"]


def test_line_numbers_beyond_any_file_and_non_bool_in_app_are_removed():
    frame = frame_of(normalize(one_frame(lineno=2**64 - 1, colno=-1, in_app="yes")))
    assert not {"lineno", "colno", "in_app"} & set(frame)


def test_frame_names_become_strings_within_their_caps():
    frame = frame_of(normalize(one_frame(function={"f": 1}, module=7, filename="f" * 1000)))
    assert "function" not in frame
    assert frame["module"] == "7"
    assert len(frame["filename"]) == 256


def test_a_long_exception_chain_keeps_both_ends():
    values = [{"type": f"E{i}"} for i in range(120)]
    kept = normalize({"exception": {"values": values}})["exception"]["values"]
    assert len(kept) == 50
    assert (kept[0]["type"], kept[-1]["type"]) == ("E0", "E119")


def test_a_mechanism_is_an_object_with_a_type_and_a_bool_handled():
    exc = normalize({"exception": {"values": [{"type": "E", "mechanism": {"handled": "no"}}]}})
    assert exc["exception"]["values"][0]["mechanism"] == {"type": "generic"}
    exc = normalize({"exception": {"values": [{"type": "E", "mechanism": "onerror"}]}})
    assert "mechanism" not in exc["exception"]["values"][0]


# --- tags, user, request, interfaces -------------------------------------------------------


def test_it_keeps_the_first_200_tags():
    event = normalize({"tags": {f"k{i}": "v" for i in range(10_000)}})
    assert len(event["tags"]) == 200
    assert event["tags"][0] == ["k0", "v"]
    assert event["_meta"]["tags"][""]["len"] == 10_000


def test_user_fields_become_strings_and_a_user_that_is_not_an_object_goes():
    event = normalize({"user": {"id": 2**64 - 1, "email": "e" * 100, "username": ["x"]}})
    assert event["user"]["id"] == str(2**64 - 1)
    assert len(event["user"]["email"]) == 75
    assert "username" not in event["user"]
    assert "user" not in normalize({"user": ["u"]}, client_ip=None)


def test_request_url_and_method_become_strings_within_their_caps():
    event = normalize({"request": {"url": "http://x/" + "a" * 5000, "method": ["GET"]}})
    assert len(event["request"]["url"]) == 2048
    assert "method" not in event["request"]


def test_interfaces_shown_as_they_are_must_be_objects():
    event = normalize({"sdk": "evil", "modules": ["m"], "csp": 5})
    assert not {"sdk", "modules", "csp"} & set(event)


def test_client_meta_is_bounded():
    event = normalize({"_meta": {"extra": {"x": "y" * 100_000}}})
    assert len(event["_meta"]["extra"]["x"]) == 512


# --- NUL ------------------------------------------------------------------------------------


def test_nul_is_stripped_from_every_string_and_key_at_any_depth():
    deep: Any = "a\x00b"
    for _ in range(1500):  # deeper than Python's recursion limit
        deep = [deep]
    event = normalize(
        {"message": "m\x00", "tags": {"k\x00": "v\x00"}, "extra": {"x\x00": {"y": deep}}}
    )
    assert event["logentry"]["formatted"] == "m"
    assert event["tags"] == [["k", "v"]]
    assert list(event["extra"]) == ["x"]
