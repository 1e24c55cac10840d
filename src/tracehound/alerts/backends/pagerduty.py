"""PagerDuty Events API v2 (reference §1.4): `trigger` with a dedup_key stable per issue,
`resolve` with the same key when the issue is resolved.

The dedup_key makes a retried trigger idempotent on PagerDuty's side, so this backend
never expires (`max_age = None`) and is serial per routing key. `events_url` is the US
endpoint by default, the EU one otherwise; another https URL (a proxy) is accepted, and
http only to an address in TRACEHOUND_OUTBOUND_ALLOW.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import orjson

from tracehound.alerts import render
from tracehound.alerts.backends import check_service_url, classify, hashed_target, post
from tracehound.alerts.base import (
    Backend,
    Delivery,
    DeliveryError,
    Notification,
    Sent,
    Setting,
)

US_URL = "https://events.pagerduty.com/v2/enqueue"
EU_URL = "https://events.eu.pagerduty.com/v2/enqueue"
SEVERITY = {
    "fatal": "critical",
    "error": "error",
    "warning": "warning",
    "info": "info",
    "debug": "info",
}
TRIGGERS = frozenset(
    {"issue.new", "issue.regression", "issue.frequency", "issue.users", "issue.unignored", "test"}
)
ROUTING_KEY = re.compile(r"^[A-Za-z0-9]{32}$")


def check_routing_key(value: str) -> None:
    if not ROUTING_KEY.match(value):
        raise ValueError("must be the 32-character integration key of an Events API v2 service")


def check_events_url(value: str) -> None:
    if value not in (US_URL, EU_URL):
        check_service_url("events_url", value)


def dedup_key(notification: Notification) -> str:
    """`tracehound:<org>:<project>:<issue id>`; a test gets a key of its own."""
    if notification.issue is None or notification.kind == "test":
        tail = f"test:{notification.id}"
    else:
        tail = str(notification.issue.id)
    return f"tracehound:{notification.organization}:{notification.project}:{tail}"[:255]


def trigger_event(notification: Notification, routing_key: str) -> dict[str, Any]:
    issue = notification.issue
    level = (issue.level if issue else "info") or "error"
    url = render.issue_url(notification)
    details: dict[str, Any] = {"reason": render.truncate(notification.reason, 500)}
    if notification.rule:
        details["rule"] = render.truncate(notification.rule, 200)
    if issue is not None:
        details.update(
            issue=render.truncate(issue.short_id, 100),
            culprit=render.truncate(issue.culprit, 1000),
            events=render.count(issue.times_seen),
            users=render.count(issue.users_seen),
            first_seen=issue.first_seen.isoformat(),
        )
    event = notification.event
    if event is not None:
        details.update(
            environment=render.truncate(event.environment, 200),
            release=render.truncate(event.release, 200),
            event_id=render.truncate(event.event_id, 64),
        )
    payload: dict[str, Any] = {
        "summary": render.one_line(render.headline(notification, 1024), 1024) or "Alert",
        "source": render.truncate(f"{notification.organization}/{notification.project}", 255),
        "severity": SEVERITY.get(level, "error"),
        "timestamp": (event.timestamp if event else notification.created_at).isoformat(),
        "component": render.truncate(notification.project, 255),
        "custom_details": details,
    }
    if issue is not None and issue.platform:
        payload["class"] = render.truncate(issue.platform, 255)
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key(notification),
        "payload": payload,
        "client": "Tracehound",
        "client_url": url,
        "links": [{"href": url, "text": "Open issue in Tracehound"}],
    }


class PagerDutyBackend(Backend):
    kind = "pagerduty"
    label = "PagerDuty"
    description = "Trigger a PagerDuty incident per issue; resolve it with the issue."
    serial = True
    max_age = None
    follows_resolve = True
    handles = TRIGGERS | {"issue.resolved"}
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting(
            "routing_key",
            "Integration (routing) key",
            secret=True,
            validate=check_routing_key,
        ),
        Setting(
            "events_url",
            "Events API URL",
            kind="url",
            required=False,
            default=US_URL,
            validate=check_events_url,
            help=f"{US_URL} (US, default) or {EU_URL} (EU service region).",
        ),
    )

    def target_key(self) -> str:
        return hashed_target("pagerduty", str(self.config["routing_key"]))

    def event(self, notification: Notification) -> dict[str, Any]:
        key = str(self.config["routing_key"])
        if notification.kind == "issue.resolved":
            return {
                "routing_key": key,
                "event_action": "resolve",
                "dedup_key": dedup_key(notification),
            }
        return trigger_event(notification, key)

    def send(self, notification: Notification, delivery: Delivery) -> Sent:
        event = self.event(notification)
        url = self.config.get("events_url") or US_URL
        response = post(delivery.http, url, orjson.dumps(event), {})
        sent = classify(response, ok=(202,), permanent=(400,), retry_default=120.0)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or answer.get("status") != "success":
            raise DeliveryError(
                f"HTTP 202 with an unexpected body: {sent.excerpt or '(empty)'}", status=202
            )
        return sent
