"""PagerDuty Events API v2: requests valid against a JSON Schema written from the
Events v2 field rules (reference §1.4), trigger/resolve with one dedup_key per issue,
and the answer classes (202, 400, 429 with minutes, 5xx)."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from tests.alerts import receivers
from tests.alerts.receivers import RESET, Answer, Recorded, delivery, hostile, notification
from tracehound.alerts.backends.pagerduty import EU_URL, US_URL, PagerDutyBackend
from tracehound.alerts.base import ConfigError, DeliveryError

# The receivers' fixtures (allow_loopback is autouse).
allow_loopback = receivers.allow_loopback
fast_timeout = receivers.fast_timeout
receiver_factory = receivers.receiver_factory

ROUTING_KEY = "R0123456789abcdef0123456789ABCDE"
ACCEPTED = Answer(
    202, b'{"status":"success","message":"Event processed","dedup_key":"x"}', {"X": "y"}
)

# From PagerDuty's developer docs, "Send an Alert Event" parameter table.
EVENT_V2 = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["routing_key", "event_action"],
    "properties": {
        "routing_key": {"type": "string", "minLength": 32, "maxLength": 32},
        "event_action": {"enum": ["trigger", "acknowledge", "resolve"]},
        "dedup_key": {"type": "string", "minLength": 1, "maxLength": 255},
        "client": {"type": "string"},
        "client_url": {"type": "string"},
        "payload": {
            "type": "object",
            "required": ["summary", "source", "severity"],
            "properties": {
                "summary": {"type": "string", "minLength": 1, "maxLength": 1024},
                "source": {"type": "string", "minLength": 1, "maxLength": 255},
                "severity": {"enum": ["critical", "error", "warning", "info"]},
                "timestamp": {"type": "string", "format": "date-time"},
                "component": {"type": "string"},
                "group": {"type": "string"},
                "class": {"type": "string"},
                "custom_details": {"type": "object"},
            },
            "additionalProperties": False,
        },
        "images": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["src"],
                "properties": {"src": {"type": "string", "pattern": "^https://"}},
            },
        },
        "links": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["href"],
                "properties": {"href": {"type": "string"}, "text": {"type": "string"}},
                "additionalProperties": False,
            },
        },
    },
    "additionalProperties": False,
    "allOf": [
        {
            "if": {"properties": {"event_action": {"const": "trigger"}}},
            "then": {"required": ["payload"]},
            "else": {"required": ["dedup_key"]},
        }
    ],
}
VALIDATOR = jsonschema.Draft7Validator(EVENT_V2, format_checker=jsonschema.FormatChecker())


def pagerduty_contract(request: Recorded) -> None:
    assert request.method == "POST" and request.path == "/v2/enqueue"
    assert request.headers["content-type"] == "application/json"
    assert len(request.body) <= 512 * 1024
    VALIDATOR.validate(request.json())


@pytest.fixture
def pd(receiver_factory: Any) -> Any:
    hook = receiver_factory(pagerduty_contract, default=ACCEPTED)
    config = PagerDutyBackend.clean(
        {"routing_key": ROUTING_KEY, "events_url": hook.url("/v2/enqueue")}
    )
    return hook, PagerDutyBackend(config)


def test_a_new_issue_triggers_with_a_dedup_key_per_issue_and_the_resolve_reuses_it(
    pd: Any,
) -> None:
    hook, backend = pd
    backend.send(notification("issue.new"), delivery(backend))
    backend.send(notification("issue.regression", reason="Regression"), delivery(backend))
    backend.send(notification("issue.resolved", reason="Resolved"), delivery(backend))
    assert hook.violations == []
    trigger, again, resolve = (r.json() for r in hook.requests)
    assert trigger["event_action"] == again["event_action"] == "trigger"
    assert resolve == {
        "routing_key": ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": "tracehound:acme:shop:42",
    }
    assert trigger["dedup_key"] == again["dedup_key"] == "tracehound:acme:shop:42"
    assert trigger["payload"]["severity"] == "error"
    assert trigger["payload"]["summary"] == "New issue: KeyError: 'user_id'"
    assert trigger["links"][0]["href"] == "https://tracehound.example/organizations/acme/issues/42/"


@pytest.mark.parametrize(
    ("level", "severity"),
    [
        ("fatal", "critical"),
        ("error", "error"),
        ("warning", "warning"),
        ("info", "info"),
        ("debug", "info"),
        ("", "error"),
        ("bogus", "error"),
    ],
)
def test_the_severity_follows_the_issue_level(pd: Any, level: str, severity: str) -> None:
    hook, backend = pd
    backend.send(notification(issue={"level": level}), delivery(backend))
    assert hook.violations == []
    assert hook.requests[0].json()["payload"]["severity"] == severity


def test_a_hostile_issue_gives_a_valid_event(pd: Any) -> None:
    hook, backend = pd
    backend.send(hostile(), delivery(backend))
    assert hook.violations == []
    event = hook.requests[0].json()
    assert len(event["payload"]["summary"]) <= 1024
    assert event["payload"]["custom_details"]["events"] == "18,446,744,073,709,551,616"


def test_the_contract_check_refuses_a_fatal_severity_and_a_resolve_without_key() -> None:
    bad = [
        {
            "routing_key": ROUTING_KEY,
            "event_action": "trigger",
            "payload": {"summary": "s", "source": "x", "severity": "fatal"},
        },
        {"routing_key": ROUTING_KEY, "event_action": "resolve"},
        {
            "routing_key": ROUTING_KEY,
            "event_action": "trigger",
            "dedup_key": "k" * 256,
            "payload": {"summary": "s", "source": "x", "severity": "info"},
        },
    ]
    for event in bad:
        with pytest.raises(jsonschema.ValidationError):
            VALIDATOR.validate(event)


def test_400_is_permanent_without_disabling(pd: Any) -> None:
    hook, backend = pd
    hook.script(Answer(400, b'{"status":"invalid event","message":"Event object is invalid"}'))
    with pytest.raises(DeliveryError) as info:
        backend.send(notification(), delivery(backend))
    assert not info.value.retryable and not info.value.disable_channel


def test_429_waits_minutes_and_5xx_and_resets_are_retried(pd: Any, fast_timeout: None) -> None:
    hook, backend = pd
    hook.script(Answer(429, b"{}"), Answer(429, b"{}", {"Retry-After": "30"}), Answer(503), RESET)
    waits = []
    for _ in range(4):
        with pytest.raises(DeliveryError) as info:
            backend.send(notification(), delivery(backend))
        assert info.value.retryable
        waits.append(info.value.retry_after)
    assert waits == [120.0, 30.0, None, None]
    assert backend.send(notification(), delivery(backend)).status == 202


@pytest.mark.parametrize("answer", [Answer(202, b"<html>"), Answer(200, b'{"status":"success"}')])
def test_an_unexpected_success_body_or_status_is_a_retryable_failure(
    pd: Any, answer: Answer
) -> None:
    hook, backend = pd
    hook.script(answer)
    with pytest.raises(DeliveryError) as info:
        backend.send(notification(), delivery(backend))
    assert info.value.retryable


def test_the_routing_key_is_redacted_and_not_in_the_target_key(pd: Any) -> None:
    _, backend = pd
    assert ROUTING_KEY in backend.redactions()
    assert ROUTING_KEY not in backend.target_key()
    assert PagerDutyBackend.serial and PagerDutyBackend.max_age is None
    assert PagerDutyBackend.follows_resolve


def test_the_us_endpoint_is_the_default_and_eu_the_other_choice() -> None:
    assert PagerDutyBackend.clean({"routing_key": ROUTING_KEY})["events_url"] == US_URL
    eu = PagerDutyBackend.clean({"routing_key": ROUTING_KEY, "events_url": EU_URL})
    assert eu["events_url"] == EU_URL


@pytest.mark.parametrize(
    ("values", "setting"),
    [
        ({}, "routing_key"),
        ({"routing_key": "short"}, "routing_key"),
        ({"routing_key": "x" * 31 + "!"}, "routing_key"),
        (
            {"routing_key": ROUTING_KEY, "events_url": "http://events.example.com/v2/enqueue"},
            "events_url",
        ),
        ({"routing_key": ROUTING_KEY, "events_url": "http://10.0.0.5/v2/enqueue"}, "events_url"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(values: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigError) as info:
        PagerDutyBackend.clean(values)
    assert info.value.setting == setting
