"""Create-once ticketing shared by the Jira Cloud and GitHub Issues backends.

The flow (docs/alerts.md, "Backends: Jira Cloud and GitHub Issues"):
- a linked ticket gets a comment on regression, frequency, unignore; if the comment is
  answered 404/410 the ticket was deleted: the link is dropped and a new ticket made;
- without a link, a create. Creates are not idempotent on either service, so before sending
  one we record `progress["create_sent_at"]`; an attempt that finds it set first looks for
  the ticket by its marker (Jira label, GitHub body comment) and adopts what it finds;
- issue.resolved closes or transitions the linked ticket when the channel says so;
- a "test" notification checks access without making a ticket nobody wants.
"""

from __future__ import annotations

import abc
import ipaddress
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

from tracehound.alerts.base import Backend, Delivery, DeliveryError, Link, Notification, Sent
from tracehound.lib.outbound import Blocked, OutboundError, Response

COMMENT_KINDS = frozenset({"issue.regression", "issue.frequency", "issue.unignored", "issue.users"})


class TicketGone(Exception):
    """The linked ticket answered 404/410: deleted, or moved out of reach."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_https(url: str) -> None:
    """Tokens travel in headers: plain HTTP only to this machine (a local TLS proxy)."""
    parts = urlsplit(url)
    if parts.scheme != "https" and not is_loopback(parts.hostname or ""):
        raise ValueError("must be an https:// URL")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query string or fragment")


def retry_after(headers: dict[str, str], default: float | None = None) -> float | None:
    """Seconds asked for by a Retry-After header (seconds or an HTTP date)."""
    raw = headers.get("retry-after", "").strip()
    if not raw:
        return default
    try:
        return max(float(raw), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return default
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def json_object(response: Response) -> dict[str, Any] | None:
    """The body as a JSON object, or None for anything else (garbage, a list, HTML)."""
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class TicketBackend(Backend):
    """Base of the ticket backends: subclasses provide the service calls."""

    ticketing = True
    serial = True
    max_age = None
    follows_resolve = True
    service: ClassVar[str] = "the ticket system"
    # (connect, read) seconds. A read timeout after a create is an unknown outcome, which the
    # marker lookup settles on the next attempt.
    timeout: ClassVar[tuple[float, float]] = (5.0, 20.0)

    def send(self, notification: Notification, delivery: Delivery) -> Sent:
        if notification.kind == "test":
            return self.check_access(delivery)
        if notification.issue is None:
            raise DeliveryError("the notification names no issue", retryable=False)
        if notification.kind == "issue.resolved":
            return self._resolve(notification, delivery)
        link = delivery.link
        if link is not None:
            if notification.kind not in COMMENT_KINDS:
                return self.sent_for(link, f"ticket {link.external_key} already exists")
            try:
                return self._comment(notification, link, delivery)
            except TicketGone:
                delivery.drop_link()
        if delivery.progress.get("create_sent_at"):
            found = self.find(notification, delivery)
            if found is not None:
                return found
        # The first create's time: the lookup must reach back to the earliest one sent.
        delivery.progress.setdefault(
            "create_sent_at", datetime.now(UTC).isoformat(timespec="seconds")
        )
        return self.create(notification, delivery)

    def _comment(self, notification: Notification, link: Link, delivery: Delivery) -> Sent:
        """Comment, then follow up; a retry after a failed follow-up does not comment twice."""
        status: int | None = None
        if delivery.progress.get("commented_on") != link.external_key:
            status = self.comment(notification, link, delivery)
            delivery.progress["commented_on"] = link.external_key
        excerpt = f"commented on {link.external_key}"
        extra = self.after_comment(notification, link, delivery)
        return self.sent_for(link, excerpt + extra, status)

    def _resolve(self, notification: Notification, delivery: Delivery) -> Sent:
        if delivery.link is None:
            return Sent(excerpt="no ticket to resolve")
        try:
            return self.resolve(notification, delivery.link, delivery)
        except TicketGone:
            delivery.drop_link()
            return Sent(excerpt=f"ticket {delivery.link.external_key} is gone; nothing to resolve")

    @staticmethod
    def sent_for(link: Link, excerpt: str, status: int | None = None) -> Sent:
        return Sent(
            status=status,
            excerpt=excerpt,
            external_id=link.external_id,
            external_key=link.external_key,
            external_url=link.url,
        )

    def call(
        self,
        delivery: Delivery,
        method: str,
        url: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> Response:
        """One request; network failures become retryable DeliveryErrors."""
        try:
            return delivery.http.request(
                method, url, json=json, headers=headers, auth=auth, timeout=self.timeout
            )
        except Blocked as exc:
            raise DeliveryError(
                f"{self.service} address refused by the outbound guard: {exc}",
                disable_channel=True,
            ) from None
        except OutboundError as exc:
            raise DeliveryError(f"could not reach {self.service}: {exc}") from None

    @staticmethod
    def wait_until(epoch: str) -> float | None:
        try:
            return max(float(epoch) - time.time(), 1.0)
        except ValueError:
            return None

    # The service calls.
    @abc.abstractmethod
    def check_access(self, delivery: Delivery) -> Sent:
        """Check the settings reach the service (a test notification makes no ticket)."""

    @abc.abstractmethod
    def find(self, notification: Notification, delivery: Delivery) -> Sent | None:
        """The ticket an earlier create whose answer was lost made, found by its marker; or None."""

    @abc.abstractmethod
    def create(self, notification: Notification, delivery: Delivery) -> Sent:
        """Open the ticket; the Sent carries its id, key and URL."""

    @abc.abstractmethod
    def comment(self, notification: Notification, link: Link, delivery: Delivery) -> int:
        """Post the comment; returns the HTTP status; raises TicketGone on 404/410."""

    def after_comment(self, notification: Notification, link: Link, delivery: Delivery) -> str:
        """What follows a comment (GitHub reopens); returns text for the excerpt."""
        return ""

    @abc.abstractmethod
    def resolve(self, notification: Notification, link: Link, delivery: Delivery) -> Sent:
        """Close or transition the ticket, as the settings say (nothing if they say nothing)."""
