"""Generic webhook per the Standard Webhooks specification (reference §1.6).

The body is minified JSON `{"type", "timestamp", "data"}`; the headers `webhook-id` (the
outbox row's id, the same on every retry: the receiver's idempotency key),
`webhook-timestamp` (this attempt) and `webhook-signature` (`v1,` + base64 HMAC-SHA256
of `id.timestamp.body` with the `whsec_` secret). Signing is done here, without a
dependency; the tests verify it with the independent `standardwebhooks` package.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from typing import Any, ClassVar

import orjson

from tracehound.alerts import render
from tracehound.alerts.backends import classify, post
from tracehound.alerts.base import Backend, ConfigError, Delivery, Notification, Sent, Setting

MAX_BODY = 20_000
SECRET_PREFIX = "whsec_"


def check_secret(value: str) -> None:
    """`whsec_` + base64 of 24 to 64 bytes (the spec's range)."""
    if not value.startswith(SECRET_PREFIX):
        raise ValueError("must start with whsec_ (leave it empty to have one generated)")
    try:
        key = base64.b64decode(value[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be whsec_ followed by base64") from None
    if not 24 <= len(key) <= 64:
        raise ValueError("must encode 24 to 64 random bytes")


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value for one attempt."""
    key = base64.b64decode(secret[len(SECRET_PREFIX) :])
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def issue_data(notification: Notification, long: int) -> dict[str, Any] | None:
    issue = notification.issue
    if issue is None:
        return None
    return {
        "id": issue.id,
        "short_id": render.truncate(issue.short_id, 100),
        "title": render.truncate(issue.title, long),
        "culprit": render.truncate(issue.culprit, long),
        "level": render.truncate(issue.level, 20),
        "status": render.truncate(issue.status, 20),
        "platform": render.truncate(issue.platform, 40),
        "times_seen": render.json_safe(issue.times_seen),
        "users_seen": render.json_safe(issue.users_seen),
        "first_seen": issue.first_seen.isoformat(),
        "last_seen": issue.last_seen.isoformat(),
        "first_release": render.truncate(issue.first_release, 200),
        "url": issue.url,
        "frames": render.json_safe(list(issue.frames[: max(long // 200, 3)]), min(long, 300)),
    }


def event_data(notification: Notification, long: int) -> dict[str, Any] | None:
    event = notification.event
    if event is None:
        return None
    return {
        "event_id": render.truncate(event.event_id, 64),
        "timestamp": event.timestamp.isoformat(),
        "level": render.truncate(event.level, 20),
        "environment": render.truncate(event.environment, 200),
        "release": render.truncate(event.release, 200),
        "message": render.truncate(event.message, long),
        "url": event.url,
        "tags": {
            render.truncate(k, 100): render.truncate(v, min(long // 10, 200))
            for k, v in event.tags[: max(long // 80, 10)]
        },
    }


def body(notification: Notification) -> bytes:
    """The minified JSON body, under MAX_BODY: long fields, tags and frames are cut
    shorter until it fits (at worst, only the reason and the links are left)."""
    for long in (4000, 1000, 200, 0):
        data = {
            "type": notification.kind,
            "timestamp": notification.created_at.isoformat(),
            "data": {
                "organization": notification.organization,
                "project": {"slug": notification.project, "name": notification.project_name},
                "rule": render.truncate(notification.rule, 200),
                "reason": render.truncate(notification.reason, 500),
                "issue": issue_data(notification, long) if long else None,
                "event": event_data(notification, long) if long else None,
                "details": render.json_safe(dict(notification.details), 500),
                "links": {"issue": render.issue_url(notification)},
            },
        }
        encoded = orjson.dumps(data)
        if len(encoded) <= MAX_BODY:
            break
    return encoded


class WebhookBackend(Backend):
    kind = "webhook"
    label = "Webhook"
    description = "POST a signed JSON message (Standard Webhooks) to a URL of yours."
    max_age = None
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting("url", "URL", kind="url"),
        # Secret: extra headers usually carry a receiver's token.
        Setting(
            "headers", "Extra headers", kind="headers", required=False, default={}, secret=True
        ),
        Setting(
            "signing_secret",
            "Signing secret",
            required=False,
            secret=True,
            validate=check_secret,
            help="whsec_…; leave empty to have one generated (shown once).",
        ),
    )
    RESERVED = frozenset({"webhook-id", "webhook-timestamp", "webhook-signature", "content-type"})

    @classmethod
    def clean(cls, values: Any) -> dict[str, Any]:
        cleaned = super().clean(values)
        for name in cleaned.get("headers") or {}:
            if name.lower() in cls.RESERVED:
                raise ConfigError("headers", f"{name} is set by Tracehound and cannot be changed")
        return cleaned

    @classmethod
    def generate(cls, config: dict[str, Any]) -> dict[str, str]:
        if config.get("signing_secret"):
            return {}
        config["signing_secret"] = new_secret()
        return {"signing_secret": config["signing_secret"]}

    def redactions(self) -> tuple[str, ...]:
        headers = self.config.get("headers") or {}
        return (
            *(str(v) for v in headers.values() if len(str(v)) >= 4),
            *(str(self.config[k]) for k in ("signing_secret",) if self.config.get(k)),
        )

    def target_key(self) -> str:
        return str(self.config["url"])

    def send(self, notification: Notification, delivery: Delivery) -> Sent:
        payload = body(notification)
        timestamp = int(time.time())
        headers = {
            **(self.config.get("headers") or {}),
            "webhook-id": notification.id,
            "webhook-timestamp": str(timestamp),
        }
        secret = self.config.get("signing_secret")
        if secret:
            headers["webhook-signature"] = sign(secret, notification.id, timestamp, payload)
        response = post(delivery.http, self.config["url"], payload, headers)
        return classify(response, ok=range(200, 300), disable=(410,))
