"""The notification backend interface: what every channel kind implements.

A backend is a small class (one module per kind under `alerts/backends/`, or any
installed package's class registered under the `tracehound.notification_backends` entry
point group) that declares its settings and sends one typed `Notification`:

    class SlackBackend(Backend):
        kind = "slack"
        label = "Slack"
        settings = (Setting("webhook_url", "Webhook URL", kind="url", secret=True),)

        def send(self, notification: Notification, ctx: Delivery) -> Sent:
            response = ctx.http.request("POST", self.config["webhook_url"], json=...)
            ...

Errors are raised as `DeliveryError`, saying whether to retry and whether the channel is
broken for good; anything else a backend raises counts as a retryable failure. The worker
(`alerts.delivery`) owns retries, backoff, expiry, the delivery log and disabling.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from tracehound.lib.outbound import Outbound

# Notification kinds (Notification.kind, Standard Webhooks `type` is "issue.<…>").
KINDS = (
    "issue.new",
    "issue.regression",
    "issue.unignored",
    "issue.resolved",
    "issue.frequency",
    "issue.users",
    "test",
)


class ConfigError(Exception):
    """A channel setting is missing or malformed; `setting` names it."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting}: {message}")
        self.setting = setting
        self.message = message


class DeliveryError(Exception):
    """A failed send.

    retryable: try again later (network errors, 429, 5xx); False for a permanent answer.
    retry_after: seconds the receiver asked us to wait (Retry-After, rate-limit reset).
    disable_channel: the channel is broken until someone fixes it (401/403/404/410: bad
      credentials, deleted webhook); the worker disables it and tells the org's owners.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = True,
        retry_after: float | None = None,
        disable_channel: bool = False,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable and not disable_channel
        self.retry_after = retry_after
        self.disable_channel = disable_channel
        self.status = status


@dataclass(frozen=True)
class Setting:
    """One declared channel setting.

    kind: "string", "url", "email_list" (comma-separated addresses), "choice", "bool",
      "headers" (JSON object or "Name: value" lines), "text" (multi-line).
    secret: stored encrypted, never rendered back (forms show "set; leave blank to keep").
    validate: optional extra check, given the cleaned value; raises ValueError(message).
    """

    name: str
    label: str
    kind: str = "string"
    required: bool = True
    secret: bool = False
    default: Any = None
    help: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    validate: Callable[[Any], None] | None = None


@dataclass(frozen=True)
class IssueSummary:
    id: int
    short_id: str  # PROJECT-12
    title: str
    culprit: str
    level: str
    status: str
    platform: str
    times_seen: int
    users_seen: int
    first_seen: datetime
    last_seen: datetime
    url: str  # absolute link to the issue page
    # Top in-app frames, innermost first: {"function", "module", "filename", "lineno"}.
    frames: tuple[dict[str, Any], ...] = ()
    first_release: str = ""


@dataclass(frozen=True)
class EventSummary:
    event_id: str
    timestamp: datetime
    level: str
    environment: str
    release: str
    message: str  # the event's title line
    url: str  # absolute link to the event
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Notification:
    """What a backend is asked to send; rebuilt from the outbox row's payload."""

    id: str  # the outbox row's UUID as 32 hex digits: stable across retries
    kind: str  # KINDS
    created_at: datetime
    organization: str  # slug
    project: str  # slug
    project_name: str
    reason: str  # human: "New issue", "Regression in 1.4.2", "More than 100 events in 5 minutes"
    rule: str = ""  # the rule's name ("" for a test notification)
    issue: IssueSummary | None = None
    event: EventSummary | None = None  # the event that triggered it, if any
    details: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"count": 120, "window": 5}

    def to_payload(self) -> dict[str, Any]:
        """JSON-safe dict for Notification.payload (datetimes as ISO strings)."""
        from tracehound.alerts.payload import dump

        return dump(self)

    @classmethod
    def from_payload(cls, notification_id: str, payload: Mapping[str, Any]) -> Notification:
        from tracehound.alerts.payload import load

        return load(notification_id, payload)


@dataclass
class Sent:
    """A successful send. For ticket systems: the ticket to remember (create-once)."""

    status: int | None = None
    excerpt: str = ""
    external_id: str = ""
    external_key: str = ""
    external_url: str = ""


@dataclass
class Link:
    """The ticket a channel already made for the issue (ExternalIssueLink), if any."""

    external_id: str
    external_key: str
    url: str


@dataclass
class Delivery:
    """What the worker hands a backend for one attempt.

    http: the outbound client to use for every request (guarded, logged, redacted).
    link: the ticket already made for this issue by this channel, if any.
    progress: a dict persisted with the outbox row after the attempt, success or not
      (e.g. {"create_sent_at": …} before a ticket create, so a retry searches first).
    attempt: 1 for the first attempt.
    """

    http: Outbound
    link: Link | None
    progress: dict[str, Any]
    attempt: int
    drop_link: Callable[[], None] = lambda: None  # the linked ticket is gone (404/410)


class Backend(abc.ABC):
    """Base class of every channel kind. Subclasses set the ClassVars and `send`."""

    kind: ClassVar[str]  # stored in Channel.kind: never rename
    label: ClassVar[str]
    settings: ClassVar[tuple[Setting, ...]] = ()
    description: ClassVar[str] = ""
    # Ticket systems: create once per issue, comment on regression, serial per target.
    ticketing: ClassVar[bool] = False
    # At most one delivery at a time per target_key() (ticket systems, PagerDuty).
    serial: ClassVar[bool] = False
    # Chat alerts older than this are dropped as stale; None: never expire.
    max_age: ClassVar[timedelta | None] = timedelta(hours=2)
    # Also sent issue.resolved for an issue it was notified about, without a rule asking
    # (PagerDuty resolves its incident; Jira/GitHub close the ticket when configured to).
    follows_resolve: ClassVar[bool] = False
    # Kinds this backend acts on; others are recorded as succeeded without sending.
    handles: ClassVar[frozenset[str]] = frozenset(KINDS)

    def __init__(self, config: Mapping[str, Any]) -> None:
        """`config`: every setting, secrets decrypted, defaults applied."""
        self.config = dict(config)

    @classmethod
    def clean(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        """Check and normalise settings (from a form, the CLI or the API); raises ConfigError.

        The default checks each declared Setting by its kind; backends add cross-field
        checks by overriding and calling super().
        """
        from tracehound.alerts.settings_check import clean_settings

        return clean_settings(cls.settings, values)

    @classmethod
    def generate(cls, config: dict[str, Any]) -> dict[str, str]:
        """Fill settings the server makes (a webhook signing secret) into `config` when
        absent; returns those made now, to be shown once to whoever created the channel."""
        return {}

    def target_key(self) -> str:
        """What `serial` serializes on and rate limits count per (a site, a routing key)."""
        return ""

    def redactions(self) -> tuple[str, ...]:
        """Strings to hide in the delivery log (tokens, URLs that carry a signature)."""
        return tuple(
            str(self.config[s.name]) for s in self.settings if s.secret and self.config.get(s.name)
        )

    @abc.abstractmethod
    def send(self, notification: Notification, delivery: Delivery) -> Sent:
        """Send one notification through `delivery.http`; raise DeliveryError on failure."""
