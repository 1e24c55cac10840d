from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import sentry_sdk
import time_machine
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from tracehound.digest.normalize import normalize_event
from tracehound.digest.scrub import scrub_event

F = "[Filtered]"
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n"
    "KUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ==\n"
    "-----END RSA PRIVATE KEY-----"
)


def scrub(event: dict[str, Any], **options: Any) -> dict[str, Any]:
    return scrub_event(event, **options)


def meta_at(event: dict[str, Any], *path: str | int) -> Any:
    node = event["_meta"]
    for segment in path:
        node = node[str(segment)]
    return node[""]


# --- key rules -------------------------------------------------------------------------


def test_it_filters_values_under_password_like_keys():
    event = scrub(
        {
            "extra": {
                "db_password": "hunter2",
                "API_KEY": 12345,
                "stripe": {"secret": "sk_live_x", "public": "pk"},
                "Credentials": ["a", "b"],
                "authenticated": True,
                "note": "hello",
            }
        }
    )
    assert event["extra"] == {
        "db_password": F,
        "API_KEY": F,
        "stripe": {"secret": F, "public": "pk"},
        "Credentials": None,
        "authenticated": True,  # booleans hold no secret
        "note": "hello",
    }
    assert meta_at(event, "extra", "db_password") == {
        "rem": [["@password:filter", "s", 0, 10]],
        "len": 7,
    }
    assert meta_at(event, "extra", "API_KEY") == {"rem": [["@password:filter", "s", 0, 10]]}
    assert meta_at(event, "extra", "Credentials") == {"rem": [["@password:filter", "x"]]}


def test_it_filters_frame_vars_and_the_authorization_header():
    event = scrub(
        {
            "exception": {
                "values": [
                    {
                        "type": "E",
                        "stacktrace": {"frames": [{"vars": {"token": "'abc'", "n": "1"}}]},
                    }
                ]
            },
            "request": {"headers": {"Authorization": "Bearer abc", "Accept": "*/*"}},
        }
    )
    frame = event["exception"]["values"][0]["stacktrace"]["frames"][0]
    assert frame["vars"] == {"token": F, "n": "1"}
    assert event["request"]["headers"] == {"Authorization": F, "Accept": "*/*"}
    assert meta_at(event, "request", "headers", "Authorization")["len"] == 10


def test_it_applies_key_rules_to_tag_and_header_pairs():
    event = scrub(
        {
            "tags": [["auth_method", "sso"], ["browser", "Firefox"]],
            "request": {"headers": [["X-Api-Key", "k1"], ["Host", "example.com"]]},
        }
    )
    assert event["tags"] == [["auth_method", F], ["browser", "Firefox"]]
    assert event["request"]["headers"] == [["X-Api-Key", F], ["Host", "example.com"]]
    assert meta_at(event, "tags", 0, 1)["rem"] == [["@password:filter", "s", 0, 10]]


def test_it_adds_project_sensitive_fields_as_key_substrings():
    event = scrub({"extra": {"MySekretValue": "x1", "other": "y"}}, sensitive_fields=["sekret"])
    assert event["extra"] == {"MySekretValue": F, "other": "y"}
    assert meta_at(event, "extra", "MySekretValue")["rem"][0][0] == "strip-fields"


def test_it_leaves_safe_fields_alone():
    event = scrub(
        {"extra": {"csrf_token": "abc", "token": "4111 1111 1111 1111", "auth": {"password": "p"}}},
        safe_fields=["CSRF_TOKEN", "token", "auth"],
    )
    # A safe key keeps its own value, but what is nested under it is still scrubbed.
    assert event["extra"] == {
        "csrf_token": "abc",
        "token": "4111 1111 1111 1111",
        "auth": {"password": F},
    }


def test_rules_are_cached_per_configuration_without_leaking_between_them():
    scrub({"extra": {"pin": "1"}}, sensitive_fields=["pin"])
    assert scrub({"extra": {"pin": "1"}})["extra"] == {"pin": "1"}


# --- substring rules -------------------------------------------------------------------------


def test_it_filters_credit_card_numbers_inside_strings():
    event = scrub({"extra": {"note": "card 4111-1111-1111-1111 and amex 378282246310005."}})
    assert event["extra"]["note"] == f"card {F} and amex {F}."
    assert meta_at(event, "extra", "note") == {
        "rem": [["@creditcard:filter", "s", 5, 15], ["@creditcard:filter", "s", 25, 35]],
        "len": 50,
    }


def test_it_leaves_digit_runs_that_are_not_cards():
    text = "order 12345678901234567890, id x4111111111111111, 1234 5678"
    assert scrub({"extra": {"n": text}})["extra"]["n"] == text


