"""An example Tracehound notification backend: push alerts to an ntfy topic.

ntfy (https://docs.ntfy.sh/publish/) publishes a message with one HTTP request:
`POST <server>/<topic>` with the message as the body and metadata in headers (`Title`,
`Priority` 1-5, `Click` a URL opened on tap, `Tags` comma-separated emoji short codes or
words). A protected topic takes `Authorization: Bearer <access token>`.

Everything a backend needs comes from `tracehound.alerts.base`: declare `settings`, read
them from `self.config`, send with `delivery.http` (Tracehound's guarded client: it
refuses internal addresses, times out, never follows redirects and logs each call with
secrets redacted), return `Sent`, raise `DeliveryError` saying whether to retry.
"""

from __future__ import annotations

import base64
from typing import ClassVar

from tracehound.alerts.base import Backend, Delivery, DeliveryError, Notification, Sent, Setting
from tracehound.lib.outbound import parse_retry_after

__all__ = ["NtfyBackend"]

# ntfy turns messages over 4096 bytes into attachments: stay under it.
MESSAGE_BYTES = 4000
TITLE_CHARS = 250
PRIORITY = {"fatal": "5", "error": "4", "warning": "3", "info": "2", "debug": "1"}
TAGS = {
    "issue.new": "rotating_light",
    "issue.regression": "repeat",
    "issue.resolved": "white_check_mark",
}


def check_topic(value: str) -> None:
    """ntfy topics are 1-64 letters, digits, '-' or '_' (and not a path)."""
    if not (0 < len(value) <= 64) or not all(
        c.isascii() and (c.isalnum() or c in "-_") for c in value
    ):
        raise ValueError("must be 1 to 64 letters, digits, '-' or '_'")


def one_line(text: str, limit: int) -> str:
    """Header-safe: no control characters, at most `limit` characters."""
    cleaned = "".join(c if c.isprintable() else " " for c in text).strip()
    return cleaned[: limit - 1] + "…" if len(cleaned) > limit else cleaned


def header_value(text: str) -> str:
    """HTTP headers are Latin-1; ntfy decodes RFC 2047 encoded words for the rest."""
    try:
        text.encode("latin-1")
        return text
    except UnicodeEncodeError:
        return "=?UTF-8?B?" + base64.b64encode(text.encode()).decode() + "?="


def body_text(notification: Notification) -> str:
    issue = notification.issue
    lines = [notification.reason]
    if issue is not None:
        lines += [
            issue.title,
            issue.culprit,
            f"{issue.times_seen} events, {issue.users_seen} users",
        ]
    if notification.event is not None and notification.event.environment:
        lines.append(f"environment: {notification.event.environment}")
    text = "\n".join(line for line in lines if line).replace("\0", "")
    data = text.encode()
    if len(data) > MESSAGE_BYTES:
        text = data[: MESSAGE_BYTES - 3].decode("utf-8", "ignore") + "…"
    return text


class NtfyBackend(Backend):
    """Publish each alert to an ntfy topic (a phone or desktop notification)."""

    kind: ClassVar[str] = "ntfy"
    label: ClassVar[str] = "ntfy"
    description: ClassVar[str] = "Push notifications through ntfy.sh or a self-hosted ntfy server."
    settings = (
        Setting("server_url", "Server URL", kind="url", required=False, default="https://ntfy.sh"),
        Setting("topic", "Topic", validate=check_topic),
        Setting(
            "access_token",
            "Access token",
            required=False,
            secret=True,
            help="For protected topics.",
        ),
    )

    def target_key(self) -> str:
        return f"{self.config.get('server_url')}/{self.config.get('topic')}"

    def send(self, notification: Notification, delivery: Delivery) -> Sent:
        server = str(self.config.get("server_url") or "https://ntfy.sh").rstrip("/")
        url = f"{server}/{self.config['topic']}"
        issue = notification.issue
        title = f"[{notification.project}] {issue.title if issue else notification.reason}"
        headers = {
            "Title": header_value(one_line(title, TITLE_CHARS)),
            "Priority": PRIORITY.get(issue.level if issue else "", "3"),
            "Tags": TAGS.get(notification.kind, "warning"),
            "Content-Type": "text/plain; charset=utf-8",
        }
        if issue is not None and issue.url:
            headers["Click"] = one_line(issue.url, 2000)
        if self.config.get("access_token"):
            headers["Authorization"] = f"Bearer {self.config['access_token']}"
        response = delivery.http.request(
            "POST", url, data=body_text(notification).encode(), headers=headers, max_bytes=65536
        )
        if 300 <= response.status < 400:
            raise DeliveryError(
                f"ntfy answered a redirect ({response.status}), not followed: check server_url",
                status=response.status,
            )
        if response.status in (401, 403, 404, 410):
            raise DeliveryError(
                f"ntfy refused the topic ({response.status}): check the topic and access token",
                disable_channel=True,
                status=response.status,
            )
        if response.status == 429 or response.status >= 500:
            raise DeliveryError(
                f"ntfy answered {response.status}",
                retry_after=parse_retry_after(response.headers.get("retry-after")),
                status=response.status,
            )
        if not 200 <= response.status < 300:
            raise DeliveryError(
                f"ntfy answered {response.status}", retryable=False, status=response.status
            )
        try:
            answer = response.json()
        except ValueError:
            raise DeliveryError(
                "ntfy answered 2xx with a body that is not JSON", status=response.status
            ) from None
        if not isinstance(answer, dict) or not isinstance(answer.get("id"), str):
            raise DeliveryError("ntfy answered 2xx without a message id", status=response.status)
        return Sent(status=response.status, excerpt=response.text[:2048])
