"""Standard Webhooks: our signature verified by the independent `standardwebhooks`
package, webhook-id stable across retries, body under 20 KB, failure classes of §1.6."""

from __future__ import annotations

from typing import Any

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

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
from tracehound.alerts.backends.webhook import WebhookBackend, new_secret
from tracehound.alerts.base import ConfigError, DeliveryError

# The receivers' fixtures (allow_loopback is autouse).
allow_loopback = receivers.allow_loopback
fast_timeout = receivers.fast_timeout
receiver_factory = receivers.receiver_factory


def webhook_contract(secret: str) -> Any:
    def check(request: Recorded) -> None:
        Webhook(secret).verify(request.body, request.headers)
        assert len(request.body) <= 20_000
        body = request.json()
        assert set(body) == {"type", "timestamp", "data"}
        assert b": " not in request.body[:20]  # minified

    return check


@pytest.fixture
def hook_and_backend(receiver_factory: Any) -> Any:
    config = WebhookBackend.clean({"url": "http://127.0.0.1:1/placeholder"})
    shown = WebhookBackend.generate(config)
    hook = receiver_factory(webhook_contract(shown["signing_secret"]), default=Answer(204))
    config["url"] = hook.url("/tracehound")
    return hook, WebhookBackend(config)


def test_a_signed_alert_verifies_with_the_reference_library(hook_and_backend: Any) -> None:
    hook, backend = hook_and_backend
    n = notification()
    assert backend.send(n, delivery(backend)).status == 204
    assert hook.violations == []
    request = hook.requests[0]
    assert request.headers["webhook-id"] == n.id
    body = request.json()
    assert body["type"] == "issue.new"
    assert body["data"]["issue"]["short_id"] == "SHOP-42"
    assert body["data"]["event"]["tags"] == {"browser": "Firefox", "server_name": "web-1"}
    assert body["data"]["links"]["issue"] == n.issue.url if n.issue else False


def test_the_webhook_id_is_the_same_on_a_retry_and_the_timestamp_is_the_attempts(
    hook_and_backend: Any,
) -> None:
    hook, backend = hook_and_backend
    hook.script(Answer(503, b"busy"))
    n = notification()
    with pytest.raises(DeliveryError):
        backend.send(n, delivery(backend))
    backend.send(n, delivery(backend, attempt=2))
    first, second = hook.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == n.id
    assert hook.violations == []


def test_a_tampered_body_or_another_secret_fails_verification(hook_and_backend: Any) -> None:
    hook, backend = hook_and_backend
    backend.send(notification(), delivery(backend))
    request = hook.requests[0]
    with pytest.raises(WebhookVerificationError):
        Webhook(backend.config["signing_secret"]).verify(request.body + b" ", request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(request.body, request.headers)


def test_a_hostile_issue_is_trimmed_under_20_kb_and_still_signed(hook_and_backend: Any) -> None:
    hook, backend = hook_and_backend
    backend.send(hostile(), delivery(backend))
    assert hook.violations == []
    data = hook.requests[0].json()["data"]
    assert data["issue"]["times_seen"] == str(2**64)  # beyond JSON's exact integers
    assert data["details"]["count"] == str(2**64)
    assert "\x00" not in data["issue"]["title"]


def test_extra_headers_are_sent_and_redacted(receiver_factory: Any) -> None:
    hook = receiver_factory(default=Answer(200))
    config = WebhookBackend.clean(
        {"url": hook.url(), "headers": "Authorization: Bearer tok-123456\nX-Team: ops"}
    )
    WebhookBackend.generate(config)
    backend = WebhookBackend(config)
    backend.send(notification(), delivery(backend))
    assert hook.requests[0].headers["authorization"] == "Bearer tok-123456"
    assert "Bearer tok-123456" in backend.redactions()


def test_410_disables_the_endpoint(hook_and_backend: Any) -> None:
    hook, backend = hook_and_backend
    hook.script(Answer(410, b"gone"))
    with pytest.raises(DeliveryError) as info:
        backend.send(notification(), delivery(backend))
    assert info.value.disable_channel and not info.value.retryable


@pytest.mark.parametrize(
    ("answer", "wait"),
    [
        (Answer(429, b"", {"Retry-After": "12"}), 12),
        (Answer(500, b"x"), None),
        (Answer(301, b"", {"Location": "http://169.254.169.254/"}), None),
        (Answer(400, b"bad"), None),
    ],
)
def test_429_5xx_3xx_and_other_4xx_are_retried(
    hook_and_backend: Any, answer: Answer, wait: float | None
) -> None:
    hook, backend = hook_and_backend
    hook.script(answer)
    with pytest.raises(DeliveryError) as info:
        backend.send(notification(), delivery(backend))
    assert info.value.retryable and info.value.retry_after == wait
    assert len(hook.requests) == 1  # the redirect was not followed


@pytest.mark.parametrize("fault", [HANG, RESET, GARBAGE])
def test_a_hang_reset_or_garbage_is_retried(
    hook_and_backend: Any, fast_timeout: None, fault: Answer
) -> None:
    hook, backend = hook_and_backend
    hook.script(fault)
    with pytest.raises(DeliveryError) as info:
        backend.send(notification(), delivery(backend))
    assert info.value.retryable


def test_a_signing_secret_is_generated_once_and_a_given_one_kept() -> None:
    config = WebhookBackend.clean({"url": "https://example.com/h"})
    shown = WebhookBackend.generate(config)
    assert shown["signing_secret"].startswith("whsec_") and config == {**config, **shown}
    assert WebhookBackend.generate(config) == {}
    given = new_secret()
    assert (
        WebhookBackend.clean({"url": "https://e.com", "signing_secret": given})["signing_secret"]
        == given
    )


@pytest.mark.parametrize(
    ("values", "setting"),
    [
        ({"url": "not a url"}, "url"),
        ({"url": "https://e.com", "signing_secret": "secret"}, "signing_secret"),
        ({"url": "https://e.com", "signing_secret": "whsec_c2hvcnQ="}, "signing_secret"),
        ({"url": "https://e.com", "headers": "webhook-id: 1"}, "headers"),
        ({"url": "https://e.com", "headers": "no colon"}, "headers"),
        ({"url": "https://e.com", "colour": "red"}, "colour"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(values: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigError) as info:
        WebhookBackend.clean(values)
    assert info.value.setting == setting
