"""Project fingerprint rules: which events a rule puts together, which it keeps apart, and why."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest

from tracehound.grouping import group_event
from tracehound.grouping.project_rules import compile_project_rules, project_rules


def md5(*values: str) -> str:
    return hashlib.md5("".join(values).encode()).hexdigest()


def python_error(type_: str = "OperationalError", value: str = "could not connect", **extra: Any):
    """A sentry-python error event as digest sees it (normalized)."""
    event: dict[str, Any] = {
        "platform": "python",
        "level": "error",
        "logger": "django.request",
        "transaction": "/api/orders/",
        "release": "shop@2.4.1",
        "sdk": {"name": "sentry.python.django", "version": "2.75.0"},
        "tags": [["environment", "production"], ["region", "eu-west"]],
        "exception": {
            "values": [
                {
                    "type": type_,
                    "value": value,
                    "module": "django.db.utils",
                    "mechanism": {"type": "django", "handled": False},
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": "django/core/handlers/base.py",
                                "abs_path": "/usr/lib/python3.11/site-packages/django/core/handlers/base.py",
                                "module": "django.core.handlers.base",
                                "function": "_get_response",
                                "context_line": "response = wrapped_callback(request)",
                                "in_app": False,
                            },
                            {
                                "filename": "shop/orders.py",
                                "abs_path": "/srv/shop/shop/orders.py",
                                "module": "shop.orders",
                                "function": "list_orders",
                                "package": "/srv/shop",
                                "context_line": "return Order.objects.all()",
                                "in_app": True,
                            },
                        ]
                    },
                }
            ]
        },
    }
    event.update(extra)
    return event


def js_error(type_: str = "TypeError", value: str = "x is undefined", **extra: Any):
    event: dict[str, Any] = {
        "platform": "javascript",
        "sdk": {"name": "sentry.javascript.browser", "version": "8.0.0"},
        "exception": {
            "values": [
                {
                    "type": type_,
                    "value": value,
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": "https://cdn.example.com/app.3f2a.js",
                                "abs_path": "https://cdn.example.com/app.3f2a.js",
                                "function": "loadRoute",
                                "in_app": True,
                            }
                        ]
                    },
                }
            ]
        },
    }
    event.update(extra)
    return event


def java_error(type_: str, value: str, driver_function: str) -> dict[str, Any]:
    """A sentry-java (Spring Boot) event: the driver frames are library code."""
    return {
        "platform": "java",
        "sdk": {"name": "sentry.java.spring-boot.jakarta", "version": "7.14.0"},
        "exception": {
            "values": [
                {
                    "type": type_,
                    "value": value,
                    "module": "org.postgresql.util",
                    "stacktrace": {
                        "frames": [
                            {
                                "module": "com.acme.shop.OrderService",
                                "function": "placeOrder",
                                "filename": "OrderService.java",
                                "in_app": True,
                            },
                            {
                                "module": "org.postgresql.core.v3.QueryExecutorImpl",
                                "function": driver_function,
                                "filename": "QueryExecutorImpl.java",
                                "in_app": False,
                            },
                        ]
                    },
                }
            ]
        },
    }


def native_crash(package: str, function: str) -> dict[str, Any]:
    """A sentry-native minidump-style crash: frames name their image (package)."""
    return {
        "platform": "native",
        "exception": {
            "values": [
                {
                    "type": "EXCEPTION_ACCESS_VIOLATION_READ",
                    "value": "Fatal Error: EXCEPTION_ACCESS_VIOLATION_READ",
                    "mechanism": {"type": "minidump", "synthetic": True},
                    "stacktrace": {
                        "frames": [
                            {"function": "main", "package": "C:\\app\\game.exe", "in_app": True},
                            {
                                "function": function,
                                "package": package,
                                "instruction_addr": "0x7ff6",
                            },
                        ]
                    },
                }
            ]
        },
    }


def with_frame(event: dict[str, Any], **frame: Any) -> dict[str, Any]:
    event = copy.deepcopy(event)
    event["exception"]["values"][-1]["stacktrace"]["frames"].append(frame)
    return event


def grouped(event: dict[str, Any], text: str) -> list[str]:
    return group_event(event, rules=compile_project_rules(text, "")).hashes


# (rule text, first event, second event, together?, why)
CASES = [
    (
        "error.type:OperationalError -> database-down",
        python_error(value="could not connect to server"),
        python_error(value="FATAL: too many connections", transaction="/api/cart/"),
        True,
        "one error type is one issue, whatever its message or place",
    ),
    (
        "type:OperationalError -> database-down",
        python_error(),
        python_error("IntegrityError"),
        False,
        "the alias type: matches only that exception type; the other keeps its default group",
    ),
    (
        "error.type:operationalerror -> database-down",
        python_error(),
        with_frame(python_error(), module="shop.db", function="connect", in_app=True),
        False,
        "error.type is case-sensitive: the rule does not apply, so the stacks keep them apart",
    ),
    (
        'error.value:"could not connect*" -> connection-error, {{ transaction }}',
        python_error(value="Could not connect to db-1"),
        python_error(value="could not connect to db-2"),
        True,
        "error.value is a case-insensitive glob",
    ),
    (
        'error.value:"could not connect*" -> connection-error, {{ transaction }}',
        python_error(value="could not connect to db-1"),
        python_error(value="could not connect to db-1", transaction="/api/cart/"),
        False,
        "{{ transaction }} splits the rule's issue per transaction",
    ),
    (
        "message:*timeout* -> timeouts",
        {"platform": "python", "logentry": {"formatted": "Upstream TIMEOUT after 30s"}},
        python_error("ReadTimeout", "read timeout=5"),
        True,
        "message: looks at log messages and at exception values",
    ),
    (
        "logger:django.* level:error -> django-errors",
        python_error(),
        python_error("KeyError", "'sku'"),
        True,
        "all matchers of a line must hold: logger glob and level",
    ),
    (
        "logger:django.* level:warning -> django-warnings",
        python_error(),
        python_error("KeyError", "'sku'"),
        False,
        "level does not match, so neither event is fingerprinted",
    ),
    (
        "tags.region:eu-* -> europe",
        python_error(),
        python_error("KeyError", "'sku'"),
        True,
        "tags.<name> matches the tag's value",
    ),
    (
        "!tags.region:eu-* -> not-europe",
        python_error(),
        python_error("KeyError", "'sku'"),
        False,
        "a negated matcher holds only when no value matches",
    ),
    (
        "stack.function:list_orders -> orders",
        python_error(),
        python_error("KeyError", "'sku'"),
        True,
        "stack.function matches any frame of the stack",
    ),
    (
        "stack.module:shop.* app:no -> shop-library",
        python_error(),
        python_error("KeyError", "'sku'"),
        False,
        "frame matchers must hold on one frame: shop.* frames are all in-app",
    ),
    (
        "stack.module:django.* app:no -> django-frames",
        python_error(),
        python_error("KeyError", "'sku'"),
        True,
        "module and app hold together on the django frame",
    ),
    (
        "stack.abs_path:**/shop/*.py -> shop-code",
        python_error(),
        python_error("KeyError", "'sku'"),
        True,
        "path globs: ** crosses directories, * stays within one",
    ),
    (
        "path:/srv/*.py -> shallow",
        python_error(),
        python_error("KeyError", "'sku'"),
        False,
        "in a path glob * does not cross '/', so /srv/*.py misses /srv/shop/shop/orders.py",
    ),
    (
        "stack.package:/SRV/SHOP -> shop-package",
        python_error(),
        python_error("KeyError", "'sku'"),
        True,
        "stack.package is a case-insensitive path match",
    ),
    (
        "family:javascript -> frontend",
        js_error(),
        js_error("ReferenceError", "y is not defined"),
        True,
        "family: the frame's (or event's) platform family",
    ),
    (
        "family:native,javascript type:TypeError -> typed",
        js_error(),
        python_error("TypeError", "unsupported operand"),
        False,
        "python is family 'other': only the JavaScript event gets the rule's fingerprint",
    ),
    (
        "sdk:sentry.javascript.* -> browser",
        js_error(),
        js_error("ReferenceError", "y is not defined"),
        True,
        "sdk: matches the SDK's name",
    ),
    (
        "release:shop@2.* -> shop-two",
        python_error(),
        python_error("KeyError", "'sku'", release="shop@2.5.0"),
        True,
        "release: matches the event's release",
    ),
    (
        "release:shop@2.* -> shop-two",
        python_error(),
        python_error("KeyError", "'sku'", release="shop@3.0.0"),
        False,
        "an event of another release keeps its default group",
    ),
    (
        "stack.module:org.postgresql.* error.type:*PSQLException -> postgres",
        java_error("org.postgresql.util.PSQLException", "connection refused", "sendQuery"),
        java_error("org.postgresql.util.PSQLException", "timeout", "receiveResponse"),
        True,
        "Java: any PSQLException from the driver is the database, whichever driver frame",
    ),
    (
        "stack.module:org.postgresql.* error.type:*PSQLException -> postgres",
        java_error("org.postgresql.util.PSQLException", "x", "sendQuery"),
        java_error("java.sql.SQLTimeoutException", "x", "sendQuery"),
        False,
        "Java: another exception type from the same frames keeps its default group",
    ),
    (
        "family:native stack.package:**/libssl* -> tls-crash",
        native_crash("/usr/lib/x86_64-linux-gnu/libssl.so.3", "SSL_read"),
        native_crash("/usr/lib/x86_64-linux-gnu/libssl.so.3", "ssl3_read_bytes"),
        True,
        "native: any crash inside libssl is one issue",
    ),
    (
        "family:native stack.package:**/libssl* -> tls-crash",
        native_crash("/usr/lib/x86_64-linux-gnu/libssl.so.3", "SSL_read"),
        native_crash("C:\\Windows\\System32\\ntdll.dll", "RtlUserThreadStart"),
        False,
        "native: a crash in another image is not the libssl issue",
    ),
    (
        "error.type:OperationalError -> {{ default }}, {{ tags.region }}",
        python_error(),
        python_error(tags=[["region", "us-east"]]),
        False,
        "{{ default }} refines the default group, here split by region",
    ),
    (
        "error.type:OperationalError -> {{ default }}, {{ level }}",
        python_error(value="a"),
        python_error(value="b"),
        True,
        "a refined default group still ignores the value when the stack decides",
    ),
    (
        "error.type:OperationalError -> db, {{ stack.function }}",
        python_error(),
        with_frame(python_error(), module="shop.db", function="connect", in_app=True),
        False,
        "{{ stack.function }} is the crashing frame's function",
    ),
]


@pytest.mark.parametrize(("text", "first", "second", "together", "why"), CASES)
def test_fingerprint_rules_group_events(text, first, second, together, why):
    assert (grouped(first, text) == grouped(second, text)) is together, why


def test_windows_paths_match_with_either_separator():
    frame = {"abs_path": "C:\\Users\\dev\\app\\Program.cs", "function": "Main", "in_app": True}
    event = with_frame(python_error(), **frame)
    assert grouped(event, "path:C:\\Users\\*\\app\\*.cs -> win") == [md5("win")]
    assert grouped(event, "path:**/app/program.CS -> win") == [md5("win")]


def test_a_matching_rule_hashes_its_fingerprint_values():
    assert grouped(python_error(), "error.type:OperationalError -> database-down") == [
        md5("database-down")
    ]


def test_variables_resolve_in_the_fingerprint():
    text = "error.type:OperationalError -> db, {{ type }}, {{ logger }}, {{ tags.region }}"
    assert grouped(python_error(), text) == [
        md5("db", "OperationalError", "django.request", "eu-west")
    ]


def test_the_first_matching_rule_wins():
    text = "logger:django.* -> first\nerror.type:OperationalError -> second\n"
    assert grouped(python_error(), text) == [md5("first")]


def test_an_event_no_rule_matches_keeps_its_default_group():
    event = python_error("KeyError")
    assert grouped(event, "error.type:OperationalError -> db") == group_event(event).hashes


def test_project_rules_override_the_sdk_fingerprint():
    event = python_error(fingerprint=["sdk-chosen"])
    assert group_event(event).hashes == [md5("sdk-chosen")]
    assert grouped(event, "error.type:OperationalError -> db") == [md5("db")]


def test_a_rule_title_replaces_the_issue_title_with_variables_resolved():
    rules = compile_project_rules(
        'logger:django.* -> django title="Database trouble in {{ transaction }}"', ""
    )
    result = group_event(python_error(), rules=rules)
    assert result.title == "Database trouble in /api/orders/"
    assert result.metadata["title"] == result.title
    assert result.metadata["type"] == "OperationalError"


def test_without_a_title_attribute_the_default_title_stays():
    result = group_event(python_error(), rules=compile_project_rules("logger:* -> x", ""))
    assert result.title == "OperationalError: could not connect"


def test_chunk_load_errors_group_together_by_the_built_in_rule():
    first = js_error("ChunkLoadError", "Loading chunk 42 failed.")
    second = js_error("ChunkLoadError", "Loading chunk vendors-node_modules_x failed.")
    second["exception"]["values"][0]["stacktrace"]["frames"][0]["function"] = "other"
    assert group_event(first).hashes == group_event(second).hashes == [md5("chunkloaderror")]


def test_the_built_in_rule_also_matches_a_chunk_load_error_reported_as_a_value():
    event = js_error("Error", "ChunkLoadError: Loading chunk 7 failed")
    assert group_event(event).hashes == [md5("chunkloaderror")]


def test_the_built_in_rule_does_not_override_an_sdk_fingerprint():
    event = js_error("ChunkLoadError", "Loading chunk 42 failed.", fingerprint=["mine"])
    assert group_event(event).hashes == [md5("mine")]


def test_the_built_in_rule_applies_to_javascript_only():
    event = python_error("ChunkLoadError", "x")
    assert group_event(event).hashes != [md5("chunkloaderror")]


def test_project_rules_are_compiled_once_per_text():
    first = project_rules("error.type:X -> x", "")
    assert project_rules("error.type:X -> x", "") is first
    assert project_rules("", "") is None


def test_project_stack_trace_rules_reach_the_default_grouping():
    # Marking the shop frames out of app leaves no app frame: the system variant decides.
    event = python_error()
    plain = group_event(event).hashes
    rules = compile_project_rules("", "stack.module:shop.* -app\n")
    assert rules.stacktrace is not None
    assert group_event(event, rules=rules).hashes != plain
    assert group_event(event, rules=compile_project_rules("", "")).hashes == plain


HOSTILE_EVENTS = [
    {},
    {"exception": {"values": [None, 5, {"type": 2**64, "value": 1e300}]}},
    {"exception": [{"type": ["list"], "stacktrace": {"frames": [None, "x", {"function": {}}]}}]},
    {"tags": "not tags", "logger": {"a": 1}, "level": None, "sdk": "name", "release": 7},
    {
        "tags": [["region"], [1, 2], ["region", None]],
        "threads": {"values": [None, {"stacktrace": 3}]},
    },
    {
        "platform": {"x": 1},
        "stacktrace": {"frames": [{"platform": 5, "in_app": "yes", "abs_path": 9}]},
    },
    {"logentry": {"formatted": "\x00" * 100_000}, "message": ["x"]},
]
EVERY_MATCHER = (
    "error.type:* error.value:* message:* logger:* level:* sdk:* release:* tags.region:* -> a\n"
    "stack.abs_path:**/x stack.module:* stack.function:* stack.package:* family:all app:yes -> b\n"
    '!error.type:X !stack.function:y -> c, {{ tags.region }}, {{ function }} title="{{ message }}"\n'
)


@pytest.mark.parametrize("event", HOSTILE_EVENTS)
def test_rules_never_crash_on_odd_events(event):
    result = group_event(event, rules=compile_project_rules(EVERY_MATCHER, "stack.module:* -app"))
    assert result.hashes and all(len(h) == 32 for h in result.hashes)


def test_stack_trace_rules_move_the_culprit_as_they_move_in_app():
    event = with_frame(
        python_error(), module="psycopg.connection", function="connect", in_app=False
    )
    assert group_event(event).culprit == "/api/orders/"  # the transaction names it first
    del event["transaction"]
    assert group_event(event).culprit == "shop.orders in list_orders"
    rules = compile_project_rules("", "stack.module:psycopg.* +app")
    assert group_event(event, rules=rules).culprit == "psycopg.connection in connect"


HYDRATION = (
    "Hydration failed because the initial UI does not match what was rendered on the server."
)


@pytest.mark.parametrize(
    ("first", "second", "together", "why"),
    [
        (
            js_error("Error", HYDRATION, transaction="/checkout"),
            js_error("Error", HYDRATION, transaction="/checkout", tags={"browser": "Firefox"}),
            True,
            "one hydration mismatch per page, whatever the component",
        ),
        (
            js_error("Error", HYDRATION, transaction="/checkout"),
            js_error("Error", HYDRATION, transaction="/cart"),
            False,
            "each page is its own hydration issue",
        ),
        (
            js_error(
                "Error",
                "Text content does not match server-rendered HTML.",
                tags={"transaction": "/a"},
            ),
            js_error(
                "Error", "Text content does not match server-rendered HTML.", transaction="/a"
            ),
            True,
            "the transaction counts whether sent as a tag or as the field",
        ),
    ],
)
def test_hydration_errors_group_per_transaction(first, second, together, why):
    assert (group_event(first).hashes == group_event(second).hashes) is together, why


def test_a_hydration_error_without_a_transaction_keeps_its_default_group():
    event = js_error("Error", HYDRATION)
    assert group_event(event).hashes != [md5("hydrationerror", "<no-value-for-tag-transaction>")]


def test_a_hybrid_sdk_fingerprint_refines_the_built_in_rule_as_it_would_the_default():
    plain = js_error("ChunkLoadError", "Loading chunk 42 failed.")
    hybrid = js_error(
        "ChunkLoadError", "Loading chunk 42 failed.", fingerprint=["{{ default }}", "eu"]
    )
    assert group_event(hybrid).hashes == [md5("chunkloaderror", "eu")]
    assert group_event(hybrid).hashes != group_event(plain).hashes


def test_tags_sentry_derives_from_fields_can_be_matched_before_digest_derives_them():
    text = "tags.environment:stag* -> env, {{ tags.environment }}"
    event = python_error(environment="staging", tags=[["region", "eu-west"]])
    assert grouped(event, text) == [md5("env", "staging")]
    tagged = python_error(environment="staging", tags=[["environment", "qa"]])
    assert grouped(tagged, text) != [md5("env", "staging")], "an explicit tag wins"


def test_a_family_restricted_rule_still_sees_frames_of_another_platform():
    # A Python event with one JavaScript frame (e.g. a template's inline script):
    # the family prefilter must not skip the rule.
    event = with_frame(python_error(), function="render", platform="javascript", in_app=True)
    assert grouped(event, "family:javascript function:render -> js-frame") == [md5("js-frame")]
    assert grouped(python_error(), "family:javascript -> js") != [md5("js")]


def _deep_python_error(functions: list[str]) -> dict[str, Any]:
    event = python_error()
    frames = [{"function": name, "module": "shop.deep", "in_app": True} for name in functions]
    event["exception"]["values"][0]["stacktrace"] = {"frames": frames}
    return event


def test_frame_matchers_see_the_frames_grouping_groups_on():
    # Over 250 frames, grouping keeps the 50 oldest and the 200 newest (as Relay trims):
    # a frame it drops does not match either, so raw and trimmed events group alike.
    event = _deep_python_error([f"f{i}" for i in range(400)])
    assert grouped(event, "stack.function:f10 -> kept") == [md5("kept")]
    assert grouped(event, "stack.function:f399 -> kept") == [md5("kept")]
    assert grouped(event, "stack.function:f100 -> dropped") == grouped(event, "")


def test_frame_matchers_look_at_the_first_fifty_stacks():
    event = python_error()
    event["threads"] = {
        "values": [
            {"id": i, "stacktrace": {"frames": [{"function": f"thread{i}", "module": "m"}]}}
            for i in range(80)
        ]
    }
    assert grouped(event, "stack.function:thread3 -> seen") == [md5("seen")]
    assert grouped(event, "stack.function:thread70 -> unseen") == grouped(event, "")


def test_repeated_frames_match_like_distinct_ones():
    event = _deep_python_error(["recurse"] * 200 + ["leaf"])
    assert grouped(event, "stack.function:leaf app:yes -> leaf") == [md5("leaf")]
    assert grouped(event, "stack.function:recurse app:no -> none") == grouped(event, "")