def test_it_finds_a_card_right_after_another_number():
    event = scrub({"extra": {"n": "ref 1234 4111 1111 1111 1111"}})
    assert event["extra"]["n"] == f"ref 1234 {F}"


def test_it_filters_pem_key_bodies():
    event = scrub({"extra": {"key": f"config: {PEM}"}})
    assert event["extra"]["key"] == (
        f"config: -----BEGIN RSA PRIVATE KEY-----\n{F}\n-----END RSA PRIVATE KEY-----"
    )
    assert meta_at(event, "extra", "key")["rem"][0][0] == "@pemkey:filter"


def test_it_filters_passwords_in_urls():
    event = scrub({"contexts": {"db": {"type": "db", "dsn": "postgres://app:s3cret@db:5432/app"}}})
    assert event["contexts"]["db"]["dsn"] == f"postgres://app:{F}@db:5432/app"
    assert meta_at(event, "contexts", "db", "dsn")["rem"] == [["@urlauth:legacy", "s", 15, 25]]


def test_it_filters_user_names_in_home_directories():
    event = scrub(
        {
            "extra": {
                "a": "/home/alice/app/run.py",
                "b": "open('/Users/bob/x')",
                "c": "C:\\Users\\carol\\AppData",
                "d": "/home/[Filtered]/x",
            }
        }
    )
    assert event["extra"] == {
        "a": f"/home/{F}/app/run.py",
        "b": f"open('/Users/{F}/x')",
        "c": f"C:\\Users\\{F}\\AppData",
        "d": "/home/[Filtered]/x",
    }
    assert "d" not in event["_meta"]["extra"]


def test_it_filters_us_social_security_numbers():
    event = scrub({"breadcrumbs": {"values": [{"message": "ssn=078-05-1120 x1078-05-1120"}]}})
    assert event["breadcrumbs"]["values"][0]["message"] == f"ssn={F} x1078-05-1120"


def test_it_filters_sensitive_query_parameters_in_urls():
    event = scrub(
        {
            "request": {"url": "https://x.test/cb?code=1&access_token=abc&page=2#f"},
            "breadcrumbs": {"values": [{"data": {"url": "/api?Auth=zz"}}]},
        }
    )
    assert event["request"]["url"] == f"https://x.test/cb?code=1&access_token={F}&page=2#f"
    assert event["breadcrumbs"]["values"][0]["data"]["url"] == f"/api?Auth={F}"


def test_it_filters_sensitive_keys_in_a_raw_query_string():
    event = scrub({"request": {"query_string": "token=abc&page=2&card=4111111111111111"}})
    assert event["request"]["query_string"] == f"token={F}&page=2&card={F}"
    rules = [remark[0] for remark in meta_at(event, "request", "query_string")["rem"]]
    assert rules == ["@password:filter", "@creditcard:filter"]


def test_it_filters_sensitive_query_pairs():
    event = scrub({"request": {"query_string": [["token", "abc"], ["q", "shoes"]]}})
    assert event["request"]["query_string"] == [["token", F], ["q", "shoes"]]


# --- cookies ---------------------------------------------------------------------------


def test_it_filters_session_and_csrf_cookies():
    event = scrub(
        {
            "request": {
                "cookies": {"sessionid": "s1", "csrftoken": "c1", "theme": "dark", "_xsrf": "x"},
                "headers": {
                    "Cookie": "sessionid=s1; theme=dark; PHPSESSID=p",
                    "Set-Cookie": "session=abc; Path=/; HttpOnly",
                },
            }
        }
    )
    request = event["request"]
    assert request["cookies"] == {"sessionid": F, "csrftoken": F, "theme": "dark", "_xsrf": F}
    assert request["headers"]["Cookie"] == f"sessionid={F}; theme=dark; PHPSESSID={F}"
    assert request["headers"]["Set-Cookie"] == f"session={F}; Path=/; HttpOnly"
    assert meta_at(event, "request", "headers", "Cookie")["len"] == 37


def test_it_filters_cookies_given_as_a_string_or_pairs():
    as_string = scrub({"request": {"cookies": "user_session=u; lang=en"}})
    as_pairs = scrub({"request": {"cookies": [["sudo", "1"], ["lang", "en"]]}})
    assert as_string["request"]["cookies"] == f"user_session={F}; lang=en"
    assert as_pairs["request"]["cookies"] == [["sudo", F], ["lang", "en"]]


# --- exclusions ---------------------------------------------------------------------------


