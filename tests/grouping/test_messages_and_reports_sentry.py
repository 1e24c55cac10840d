"""Non-frame grouping as Sentry does it: parameterized messages, templates, certificate
reports, NSError, threads, exception groups, chains, long stacks and {{ }} variables.
Each case says which events group together, which stay apart, and why."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import orjson
import pytest

from tracehound.grouping import group_event
from tracehound.grouping.parameterize import parameterize
from tracehound.grouping.prepare import MAX_FRAMES


def md5(*values: str) -> str:
    return hashlib.md5("".join(values).encode()).hexdigest()


def hashes(event: dict[str, Any]) -> list[str]:
    return group_event(event).hashes


def message(text: str) -> dict[str, Any]:
    return {"platform": "python", "logentry": {"formatted": text}}


# --- message parameterization -------------------------------------------------------------

PARAMETERIZED = [
    ("account 123456789 locked", "account <int> locked"),  # 9 digits: a number, not <hex>
    ("order 12345678901234567890 lost", "order <int> lost"),
    ("job at datetime.datetime(2024, 1, 2, 3, 4, 5) failed", "job at <date> failed"),
    ("due datetime.date(2024, 1, 2)", "due <date>"),
    (
        "at datetime.datetime(2024, 1, 2, 3, 4, 5, 123, tzinfo=datetime.timezone.utc) failed",
        "at <date> failed",
    ),
    (
        "at datetime.datetime(2024, 1, 2, 3, 4, tzinfo=zoneinfo.ZoneInfo(key='UTC'))",
        "at <date>",
    ),
    ("expired Wed Jan 11 10:00:00 UTC 2023", "expired <date>"),
    ("token 0123abcd9 bad", "token <hex> bad"),
    ("deadbeef is a word", "deadbeef is a word"),
]


@pytest.mark.parametrize(("text", "expected"), PARAMETERIZED)
def test_messages_are_parameterized_like_sentrys(text, expected):
    assert parameterize(text) == expected


@pytest.mark.parametrize(
    ("first", "second", "together", "why"),
    [
        ("user 123456789 not found", "user 987654321 not found", True, "ids are <int>"),
        (
            "sync at datetime.datetime(2024, 1, 2, 3, 4, 5) failed",
            "sync at datetime.datetime(2025, 6, 7, 8, 9, 10) failed",
            True,
            "datetime reprs are <date>",
        ),
        ("user 1 not found", "order 1 not found", False, "the words differ"),
    ],
)
def test_messages_group_on_their_parameterized_text(first, second, together, why):
    assert (hashes(message(first)) == hashes(message(second))) is together, why


# --- template errors ------------------------------------------------------------------------


def template_event(filename: str, line: str) -> dict[str, Any]:
    return {
        "platform": "python",
        "logentry": {"formatted": "Invalid block tag on line 3"},
        "template": {
            "filename": filename,
            "abs_path": f"/srv/app/{filename}",
            "context_line": line,
            "lineno": 3,
        },
    }


def test_a_template_error_groups_on_the_template_file_and_line():
    first = template_event("templates/cart.html", "{% endfor %}")
    assert hashes(first) == [md5("cart.html", "{% endfor %}")]
    moved = template_event("templates/cart.html", "  {% endfor %}  ")
    moved["template"]["lineno"] = 30
    assert hashes(moved) == hashes(first), "the line number and indentation do not count"
    other = template_event("templates/list.html", "{% endfor %}")
    assert hashes(other) != hashes(first), "another template is another issue"


def test_a_stack_trace_outranks_the_template():
    event = template_event("templates/cart.html", "{% endfor %}")
    event["stacktrace"] = {"frames": [{"module": "views", "function": "cart", "in_app": True}]}
    assert hashes(event) == [md5("views", "cart")]


# --- HPKP, Expect-CT, Expect-Staple -----------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "salt", "title"),
    [
        ("hpkp", "hpkp", "Public key pinning validation failed for 'www.example.com'"),
        ("expectct", "expect-ct", "Expect-CT failed for 'www.example.com'"),
        ("expectstaple", "expect-staple", "Expect-Staple failed for 'www.example.com'"),
    ],
)
def test_certificate_reports_group_per_host(key, salt, title):
    report = {
        "date_time": "2024-01-02T03:04:05Z",
        "hostname": "WWW.example.com",
        "port": 443,
        "effective_expiration_date": "2024-02-02T03:04:05Z",
        "served_certificate_chain": ["-----BEGIN CERTIFICATE-----\n..."],
    }
    first = {"platform": "other", key: report}
    second = {"platform": "other", key: {**report, "port": 8443, "date_time": "2025-01-01"}}
    result = group_event(first)
    assert result.hashes == hashes(second) == [md5(salt, "www.example.com")]
    assert (result.type, result.title, result.culprit) == (key, title, "www.example.com")
    other_host = {"platform": "other", key: {**report, "hostname": "api.example.com"}}
    assert hashes(other_host) != result.hashes


def test_report_types_with_the_same_host_stay_apart():
    host = {"hostname": "example.com"}
    assert hashes({"hpkp": host}) != hashes({"expectct": host}) != hashes({"expectstaple": host})


# --- Cocoa NSError ----------------------------------------------------------------------------


def ns_error(domain: str, code: int, value: str) -> dict[str, Any]:
    return {
        "platform": "cocoa",
        "exception": {
            "values": [
                {
                    "type": domain,
                    "value": value,
                    "mechanism": {
                        "type": "NSError",
                        "meta": {"ns_error": {"domain": domain, "code": code}},
                    },
                }
            ]
        },
    }


@pytest.mark.parametrize(
    ("first", "second", "together", "why"),
    [
        (
            ns_error("NSURLErrorDomain", -1001, "Code: -1001"),
            ns_error("NSURLErrorDomain", -1001, "Code: -1001"),
            True,
            "same domain and code",
        ),
        (
            ns_error("NSURLErrorDomain", -1001, "Code: -1001"),
            ns_error("NSURLErrorDomain", -1009, "Code: -1009"),
            False,
            "another code of the same domain is another problem",
        ),
        (
            ns_error("NSCocoaErrorDomain", 4, "Code: 4"),
            ns_error("MyAppErrorDomain", 4, "Code: 4"),
            False,
            "the same code in another domain",
        ),
    ],
)
def test_ns_errors_group_by_domain_and_code(first, second, together, why):
    assert (hashes(first) == hashes(second)) is together, why


def test_the_ns_error_contributes_after_the_type():
    event = ns_error("NSURLErrorDomain", -1001, "Code: -1001")
    assert hashes(event) == [md5("NSURLErrorDomain", "NSURLErrorDomain", "-1001", "Code: <int>")]


# --- threads --------------------------------------------------------------------------------------


def thread(tid: int, function: str, **flags: Any) -> dict[str, Any]:
    frames = [{"module": "app.worker", "function": function, "in_app": True}]
    return {"id": tid, "stacktrace": {"frames": frames}, **flags}


def test_the_crashed_thread_groups_over_the_current_one():
    event = {
        "platform": "java",
        "threads": {"values": [thread(1, "idle", current=True), thread(2, "boom", crashed=True)]},
    }
    assert hashes(event) == [md5("app.worker", "boom")]


def test_without_a_crashed_thread_the_current_thread_groups():
    event = {
        "platform": "python",
        "logentry": {"formatted": "attach_stacktrace message"},
        "threads": {"values": [thread(1, "poll"), thread(2, "handle", current=True)]},
    }
    assert hashes(event) == [md5("app.worker", "handle")]


def test_an_exception_without_a_stack_groups_on_its_threads_stack():
    event = {
        "platform": "java",
        "exception": {"values": [{"type": "IllegalStateException", "value": "x", "thread_id": 7}]},
        "threads": {"values": [thread(1, "main", current=True), thread(7, "consume")]},
    }
    assert hashes(event) == [md5("app.worker", "consume", "IllegalStateException")]
    assert group_event(event).culprit == "app.worker in consume"
    assert "stacktrace" not in event["exception"]["values"][0], "the event is left unchanged"


def test_without_a_thread_id_the_crashed_threads_stack_is_used():
    event = {
        "platform": "cocoa",
        "exception": {"values": [{"type": "EXC_BAD_ACCESS", "value": "KERN_INVALID_ADDRESS"}]},
        "threads": {"values": [thread(1, "main"), thread(2, "render", crashed=True)]},
    }
    assert hashes(event) == [md5("app.worker", "render", "EXC_BAD_ACCESS")]


# --- long stacks and recursion --------------------------------------------------------------------


def deep_stack(depth: int, middle: str = "recurse") -> dict[str, Any]:
    frames = [{"module": "app", "function": "main", "in_app": True}]
    frames += [
        {"module": "app", "function": f"{middle}{i % 2}", "lineno": i, "in_app": True}
        for i in range(depth)
    ]
    frames.append({"module": "app", "function": "crash", "in_app": True})
    return {
        "platform": "python",
        "exception": {"values": [{"type": "RecursionError", "stacktrace": {"frames": frames}}]},
    }


def test_a_stack_longer_than_relays_cap_groups_on_its_oldest_50_and_newest_200_frames():
    long_one = deep_stack(1000)
    frames = long_one["exception"]["values"][0]["stacktrace"]["frames"]
    trimmed = copy.deepcopy(long_one)
    trimmed["exception"]["values"][0]["stacktrace"]["frames"] = frames[:50] + frames[-200:]
    assert len(frames) > MAX_FRAMES
    assert hashes(long_one) == hashes(trimmed), "as if Relay had trimmed it"
    assert hashes(deep_stack(1000)) == hashes(deep_stack(1200)), "depth past the cap is noise"


def test_stacks_within_the_cap_keep_every_frame():
    assert hashes(deep_stack(10)) != hashes(deep_stack(11))


def test_direct_recursion_collapses_to_one_frame():
    def recursive(times: int) -> dict[str, Any]:
        frame = {"module": "app", "function": "walk", "lineno": 5, "in_app": True}
        return {"platform": "python", "stacktrace": {"frames": [frame] * times}}

    assert hashes(recursive(3)) == hashes(recursive(40)) == [md5("app", "walk")]


# --- exception groups and chains --------------------------------------------------------------


def member(exception_id: int, parent_id: int | None, type_: str, **mechanism: Any):
    return {
        "type": type_,
        "value": f"{type_} happened",
        "mechanism": {
            "type": "chained",
            "exception_id": exception_id,
            "parent_id": parent_id,
            **mechanism,
        },
    }


def test_exception_group_members_are_ordered_by_exception_id_not_arrival():
    group = member(0, None, "ExceptionGroup", is_exception_group=True)
    ordered = [group, member(1, 0, "KeyError"), member(2, 0, "ValueError")]
    shuffled = [ordered[0], ordered[2], ordered[1]]
    first = {"platform": "python", "exception": {"values": ordered}}
    second = {"platform": "python", "exception": {"values": shuffled}}
    assert (
        group_event(first).title
        == group_event(second).title
        == "ExceptionGroup: ExceptionGroup happened"
    )


def test_a_group_of_identical_members_is_about_that_one_exception():
    group = member(0, None, "ExceptionGroup", is_exception_group=True)
    values = [group, member(1, 0, "TimeoutError"), member(2, 0, "TimeoutError")]
    result = group_event({"platform": "python", "exception": {"values": values}})
    assert result.title == "TimeoutError: TimeoutError happened", "the main exception names it"
    single = {"platform": "python", "exception": {"values": [member(1, None, "TimeoutError")]}}
    assert result.hashes == hashes(single), "and groups it like a lone TimeoutError"


def test_a_chained_exception_groups_on_every_link():
    cause = {"type": "ConnectionError", "value": "refused"}
    effect = {"type": "PaymentFailed", "value": "card declined"}
    chained = {"platform": "python", "exception": {"values": [cause, effect]}}
    alone = {"platform": "python", "exception": {"values": [effect]}}
    assert hashes(chained) != hashes(alone)
    assert group_event(chained).title == "PaymentFailed: card declined"


# --- {{ }} variables in SDK fingerprints ------------------------------------------------------


def fingerprinted(fingerprint: list[str], **extra: Any) -> dict[str, Any]:
    event = {
        "platform": "python",
        "level": "warning",
        "logger": "shop.jobs",
        "transaction": "nightly-sync",
        "tags": {"region": "eu"},
        "logentry": {"formatted": "sync 42 failed"},
        "exception": {
            "values": [
                {
                    "type": "SyncError",
                    "value": "sync 42 failed",
                    "stacktrace": {
                        "frames": [
                            {
                                "module": "shop.sync",
                                "function": "run",
                                "package": "shop",
                                "in_app": True,
                            }
                        ]
                    },
                }
            ]
        },
        "fingerprint": fingerprint,
    }
    event.update(extra)
    return event


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("{{ type }}", "SyncError"),
        ("{{ error.type }}", "SyncError"),
        ("{{ error.value }}", "sync <int> failed"),
        ("{{ function }}", "run"),
        ("{{ stack.function }}", "run"),
        ("{{ module }}", "shop.sync"),
        ("{{ stack.module }}", "shop.sync"),
        ("{{ package }}", "shop"),
        ("{{ stack.package }}", "shop"),
        ("{{ transaction }}", "nightly-sync"),
        ("{{ message }}", "sync 42 failed"),
        ("{{ level }}", "warning"),
        ("{{ logger }}", "shop.jobs"),
        ("{{ tags.region }}", "eu"),
        ("{{ tags.missing }}", "<no-value-for-tag-missing>"),
    ],
)
def test_every_fingerprint_variable_resolves(variable, value):
    assert hashes(fingerprinted(["sync", variable])) == [md5("sync", value)]


def test_an_ingested_expect_ct_report_groups_per_host_whatever_the_port():
    from tracehound.ingest.security import security_report_to_event

    def report(port: int) -> dict[str, Any]:
        body = {
            "expect-ct-report": {
                "date-time": "2024-01-02T03:04:05Z",
                "hostname": "shop.example.com",
                "port": port,
                "effective-expiration-date": "2024-02-02T03:04:05Z",
            }
        }
        return security_report_to_event(orjson.dumps(body), "application/expect-ct-report+json")

    first, second = group_event(report(443)), group_event(report(8443))
    assert first.hashes == second.hashes == [md5("expect-ct", "shop.example.com")]
    assert first.title == "Expect-CT failed for 'shop.example.com:443'"
    assert (first.type, first.culprit) == ("expectct", "shop.example.com")
