from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine

from tracehound.digest.normalize import normalize_event

NOW = 1_795_341_823.5  # 2026-11-22T10:03:43.5Z
DAY = 86_400.0


def normalize(event: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "event_id": None,
        "received_at": NOW,
        "sent_at": None,
        "client_ip": "203.0.113.7",
    }
    options.update(overrides)
    return normalize_event(event, **options)


def rfc3339(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


# --- event_id ----------------------------------------------------------------------


def test_it_prefers_the_envelope_event_id_over_the_payload():
    event = normalize({"event_id": "a" * 32}, event_id="B" * 32)
    assert event["event_id"] == "b" * 32


def test_it_accepts_a_dashed_uuid_as_event_id():
    event = normalize({"event_id": "9EC79C33-EC99-42AB-8353-589FCB2E04DC"})
    assert event["event_id"] == "9ec79c33ec9942ab8353589fcb2e04dc"


def test_it_falls_back_to_the_payload_event_id_when_the_envelope_one_is_invalid():
    event = normalize({"event_id": "c" * 32}, event_id="nope")
    assert event["event_id"] == "c" * 32


def test_it_generates_an_event_id_when_missing_or_invalid():
    first = normalize({})["event_id"]
    second = normalize({"event_id": "not-an-id"})["event_id"]
    for event_id in (first, second):
        assert len(event_id) == 32
        int(event_id, 16)
    assert first != second


# --- timestamps ----------------------------------------------------------------------


def test_it_accepts_float_and_rfc3339_timestamps():
    cases = {
        NOW - 10.25: NOW - 10.25,
        "2026-11-22T10:03:33.250000Z": NOW - 10.25,
        "2026-11-22T10:03:33Z": NOW - 10.5,
        "2026-11-22T12:03:33.25+02:00": NOW - 10.25,
        "2026-11-22T10:03:33.25": NOW - 10.25,  # naive means UTC
        "1795341813.25": NOW - 10.25,
    }
    for raw, expected in cases.items():
        assert normalize({"timestamp": raw})["timestamp"] == expected, raw


def test_it_uses_the_receive_time_when_the_timestamp_is_missing_or_garbage():
    assert normalize({})["timestamp"] == NOW
    assert normalize({"timestamp": "yesterday"})["timestamp"] == NOW
    assert "_meta" not in normalize({})


def test_it_records_the_receive_time():
    assert normalize({})["received"] == NOW


def test_it_clamps_timestamps_older_than_30_days():
    event = normalize({"timestamp": NOW - 31 * DAY})

    assert event["timestamp"] == NOW
    [[kind, times]] = event["_meta"]["timestamp"][""]["err"]
    assert kind == "past_timestamp"
    assert times["server_time"] == datetime.fromtimestamp(NOW, UTC).isoformat()
    assert times["sdk_time"] == datetime.fromtimestamp(NOW - 31 * DAY, UTC).isoformat()


def test_it_clamps_timestamps_more_than_a_minute_in_the_future():
    assert normalize({"timestamp": NOW + 59})["timestamp"] == NOW + 59

    event = normalize({"timestamp": NOW + 61})
    assert event["timestamp"] == NOW
    assert event["_meta"]["timestamp"][""]["err"][0][0] == "future_timestamp"


def test_it_keeps_timestamps_just_inside_the_30_day_window():
    assert normalize({"timestamp": NOW - 29 * DAY})["timestamp"] == NOW - 29 * DAY


def test_it_corrects_clock_drift_of_an_hour_or_more():
    # The device clock runs two hours behind: everything it stamped shifts forward.
    behind = 2 * 3600.0
    event = normalize(
        {
            "timestamp": NOW - behind - 5,
            "start_timestamp": NOW - behind - 7,
            "breadcrumbs": [{"timestamp": rfc3339(NOW - behind - 60), "message": "hi"}],
        },
        sent_at=rfc3339(NOW - behind),
    )
    assert event["timestamp"] == NOW - 5
    assert event["start_timestamp"] == NOW - 7
    assert event["breadcrumbs"]["values"][0]["timestamp"] == NOW - 60
    assert "_meta" not in event


def test_it_leaves_small_clock_drift_alone():
    event = normalize({"timestamp": NOW - 600}, sent_at=rfc3339(NOW - 54 * 60))
    assert event["timestamp"] == NOW - 600


def test_it_ignores_an_unreadable_sent_at():
    assert normalize({"timestamp": NOW - 5}, sent_at="soon")["timestamp"] == NOW - 5


def test_it_corrects_drift_before_clamping_so_a_wrong_clock_keeps_its_event_time():
    # Clock set a year ahead: without drift correction this would be clamped.
    ahead = 365 * DAY
    event = normalize({"timestamp": NOW + ahead - 3}, sent_at=rfc3339(NOW + ahead))
    assert event["timestamp"] == NOW - 3
    assert "_meta" not in event


@time_machine.travel(datetime.fromtimestamp(NOW, UTC), tick=False)
def test_it_works_with_the_wall_clock_as_receive_time():
    import time

    event = normalize({"timestamp": "2026-11-22T10:03:40Z"}, received_at=time.time())
    assert event["timestamp"] == NOW - 3.5
    assert event["received"] == NOW


# --- breadcrumbs -----------------------------------------------------------------------


def test_it_wraps_a_breadcrumb_list_in_values_and_drops_non_objects():
    event = normalize({"breadcrumbs": [{"message": "a", "timestamp": "2026-11-22T09:00:00Z"}, 5]})
    assert event["breadcrumbs"] == {
        "values": [
            {
                "type": "default",
                "message": "a",
                "timestamp": datetime(2026, 11, 22, 9, tzinfo=UTC).timestamp(),
            }
        ]
    }


def test_it_keeps_the_100_most_recent_breadcrumbs():
    crumbs = [{"message": str(i), "timestamp": NOW - 200 + i} for i in range(150)]
    event = normalize({"breadcrumbs": {"values": crumbs}})

    values = event["breadcrumbs"]["values"]
    assert len(values) == 100
    assert values[0]["message"] == "50"
    assert values[-1]["message"] == "149"
    assert event["_meta"]["breadcrumbs"]["values"][""] == {"len": 150}


def test_it_drops_breadcrumbs_that_are_not_a_list():
    assert "breadcrumbs" not in normalize({"breadcrumbs": "nope"})


# --- level, platform and short strings ---------------------------------------------------


def test_it_maps_level_aliases_and_defaults_invalid_levels_to_error():
    cases = {
        "WARN": "warning",
        "critical": "fatal",
        "log": "info",
        "Debug": "debug",
        30: "warning",
        None: "error",
        "loud": "error",
    }
    for raw, expected in cases.items():
        assert normalize({"level": raw})["level"] == expected, raw
    assert normalize({"level": "loud"})["_meta"]["level"][""]["err"] == ["invalid_data"]


def test_it_defaults_the_platform_to_other():
    assert normalize({})["platform"] == "other"
    assert normalize({"platform": "klingon"})["platform"] == "other"
    assert normalize({"platform": "python"})["platform"] == "python"


def test_it_trims_short_fields_to_their_caps():
    event = normalize({"logger": "x" * 100, "environment": " production ", "release": 1.5})

    assert event["logger"] == "x" * 61 + "..."
    assert event["_meta"]["logger"][""] == {"rem": [["!limit", "s", 61, 64]], "len": 100}
    assert event["environment"] == "production"
    assert event["release"] == "1.5"


def test_it_removes_short_fields_that_are_not_scalars():
    event = normalize({"release": {"v": 1}, "dist": "", "server_name": None})
    assert "release" not in event
    assert "dist" not in event
    assert "server_name" not in event
    assert event["_meta"]["release"][""]["err"] == ["invalid_data"]


# --- message -------------------------------------------------------------------------


def test_it_turns_a_plain_message_into_a_logentry():
    event = normalize({"message": "Something broke"})
    assert "message" not in event
    assert event["logentry"] == {"formatted": "Something broke"}


def test_it_treats_a_message_object_as_a_logentry():
    event = normalize({"message": {"message": "hello %s", "params": ["bob"]}})
    assert event["logentry"] == {
        "message": "hello %s",
        "params": ["bob"],
        "formatted": "hello bob",
    }


def test_it_formats_percent_style_params():
    event = normalize(
        {"logentry": {"message": "%s took %d ms (%.1f%%) %(x)s", "params": ["GET", 12.0, 3.25]}}
    )
    assert event["logentry"]["formatted"] == "GET took 12 ms (3.25%) %(x)s"


def test_it_formats_brace_style_params():
    event = normalize({"logentry": {"message": "{} and {0} and {1!r:>4}", "params": ["a", "b"]}})
    assert event["logentry"]["formatted"] == "a and a and b"


def test_it_formats_named_params():
    event = normalize({"logentry": {"message": "user %(name)s", "params": {"name": "ann"}}})
    assert event["logentry"]["formatted"] == "user ann"


def test_it_keeps_a_formatted_message_the_client_sent():
    event = normalize({"logentry": {"message": "hi %s", "params": ["x"], "formatted": "hi X!"}})
    assert event["logentry"]["formatted"] == "hi X!"


def test_it_ignores_huge_format_widths():
    event = normalize({"logentry": {"message": "%999999999s!", "params": ["x"]}})
    assert event["logentry"]["formatted"] == "x!"


def test_it_caps_messages_at_8192_characters_with_an_allowance():
    assert len(normalize({"message": "m" * 8300})["logentry"]["formatted"]) == 8300

    event = normalize({"message": "m" * 9000})
    assert len(event["logentry"]["formatted"]) == 8192
    assert event["_meta"]["logentry"]["formatted"][""]["len"] == 9000


# --- tags ------------------------------------------------------------------------------


def test_it_turns_a_tag_map_into_pairs():
    event = normalize({"tags": {"browser": "Firefox", "count": 3, "ok": True}})
    assert event["tags"] == [["browser", "Firefox"], ["count", "3"], ["ok", "true"]]


def test_it_cleans_tag_pairs():
    event = normalize(
        {
            "tags": [
                ["a", "1"],
                ["", "empty key"],
                ["b", ""],
                ["a", "duplicate"],
                ["k" * 250, "v" * 250],
                "garbage",
                ["c", None],
            ]
        }
    )
    assert event["tags"] == [["a", "1"], ["k" * 197 + "...", "v" * 197 + "..."]]
    assert event["_meta"]["tags"]["1"]["0"][""]["len"] == 250
    assert event["_meta"]["tags"]["1"]["1"][""]["len"] == 250


# --- exceptions and stack traces ---------------------------------------------------------


def test_it_wraps_an_exception_list_in_values():
    event = normalize({"exception": [{"type": "ValueError", "value": "bad"}]})
    assert event["exception"] == {"values": [{"type": "ValueError", "value": "bad"}]}


def test_it_wraps_a_single_exception_object_in_values():
    event = normalize({"exception": {"type": "TypeError", "value": 42}})
    assert event["exception"] == {"values": [{"type": "TypeError", "value": "42"}]}


def test_it_coerces_exception_values_and_frame_line_numbers():
    event = normalize(
        {
            "exception": {
                "values": [
                    {
                        "type": "E",
                        "value": {"detail": "x"},
                        "module": None,
                        "stacktrace": {
                            "frames": [{"lineno": "12", "colno": 3.0}, "junk", {"lineno": "x"}]
                        },
                    }
                ]
            }
        }
    )
    exc = event["exception"]["values"][0]
    assert exc["value"] == '{"detail":"x"}'
    assert "module" not in exc
    assert exc["stacktrace"]["frames"] == [{"lineno": 12, "colno": 3}, {}]


def test_it_keeps_both_ends_of_a_very_long_stack_trace():
    frames = [{"function": f"f{i}"} for i in range(300)]
    event = normalize({"exception": {"values": [{"type": "E", "stacktrace": {"frames": frames}}]}})

    stacktrace = event["exception"]["values"][0]["stacktrace"]
    kept = [frame["function"] for frame in stacktrace["frames"]]
    # The 50 oldest and the 200 newest, as Relay trims and as grouping assumes.
    assert len(kept) == 250
    assert kept[:2] == ["f0", "f1"]
    assert kept[49:51] == ["f49", "f100"]
    assert kept[-1] == "f299"
    assert stacktrace["frames_omitted"] == [50, 100]
    meta = event["_meta"]["exception"]["values"]["0"]["stacktrace"]["frames"][""]
    assert meta == {"len": 300}


def test_it_normalizes_threads_and_a_top_level_stacktrace():
    event = normalize(
        {
            "threads": [{"id": 1, "stacktrace": {"frames": [{"lineno": "7"}]}}],
            "stacktrace": {"frames": [{"lineno": "8"}]},
        }
    )
    assert event["threads"]["values"][0]["stacktrace"]["frames"] == [{"lineno": 7}]
    assert event["stacktrace"]["frames"] == [{"lineno": 8}]


def test_it_keeps_a_culprit_the_sdk_sent_and_leaves_deriving_one_to_grouping():
    assert normalize({"culprit": "mine", "transaction": "/x"})["culprit"] == "mine"
    assert "culprit" not in normalize({"transaction": "/api/items"})


def test_it_trims_deep_databags_and_records_it():
    deep = {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}
    event = normalize({"extra": {"deep": deep}})

    # The bag root is level 1, so the sixth level of containers goes.
    assert event["extra"]["deep"] == {"a": {"b": {"c": {"d": {"e": None}}}}}
    meta = event["_meta"]["extra"]["deep"]["a"]["b"]["c"]["d"]["e"][""]
    assert meta == {"rem": [["!limit", "x"]]}


def test_it_trims_long_strings_in_frame_vars():
    frame = {"function": "f", "vars": {"blob": "x" * 2000, "short": "ok"}}
    event = normalize({"exception": {"values": [{"type": "E", "stacktrace": {"frames": [frame]}}]}})

    vars_ = event["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"]
    assert vars_ == {"blob": "x" * 509 + "...", "short": "ok"}
    meta = event["_meta"]["exception"]["values"]["0"]["stacktrace"]["frames"]["0"]["vars"]
    assert meta["blob"][""] == {"rem": [["!limit", "s", 509, 512]], "len": 2000}


def test_it_drops_the_rest_of_a_databag_over_its_size_budget():
    extra = {"big": {f"k{i}": "v" * 400 for i in range(100)}}
    event = normalize({"extra": extra})

    kept = event["extra"]["big"]
    assert 30 < len(kept) < 50
    assert event["_meta"]["extra"]["big"][""] == {"len": 100}


def test_it_trims_breadcrumb_data_and_request_data():
    event = normalize(
        {
            "breadcrumbs": [{"data": {"body": "b" * 600}}],
            "request": {"data": {"form": {"text": "t" * 600}}},
        }
    )
    assert len(event["breadcrumbs"]["values"][0]["data"]["body"]) == 512
    # Request bodies get a larger string limit than other bags.
    assert event["request"]["data"]["form"]["text"] == "t" * 600


def test_it_gives_each_context_a_type_and_drops_non_objects():
    event = normalize({"contexts": {"os": {"name": "Linux"}, "gpu": "fast", "app": {"type": "x"}}})
    assert event["contexts"] == {"os": {"name": "Linux", "type": "os"}, "app": {"type": "x"}}


# --- user and request ----------------------------------------------------------------------


def test_it_fills_in_the_auto_ip_address():
    event = normalize({"user": {"id": "1", "ip_address": "{{auto}}"}})
    assert event["user"] == {"id": "1", "ip_address": "203.0.113.7"}


def test_it_drops_the_auto_ip_address_without_a_client_ip():
    event = normalize({"user": {"ip_address": "{{auto}}"}}, client_ip=None)
    assert event["user"] == {}


def test_it_infers_the_ip_when_the_sdk_asks_for_it():
    event = normalize(
        {"sdk": {"name": "sentry.javascript.browser", "settings": {"infer_ip": "auto"}}}
    )
    assert event["user"] == {"ip_address": "203.0.113.7"}


def test_it_infers_the_ip_for_legacy_javascript_sdks():
    assert normalize({"platform": "javascript"})["user"] == {"ip_address": "203.0.113.7"}
    assert "user" not in normalize({"platform": "python"})


def test_it_never_infers_the_ip_when_the_sdk_says_never():
    event = normalize({"platform": "javascript", "sdk": {"settings": {"infer_ip": "never"}}})
    assert "user" not in event


def test_it_uses_remote_addr_as_the_user_ip():
    event = normalize({"request": {"env": {"REMOTE_ADDR": "{{auto}}"}}, "user": {"id": "7"}})
    assert event["request"]["env"] == {"REMOTE_ADDR": "203.0.113.7"}
    assert event["user"] == {"id": "7", "ip_address": "203.0.113.7"}


def test_it_keeps_request_headers_as_given_but_with_string_values():
    event = normalize(
        {
            "request": {
                "headers": {"Accept": ["a", "b"], "X-Count": 2, "X-Bad": {"n": 1}},
                "cookies": "a=b; c=d",
                "query_string": [["q", "1"], ["bad"]],
            }
        }
    )
    assert event["request"] == {
        "headers": {"Accept": "a, b", "X-Count": "2"},
        "cookies": "a=b; c=d",
        "query_string": [["q", "1"]],
    }


# --- _meta and unknown keys ---------------------------------------------------------------


def test_it_keeps_client_meta_and_merges_its_own():
    client_meta = {"extra": {"x": {"": {"rem": [["!config", "s"]]}}}}
    event = normalize({"_meta": client_meta, "logger": "l" * 70})
    assert event["_meta"]["extra"] == client_meta["extra"]
    assert event["_meta"]["logger"][""]["len"] == 70


def test_it_drops_client_meta_that_is_not_an_object():
    assert "_meta" not in normalize({"_meta": "junk"})


def test_it_keeps_unknown_top_level_keys():
    event = normalize({"modules": {"django": "5.2"}, "x_custom": [1, 2]})
    assert event["modules"] == {"django": "5.2"}
    assert event["x_custom"] == [1, 2]


def test_it_returns_the_same_dict_it_was_given():
    event: dict[str, Any] = {}
    assert normalize(event) is event


def test_a_trimmed_stack_groups_as_the_raw_one():
    import copy
    import time

    from tracehound.digest.process import ProjectGrouping, process_event
    from tracehound.grouping import group_event

    frames = [{"function": f"f{i}", "module": "app", "in_app": True} for i in range(400)]
    event = {
        "platform": "python",
        "exception": {"values": [{"type": "E", "value": "v", "stacktrace": {"frames": frames}}]},
    }
    processed = process_event(
        copy.deepcopy(event),
        event_id=None,
        received_at=time.time(),
        sent_at=None,
        client_ip=None,
        grouping=ProjectGrouping("newstyle:2023-01-11"),
    )
    assert processed.grouping.hashes == group_event(copy.deepcopy(event)).hashes


BIG = 2**64


@pytest.mark.parametrize(
    "exception",
    [
        {"type": "E", "thread_id": BIG},
        {"type": "E", "mechanism": {"type": "x", "exception_id": BIG, "is_exception_group": True}},
        {"type": "E", "mechanism": {"type": "x", "exception_id": 1, "parent_id": BIG}},
        {
            "type": "E",
            "mechanism": {"type": "x", "meta": {"ns_error": {"domain": "d", "code": BIG}}},
        },
    ],
)
def test_ints_json_cannot_hold_in_ids_do_not_lose_the_event(exception):
    # orjson parses such a number as a float; a Python caller can still pass one.
    import time

    from tracehound.digest.process import ProjectGrouping, process_event

    for event in (
        {"exception": {"values": [exception]}},
        {
            "exception": {"values": [exception]},
            "threads": {"values": [{"id": BIG, "crashed": True}]},
        },
    ):
        processed = process_event(
            event,
            event_id=None,
            received_at=time.time(),
            sent_at=None,
            client_ip=None,
            grouping=ProjectGrouping("newstyle:2023-01-11"),
        )
        assert processed.grouping.title.startswith("E")
