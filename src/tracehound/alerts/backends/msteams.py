"""Microsoft Teams through a Workflows ("When a Teams webhook request is received")
webhook, with one Adaptive Card, version 1.4 (reference §1.3).

The trigger answers 2xx before the flow runs, so a malformed card fails silently in the
flow's history: the card is built from a fixed shape and every text cut and
Markdown-escaped (TextBlocks render a Markdown subset); the tests validate it against
the Adaptive Card 1.4 JSON schema. Legacy Office 365 connector URLs are refused.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import urlsplit

import orjson

from tracehound.alerts import render
from tracehound.alerts.backends import (
    check_service_url,
    classify,
    hashed_target,
    post,
    secret_url_redactions,
)
from tracehound.alerts.base import Backend, ConfigError, Delivery, Notification, Sent, Setting

CARD_VERSION = "1.4"
MAX_BODY = 25_000  # Teams takes about 28 KB


def is_legacy_connector(url: str) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return (host.endswith(".webhook.office.com") and parts.path.startswith("/webhookb2/")) or (
        host == "outlook.office.com" and parts.path.startswith("/webhook/")
    )


def check_webhook_url(url: str) -> None:
    if is_legacy_connector(url):
        raise ConfigError(
            "webhook_url",
            "is an Office 365 connector URL, which Microsoft has retired: in the Teams "
            "channel add the Workflows template 'Post to a channel when a webhook request "
            "is received' and paste its URL here",
        )
    check_service_url("webhook_url", url)


def text(value: object, limit: int) -> str:
    return render.fit(value, limit, render.markdown_escape)


def card(notification: Notification, long: int = 2000) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": text(render.headline(notification, 300), 300) or "Alert",
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        }
    ]
    issue = notification.issue
    if issue is not None and issue.culprit:
        body.append(
            {"type": "TextBlock", "text": text(issue.culprit, long), "wrap": True, "isSubtle": True}
        )
    body.append(
        {
            "type": "FactSet",
            "facts": [
                {"title": label, "value": text(value, 200) or "-"}
                for label, value in render.facts(notification)
            ],
        }
    )
    return {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
        "actions": [
            {"type": "Action.OpenUrl", "title": "Open issue", "url": render.issue_url(notification)}
        ],
    }


def message(notification: Notification) -> bytes:
    """The Workflows envelope with the card, under MAX_BODY bytes."""
    for long in (2000, 500, 100):
        encoded = orjson.dumps(
            {
                "type": "message",
                "attachments": [
                    {
                        "contentType": "application/vnd.microsoft.card.adaptive",
                        "contentUrl": None,
                        "content": card(notification, long),
                    }
                ],
            }
        )
        if len(encoded) <= MAX_BODY:
            break
    return encoded


class TeamsBackend(Backend):
    kind = "msteams"
    label = "Microsoft Teams"
    description = "Post an Adaptive Card to a Teams channel through a Workflows webhook."
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting(
            "webhook_url",
            "Workflows webhook URL",
            kind="url",
            secret=True,
            validate=check_webhook_url,
            help="From the channel's Workflows: 'Post to a channel when a webhook request is "
            "received'. Office 365 connector URLs no longer work.",
        ),
    )

    def target_key(self) -> str:
        return hashed_target("msteams", str(self.config["webhook_url"]))

    def redactions(self) -> tuple[str, ...]:
        return secret_url_redactions(str(self.config.get("webhook_url") or ""))

    def send(self, notification: Notification, delivery: Delivery) -> Sent:
        response = post(delivery.http, self.config["webhook_url"], message(notification), {})
        return classify(
            response, ok=range(200, 300), permanent=(400,), disable=(401, 403, 404, 410)
        )
