"""Slack incoming webhooks with Block Kit (reference §1.5).

Success is HTTP 200 with the body `ok`; errors are a status plus a text body. Every
piece of event data is cut to Block Kit's limits (header 150, section text 3000,
field 2000, button 75) after escaping &, < and >, so a hostile title never breaks the
payload. URL rule: a hooks.slack.com URL must be https with a /services/ path; any
other https URL is accepted for Slack-compatible servers (Mattermost, Rocket.Chat);
http only to an address in TRACEHOUND_OUTBOUND_ALLOW.
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
from tracehound.alerts.base import (
    Backend,
    ConfigError,
    Delivery,
    DeliveryError,
    Notification,
    Sent,
    Setting,
)

SLACK_HOSTS = ("hooks.slack.com", "hooks.slack-gov.com")
HEADER_MAX = 150
SECTION_MAX = 3000
FIELD_MAX = 2000
FALLBACK_MAX = 3000


def check_webhook_url(url: str) -> None:
    parts = urlsplit(url)
    if (parts.hostname or "").lower() in SLACK_HOSTS:
        if parts.scheme != "https" or not parts.path.startswith(("/services/", "/triggers/")):
            raise ConfigError(
                "webhook_url", "must be https://hooks.slack.com/services/… as Slack shows it"
            )
        return
    check_service_url("webhook_url", url)


def mrkdwn(text: object, limit: int) -> str:
    return render.fit(text, limit, render.slack_escape)


def blocks(notification: Notification) -> list[dict[str, Any]]:
    """The message's blocks; each passes slack_sdk's Block Kit validation."""
    url = render.issue_url(notification)
    # Slack reads &, < and > as control characters in every text, plain_text included.
    header = mrkdwn(render.headline(notification, HEADER_MAX), HEADER_MAX)
    out: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header or "Alert"}}
    ]
    issue = notification.issue
    if issue is not None and issue.culprit:
        out.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": mrkdwn(issue.culprit, SECTION_MAX)},
            }
        )
    fields = [
        {"type": "mrkdwn", "text": mrkdwn(f"*{label}*\n{value}", FIELD_MAX)}
        for label, value in render.facts(notification)[:10]
    ]
    out.append({"type": "section", "fields": fields})
    if len(url) <= 3000:
        out.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open issue"},
                        "url": url,
                    }
                ],
            }
        )
    return out


def message(notification: Notification) -> dict[str, Any]:
    url = render.issue_url(notification)
    fallback = mrkdwn(render.headline(notification, 1000), FALLBACK_MAX - len(url) - 4)
    return {"text": f"{fallback} <{url}>", "blocks": blocks(notification)}


class SlackBackend(Backend):
    kind = "slack"
    label = "Slack"
    description = "Post to a Slack channel through an incoming webhook."
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting(
            "webhook_url",
            "Webhook URL",
            kind="url",
            secret=True,
            validate=check_webhook_url,
            help="https://hooks.slack.com/services/… (or a Slack-compatible server's URL).",
        ),
    )

    def target_key(self) -> str:
        return hashed_target("slack", str(self.config["webhook_url"]))

    def redactions(self) -> tuple[str, ...]:
        return secret_url_redactions(str(self.config.get("webhook_url") or ""))

    def send(self, notification: Notification, delivery: Delivery) -> Sent:
        body = orjson.dumps(message(notification))
        response = post(delivery.http, self.config["webhook_url"], body, {})
        sent = classify(
            response, ok=(200,), permanent=(400,), disable=(401, 403, 404, 410), retry_default=1.0
        )
        if response.body.strip() != b"ok":
            raise DeliveryError(
                f"HTTP 200 with an unexpected body: {sent.excerpt or '(empty)'}", status=200
            )
        return sent