def test_it_does_not_scrub_fields_grouping_and_source_lookup_need():
    event = {
        "logentry": {
            "message": "card %s",
            "params": ["4111111111111111"],
            "formatted": "card 4111111111111111",
        },
        "exception": {
            "values": [
                {
                    "type": "E",
                    "value": "card 4111111111111111",
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": "/home/alice/app.py",
                                "abs_path": "/home/alice/app.py",
                                "context_line": "open('/home/alice/x')",
                            }
                        ]
                    },
                }
            ]
        },
        "debug_meta": {"images": [{"code_file": "/Users/bob/lib.dylib", "secret": "s"}]},
    }
    expected_debug_meta = copy.deepcopy(event["debug_meta"])
    scrub(event)

    assert event["logentry"]["formatted"] == "card 4111111111111111"
    assert event["logentry"]["params"] == [F]
    exc = event["exception"]["values"][0]
    assert exc["value"] == "card 4111111111111111"
    frame = exc["stacktrace"]["frames"][0]
    assert frame["filename"] == frame["abs_path"] == "/home/alice/app.py"
    assert frame["context_line"] == f"open('/home/{F}/x')"
    assert event["debug_meta"] == expected_debug_meta


# --- IP addresses ----------------------------------------------------------------------------


def test_it_keeps_ip_addresses_by_default():
    event = scrub({"user": {"ip_address": "203.0.113.7"}, "extra": {"m": "from 10.0.0.1"}})
    assert event["user"]["ip_address"] == "203.0.113.7"
    assert event["extra"]["m"] == "from 10.0.0.1"


def test_it_removes_and_replaces_ip_addresses_when_asked():
    event = scrub(
        {
            "user": {"id": "1", "ip_address": "203.0.113.7"},
            "sdk": {"name": "s", "client_ip": "203.0.113.7"},
            "request": {"env": {"REMOTE_ADDR": "203.0.113.7", "SERVER_NAME": "web"}},
            "extra": {
                "v4": "peer 192.168.1.20:8080 closed.",
                "v6": "from 2001:db8::8a2e:370:7334, [fe80::1%eth0]",
                "mapped": "::ffff:10.1.2.3",
                "not_ips": "v1.2.3.4.5 at 10:30:00 a[1:2] std::vector dead::beef 999.1.1.1",
            },
        },
        scrub_ip_addresses=True,
    )
    assert event["user"] == {"id": "1", "ip_address": None}
    assert event["sdk"]["client_ip"] is None
    assert event["request"]["env"] == {"REMOTE_ADDR": None, "SERVER_NAME": "web"}
    assert meta_at(event, "user", "ip_address") == {"rem": [["@anything:remove", "x"]]}
    assert event["extra"]["v4"] == "peer [ip]:8080 closed."
    assert event["extra"]["v6"] == "from [ip], [[ip]%eth0]"
    assert event["extra"]["mapped"] == "[ip]"
    assert (
        event["extra"]["not_ips"]
        == "v1.2.3.4.5 at 10:30:00 a[1:2] std::vector dead::beef 999.1.1.1"
    )
    assert meta_at(event, "extra", "v4")["rem"] == [["@ip:replace", "s", 5, 9]]


# --- robustness --------------------------------------------------------------------------


def test_it_merges_with_client_meta_and_leaves_filtered_values_alone():
    event = scrub(
        {
            "extra": {"password": F, "note": "card 4111111111111111"},
            "_meta": {
                "extra": {
                    "password": {"": {"rem": [["!config", "s"]]}},
                    "note": {"": {"len": 99}},
                }
            },
        }
    )
    assert meta_at(event, "extra", "password") == {"rem": [["!config", "s"]]}
    assert meta_at(event, "extra", "note") == {
        "len": 99,
        "rem": [["@creditcard:filter", "s", 5, 15]],
    }


def test_it_tolerates_odd_shapes():
    event: dict[str, Any] = {
        "extra": {1: "4111111111111111", "none": None, "nested": [[["secret"]], {"token": None}]},
        "tags": [["a"], "b", ["password", 5]],
        "request": {"headers": "not a dict", "cookies": 7, "query_string": {"token": "x"}},
        "exception": {"values": ["junk", {"stacktrace": "junk"}]},
        "threads": {"values": [{"stacktrace": {"frames": ["junk", {"vars": None}]}}]},
        "_meta": "junk",
        "user": None,
    }
    scrub(event, scrub_ip_addresses=True)
    assert event["extra"][1] == F
    assert event["extra"]["nested"] == [[["secret"]], {"token": None}]
    assert event["tags"][2] == ["password", F]
    assert event["request"]["query_string"] == {"token": F}


def test_it_survives_absurdly_deep_nesting():
    deep: list[Any] = ["4111111111111111"]
    for _ in range(900):  # about as deep as orjson will parse
        deep = [deep]
    event = scrub({"x_custom": {"deep": deep}})

    node = event["x_custom"]["deep"]
    for _ in range(127):
        node = node[0]
    assert node == []


