"""Slack: Block Kit within its limits (checked by slack_sdk), 200 `ok` as the only
success, and each failure class of reference §1.5/§1.8."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from tests.alerts import receivers
from tests.alerts.receivers import (
    GARBAGE,
    HANG,
    RESET,
    Answer,
    Recorded,
    delivery,
    hostile,
    notification,
)
from tracehound.alerts.backends.slack import SlackBackend
from tracehound.alerts.base import ConfigError, DeliveryError

# The receivers' fixtures (allow_loopback is autouse).
allow_loopback = receivers.allow_loopback
fast_timeout = receivers.fast_timeout
receiver_factory = receivers.receiver_factory


def slack_contract(request: Recorded) -> None:
    """What hooks.slack.com accepts: JSON with a text fallback and valid blocks."""
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    body = request.json()
    assert isinstance(body["text"], str) and 0 < len(body["text"]) <= 40_000
    assert 0 < len(body["blocks"]) <= 50
    for raw in body["blocks"]:
        block = Block.parse(raw)
        assert block is not None, raw
        block.validate_json()  # raises SlackObjectFormationError beyond a limit
        assert block.to_dict() == raw, "slack_sdk dropped part of the block"


@pytest.fixture
def slack(receiver_factory: Any) -> Any:
    hook = receiver_factory(slack_contract, default=Answer(200, b"ok"))
    url = hook.url("/services/T/B/x")
    return hook, SlackBackend(SlackBackend.clean({"webhook_url": url}))


def test_an_alert_posts_valid_blocks_and_succeeds_on_ok(slack: Any) -> None:
    hook, backend = slack
    sent = backend.send(notification(), delivery(backend))
    assert sent.status == 200
    assert hook.violations == []
    body = hook.requests[0].json()
    assert body["blocks"][0]["text"]["text"] == "New issue: KeyError: 'user_id'"
    assert "https://tracehound.example/organizations/acme/issues/42/" in body["text"]


def test_a_hostile_issue_stays_inside_block_kit_limits_and_is_escaped(slack: Any) -> None:
    hook, backend = slack
    backend.send(hostile(), delivery(backend))
    assert hook.violations == []
    request = hook.requests[0]
    body = request.json()
    assert len(body["blocks"][0]["text"]["text"]) <= 150
    assert b"<script>" not in request.body and b"\\u0000" not in request.body
    assert "&lt;script&gt;" in body["blocks"][1]["text"]["text"]
    assert len(request.body) < 40_000


def test_the_contract_check_catches_an_overlong_header(slack: Any) -> None:
    with pytest.raises(Exception, match="150"):
        slack_contract(
            Recorded(
                "POST",
                "/",
                {"content-type": "application/json"},
                b'{"text":"x","blocks":[{"type":"header","text":{"type":"plain_text","text":"'
                + b"x" * 200
                + b'"}}]}',
            )
        )


@pytest.mark.parametrize("status", [400, 403, 404, 410])
def test_a_refusal_is_permanent_and_a_dead_webhook_disables_the_channel(
    slack: Any, status: int
) -> None:
    hook, backend = slack
    hook.script(Answer(status, b"channel_not_found"))
    with pytest.raises(DeliveryError) as info:
        backend.send(notification(), delivery(backend))
    assert info.value.retryable is False
    assert info.value.disable_channel is (status != 400)
    assert "channel_not_found" in info.value.message


def test_429_is_retried_after_the_receivers_retry_after(slack: Any) -> None:
    hook, backend = slack
    hook.script(Answer(429, b"rate_limited", {"Retry-After": "7"}))
    with pytest.raises(DeliveryError) as info:
        backend.send(notification(), delivery(backend))
    assert info.value.retryable and info.value.retry_after == 7
    assert backend.send(notification(), delivery(backend, attempt=2)).status == 200


@pytest.mark.parametrize(
    "answer", [Answer(500, b"oops"), Answer(200, b"<html>proxy</html>"), Answer(204), Answer(302)]
)
def test_a_5xx_redirect_or_unexpected_2xx_body_is_a_retryable_failure(
    slack: Any, answer: Answer
) -> None:
    hook, backend = slack
    hook.script(answer)
    with pytest.raises(DeliveryError) as info:
        backend.send(notification(), delivery(backend))
    assert info.value.retryable and not info.value.disable_channel


@pytest.mark.parametrize("fault", [HANG, RESET, GARBAGE])
def test_a_hang_reset_or_garbage_answer_is_a_retryable_failure(
    slack: Any, fast_timeout: None, fault: Answer
) -> None:
    hook, backend = slack
    hook.script(fault)
    with pytest.raises(DeliveryError) as info:
        backend.send(notification(), delivery(backend))
    assert info.value.retryable


def test_the_webhook_url_never_appears_in_the_delivery_log(slack: Any) -> None:
    hook, backend = slack
    hook.script(RESET)
    d = delivery(backend)
    with pytest.raises(DeliveryError) as info:
        backend.send(notification(), d)
    url = backend.config["webhook_url"]
    for secret in (url, "/services/T/B/x"):
        assert secret not in info.value.message
        assert all(secret not in c.url and secret not in c.error for c in d.http.calls)
    assert "[redacted]" in d.http.calls[0].url
    assert url not in backend.target_key()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://hooks.slack.com/services/T/B/x", "hooks.slack.com/services"),
        ("https://hooks.slack.com/other", "hooks.slack.com/services"),
        ("http://chat.example.com/hooks/x", "https://"),
        ("ftp://x", "http"),
        ("", "required"),
    ],
)
def test_a_bad_webhook_url_is_refused_naming_the_setting(url: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        SlackBackend.clean({"webhook_url": url})
    assert info.value.setting == "webhook_url"
    assert words in info.value.message


def test_slack_and_slack_compatible_https_urls_are_accepted() -> None:
    for url in ("https://hooks.slack.com/services/T0/B0/abc", "https://mattermost.example/hooks/x"):
        assert SlackBackend.clean({"webhook_url": url})["webhook_url"] == url


@pytest.mark.parametrize("char", ["<", "&", ">"])
def test_a_title_made_only_of_escaped_characters_is_cut_after_escaping(
    slack: Any, char: str
) -> None:
    hook, backend = slack
    backend.send(
        notification(issue={"title": char * 10_000, "culprit": char * 10_000}), delivery(backend)
    )
    assert hook.violations == []
    blocks = hook.requests[0].json()["blocks"]
    assert blocks[0]["text"]["text"].startswith(f"New issue: {'&' if char == '&' else ''}")
    assert 2900 <= len(blocks[1]["text"]["text"]) <= 3000