def test_it_returns_the_same_dict_it_was_given():
    event: dict[str, Any] = {}
    assert scrub(event) is event
    assert event == {}


# --- a real SDK event ------------------------------------------------------------------------


def charge(amount: int) -> None:
    password = "hunter2"  # noqa: F841 - captured as a frame local by the SDK
    card = "4111 1111 1111 1111"  # noqa: F841
    raise ValueError(f"declined {amount}")


class CapturingTransport(Transport):
    """Keeps the event dicts the SDK would have sent."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        event = envelope.get_event()
        if event is not None:
            self.events.append(event)


def capture_real_event(**options: Any) -> dict[str, Any]:
    transport = CapturingTransport()
    client = sentry_sdk.Client(
        dsn="http://k@127.0.0.1:1/1",
        transport=transport,
        default_integrations=False,
        release="shop@1.0",
        **options,
    )
    with sentry_sdk.new_scope() as scope:
        scope.set_client(client)
        scope.set_user({"id": "42", "ip_address": "{{auto}}"})
        scope.set_extra("api_token", "tok_123")
        scope.set_context("db", {"dsn": "postgres://shop:pw@db/shop"})
        scope.set_tag("plan", "pro")
        sentry_sdk.add_breadcrumb(message="GET /checkout?session_token=abc")
        try:
            charge(5)
        except ValueError:
            sentry_sdk.capture_exception()
    client.close()
    [event] = transport.events
    return event


@time_machine.travel(datetime(2026, 11, 22, 10, 3, 15, tzinfo=UTC), tick=False)
def test_a_real_python_sdk_event_comes_out_normalized_and_scrubbed():
    payload = capture_real_event()
    received_at = datetime.now(UTC).timestamp()

    event = normalize_event(
        payload,
        event_id=None,
        received_at=received_at,
        sent_at=None,
        client_ip="198.51.100.4",
    )
    scrub_event(event)

    assert len(event["event_id"]) == 32
    assert event["timestamp"] == received_at
    assert event["level"] == "error"
    assert event["platform"] == "python"
    assert event["release"] == "shop@1.0"
    assert event["user"] == {"id": "42"}  # by default the SDK drops `{{auto}}` itself
    assert ["plan", "pro"] in event["tags"]
    assert event["extra"]["api_token"] == F
    assert event["contexts"]["db"] == {"dsn": f"postgres://shop:{F}@db/shop", "type": "db"}
    crumbs = event["breadcrumbs"]["values"]
    assert crumbs[-1]["message"] == f"GET /checkout?session_token={F}"
    assert isinstance(crumbs[-1]["timestamp"], float)

    [exc] = event["exception"]["values"]
    assert exc["type"] == "ValueError"
    assert exc["value"] == "declined 5"
    frame = exc["stacktrace"]["frames"][-1]
    assert frame["function"] == "charge"
    assert frame["abs_path"] == __file__
    assert frame["vars"]["password"] == F  # the SDK filtered it already
    assert frame["vars"]["card"] == f"'{F}'"
    assert f'card = "{F}"' in "\n".join(frame["pre_context"])

    index = len(exc["stacktrace"]["frames"]) - 1
    frame_meta = event["_meta"]["exception"]["values"]["0"]["stacktrace"]["frames"][str(index)]
    assert frame_meta["vars"]["password"][""] == {"rem": [["!config", "s"]]}
    assert frame_meta["vars"]["card"][""] == {
        "rem": [["@creditcard:filter", "s", 1, 11]],
        "len": 21,
    }


@time_machine.travel(datetime(2026, 11, 22, 10, 3, 15, tzinfo=UTC), tick=False)
def test_a_real_sdk_event_with_user_info_gets_the_client_ip_unless_the_project_scrubs_it():
    payload = capture_real_event(data_collection={"user_info": True})
    event = normalize_event(
        payload,
        event_id=None,
        received_at=datetime.now(UTC).timestamp(),
        sent_at=None,
        client_ip="198.51.100.4",
    )
    assert event["user"] == {"id": "42", "ip_address": "198.51.100.4"}

    scrub_event(event)
    # Without the SDK's own scrubbing, the server filters the password local.
    frame = event["exception"]["values"][0]["stacktrace"]["frames"][-1]
    assert frame["vars"]["password"] == F
    assert event["user"]["ip_address"] == "198.51.100.4"

    scrub_event(event, scrub_ip_addresses=True)
    assert event["user"] == {"id": "42", "ip_address": None}
    assert "198.51.100.4" not in repr({k: v for k, v in event.items() if k != "_meta"})
