"""The delivery worker with real HTTP to local receivers, through the example ntfy plugin
(installed in the test environment) and a small serial ticket backend defined here."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from django.core import mail

from tests.alerts.delivery_receiver import Receiver, Reply
from tracehound.alerts import delivery, registry
from tracehound.alerts.base import (
    Backend,
    Delivery,
    DeliveryError,
    EventSummary,
    IssueSummary,
    Sent,
    Setting,
)
from tracehound.alerts.base import Notification as Message
from tracehound.alerts.channels import create_channel
from tracehound.alerts.models import Channel, DeliveryAttempt, ExternalIssueLink, Notification
from tracehound.alerts.outbox import enqueue
from tracehound.issues.models import Issue
from tracehound.projects.actions import create_project
from tracehound.projects.models import OrganizationMember, Project

pytestmark = pytest.mark.django_db

State = Notification.State


def now() -> datetime:
    return datetime.now(tz=UTC)


def message(kind: str = "issue.new", title: str = "ValueError: bad input", **extra: Any) -> Message:
    t = now()
    issue = IssueSummary(
        id=1,
        short_id="BACKEND-1",
        title=title,
        culprit="app.views in handler",
        level="error",
        status="unresolved",
        platform="python",
        times_seen=3,
        users_seen=2,
        first_seen=t,
        last_seen=t,
        url="https://tracehound.example.com/acme/backend/issues/1/",
    )
    event = EventSummary(
        event_id="a" * 32,
        timestamp=t,
        level="error",
        environment="production",
        release="1.0",
        message=title,
        url=issue.url + "events/" + "a" * 32 + "/",
    )
    return Message(
        id="",
        kind=kind,
        created_at=t,
        organization="acme",
        project="backend",
        project_name="Backend",
        reason="New issue",
        issue=issue,
        event=event,
        **extra,
    )


@pytest.fixture
def project() -> Project:
    return create_project("acme", "backend", platform="python")[0]


@pytest.fixture
def issue(project: Project) -> Issue:
    return Issue.objects.create(
        project=project,
        short_id=1,
        title="ValueError: bad input",
        grouping_version="newstyle:2023-01-11",
        first_seen=now(),
        last_seen=now(),
    )


def owner_of(project: Project, email: str = "owner@example.com") -> Any:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("owner", email=email, password="pw-pw-pw-pw")
    OrganizationMember.objects.create(
        organization=project.organization, user=user, role=OrganizationMember.Role.OWNER
    )
    return user


def ntfy_channel(project: Project, receiver: Receiver, **values: Any) -> Channel:
    settings = {"server_url": receiver.url, "topic": "alerts", **values}
    return create_channel(project.organization, "push", "ntfy", settings)[0]


def enqueue_one(
    channel: Channel, issue: Issue | None = None, key: str = "new:1", **kw: Any
) -> Notification:
    rows = enqueue(
        [channel],
        message(**kw),
        dedupe_key=key,
        project_id=channel.organization.projects.first().id,  # type: ignore[union-attr]
        issue_id=issue.id if issue else None,
    )
    assert len(rows) == 1
    return Notification.objects.get(id=rows[0].id)


def make_due(row: Notification) -> None:
    Notification.objects.filter(id=row.id).update(next_attempt_at=now() - timedelta(seconds=1))


def attempts(row: Notification) -> list[DeliveryAttempt]:
    return list(DeliveryAttempt.objects.filter(notification=row).order_by("number"))


# ----------------------------------------------------------------------- the ntfy plugin


def test_the_example_plugin_is_a_kind_and_delivers(project: Project) -> None:
    registry.backends.cache_clear()
    assert "ntfy" in registry.backends()
    assert ("ntfy", "ntfy") in registry.choices()
    with Receiver() as receiver:
        channel = ntfy_channel(project, receiver, access_token="tk_secret_token_123")
        row = enqueue_one(channel)
        assert delivery.deliver_due() == 1
        (got,) = receiver.received
    assert got.method == "POST" and got.path == "/alerts"
    assert got.headers["title"] == "[backend] ValueError: bad input"
    assert got.headers["priority"] == "4"
    assert got.headers["tags"] == "rotating_light"
    assert got.headers["click"] == "https://tracehound.example.com/acme/backend/issues/1/"
    assert got.headers["authorization"] == "Bearer tk_secret_token_123"
    assert b"ValueError: bad input" in got.body and b"production" in got.body
    row.refresh_from_db()
    assert row.state == State.SUCCEEDED and row.attempts == 1 and row.delivered_at
    (entry,) = attempts(row)
    assert entry.outcome == "succeeded" and entry.status_code == 200
    assert entry.method == "POST" and entry.url.endswith("/alerts")
    assert entry.calls[0]["status"] == 200
    channel.refresh_from_db()
    assert channel.last_success_at is not None and channel.failing_since is None


def test_hostile_titles_stay_inside_ntfy_limits(project: Project) -> None:
    # (NUL cannot reach a payload: PostgreSQL JSON refuses it; ingest strips it.)
    title = "é\x01<b>x</b>\r\nInjected: 1 " + "w" * 1_000_000
    with Receiver() as receiver:
        row = enqueue_one(ntfy_channel(project, receiver), title=title)
        delivery.deliver_due()
        (got,) = receiver.received
    row.refresh_from_db()
    assert row.state == State.SUCCEEDED
    assert "injected" not in got.headers
    assert got.headers["title"].startswith("=?UTF-8?B?")
    assert len(got.body) <= 4000


# ----------------------------------------------------------------------- faults


def test_500_then_success_is_retried_with_two_attempts_logged(project: Project) -> None:
    with Receiver(Reply(500, b"oops"), Reply()) as receiver:
        row = enqueue_one(ntfy_channel(project, receiver))
        assert delivery.deliver_due() == 1
        row.refresh_from_db()
        assert row.state == State.PENDING and row.attempts == 1 and row.last_status == 500
        # exponential backoff with jitter: 10 s · [0.5, 1.5)
        wait = (row.next_attempt_at - now()).total_seconds()
        assert 3 <= wait <= 16
        assert delivery.deliver_due() == 0  # not due yet
        make_due(row)
        assert delivery.deliver_due() == 1
        assert len(receiver.received) == 2
    row.refresh_from_db()
    assert row.state == State.SUCCEEDED and row.attempts == 2
    first, second = attempts(row)
    assert (first.outcome, first.status_code, first.response_excerpt) == ("retry", 500, "oops")
    assert "500" in first.error
    assert (second.outcome, second.status_code) == ("succeeded", 200)
    channel = Channel.objects.get(id=row.channel_id)
    assert channel.failing_since is None and channel.last_failure_at is not None


def test_429_retry_after_is_honoured(project: Project) -> None:
    with Receiver(Reply(429, b"slow down", {"Retry-After": "900"})) as receiver:
        row = enqueue_one(ntfy_channel(project, receiver))
        delivery.deliver_due()
    row.refresh_from_db()
    assert row.state == State.PENDING and row.last_status == 429
    wait = (row.next_attempt_at - now()).total_seconds()
    assert 890 <= wait <= 901


def test_410_disables_the_channel_and_mails_the_owners(
    project: Project, django_capture_on_commit_callbacks: Any
) -> None:
    owner_of(project)
    with Receiver(Reply(410, b"gone")) as receiver:
        channel = ntfy_channel(project, receiver)
        row = enqueue_one(channel)
        other = enqueue_one(channel, key="new:2")
        with django_capture_on_commit_callbacks(execute=True):
            delivery.deliver_one(row)
        assert len(receiver.received) == 1
    row.refresh_from_db()
    channel.refresh_from_db()
    assert row.state == State.FAILED and row.last_status == 410
    assert not channel.enabled and "410" in channel.disabled_reason
    other.refresh_from_db()
    assert other.state == State.SUPPRESSED  # chat alerts owed to a disabled channel
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["owner@example.com"]
    assert "push" in mail.outbox[0].subject and "410" in mail.outbox[0].body


def test_garbage_2xx_body_is_a_logged_retryable_failure(project: Project) -> None:
    with Receiver(Reply(200, b"<html>proxy login</html>", {"Content-Type": "text/html"})) as r:
        row = enqueue_one(ntfy_channel(project, r))
        delivery.deliver_due()
    row.refresh_from_db()
    assert row.state == State.PENDING and "not JSON" in row.last_error
    (entry,) = attempts(row)
    assert entry.outcome == "retry" and entry.response_excerpt.startswith("<html>")


def test_redirect_to_the_metadata_address_is_not_followed(project: Project) -> None:
    redirect = Reply(302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"})
    with Receiver(redirect) as receiver:
        row = enqueue_one(ntfy_channel(project, receiver))
        delivery.deliver_due()
        assert len(receiver.received) == 1
    row.refresh_from_db()
    assert row.state == State.PENDING and row.last_status == 302
    assert "redirect" in row.last_error
    assert attempts(row)[0].outcome == "retry"


def test_a_stale_chat_alert_expires_unsent(project: Project) -> None:
    with Receiver() as receiver:
        row = enqueue_one(ntfy_channel(project, receiver))
        Notification.objects.filter(id=row.id).update(created_at=now() - timedelta(hours=3))
        assert delivery.deliver_due() == 1
        assert receiver.received == []
    row.refresh_from_db()
    assert row.state == State.EXPIRED
    (entry,) = attempts(row)
    assert entry.outcome == "expired" and "older than" in entry.error


def test_an_unknown_kind_waits_pending(project: Project) -> None:
    channel = Channel.objects.create(
        organization=project.organization, name="gone", kind="uninstalled_plugin", created_at=now()
    )
    row = enqueue_one(channel)
    assert delivery.deliver_due() == 0
    row.refresh_from_db()
    assert row.state == State.PENDING and row.attempts == 0
    assert "not installed" in row.last_error
    assert row.next_attempt_at > now() + timedelta(minutes=5)
    assert attempts(row) == []


def test_unreadable_secrets_fail_the_row_with_a_clear_error(project: Project) -> None:
    with Receiver() as receiver:
        channel = ntfy_channel(project, receiver, access_token="tk_abc")
        Channel.objects.filter(id=channel.id).update(secrets="gAAAAA-not-a-token")
        row = enqueue_one(channel)
        delivery.deliver_due()
        assert receiver.received == []
    row.refresh_from_db()
    assert row.state == State.FAILED and "SECRET_KEY" in row.last_error


# ----------------------------------------------------------------------- a ticket backend


class TicketBackend(Backend):
    """A minimal ticket system for these tests: POST /tickets creates, POST /tickets/<id>/
    comments comments; serial per channel, never expires. Real HTTP to the receiver."""

    kind: ClassVar[str] = "test_tickets"
    label: ClassVar[str] = "Test tickets"
    settings = (
        Setting("url", "URL", kind="url"),
        Setting("token", "Token", secret=True),
    )
    ticketing = True
    serial = True
    max_age = None

    def send(self, notification: Message, delivery: Delivery) -> Sent:
        base = self.config["url"].rstrip("/")
        headers = {"Authorization": f"token {self.config['token']}"}
        if delivery.link is not None:
            url = f"{base}/tickets/{delivery.link.external_id}/comments"
        else:
            url = f"{base}/tickets"
        delivery.progress["tried"] = delivery.progress.get("tried", 0) + 1
        response = delivery.http.request(
            "POST", url, json={"kind": notification.kind}, headers=headers, timeout=(5.0, 1.0)
        )
        if response.status in (401, 403):
            raise DeliveryError("bad token", disable_channel=True, status=response.status)
        if response.status == 404 and delivery.link is not None:
            delivery.drop_link()
            raise DeliveryError("ticket gone", status=404)
        if response.status >= 300:
            raise DeliveryError(f"answered {response.status}", status=response.status)
        body = response.json()
        if delivery.link is not None:
            return Sent(status=response.status)
        return Sent(
            status=response.status,
            external_id=str(body["id"]),
            external_key=f"#{body['id']}",
            external_url=f"{base}/t/{body['id']}",
        )


class ExplodingBackend(Backend):
    kind: ClassVar[str] = "test_exploding"
    label: ClassVar[str] = "Exploding"
    settings = (Setting("secret", "Secret", secret=True),)

    def send(self, notification: Message, delivery: Delivery) -> Sent:
        raise RuntimeError(f"bug with {self.config['secret']} inside")


class ResolveOnlyBackend(TicketBackend):
    kind: ClassVar[str] = "test_resolve_only"
    handles = frozenset({"issue.resolved"})


@pytest.fixture
def test_kinds(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real = registry.backends()
    extra = {
        "test_tickets": TicketBackend,
        "test_exploding": ExplodingBackend,
        "test_resolve_only": ResolveOnlyBackend,
    }
    monkeypatch.setattr(registry, "backends", lambda: {**real, **extra})
    yield


def ticket_channel(project: Project, receiver: Receiver) -> Channel:
    values = {"url": receiver.url, "token": "ghp_SECRETTOKEN"}
    return create_channel(project.organization, "tickets", "test_tickets", values)[0]


def test_a_ticket_is_linked_and_a_regression_comments(
    project: Project, issue: Issue, test_kinds: None
) -> None:
    with Receiver(Reply(201, b'{"id": 42}'), Reply(201, b'{"id": 7}')) as receiver:
        channel = ticket_channel(project, receiver)
        new = enqueue_one(channel, issue)
        regression = enqueue_one(channel, issue, key="regression:1:9", kind="issue.regression")
        assert delivery.deliver_due() == 1  # serial: one at a time per channel
        assert delivery.deliver_due() == 1
        paths = [r.path for r in receiver.received]
    assert paths == ["/tickets", "/tickets/42/comments"]
    link = ExternalIssueLink.objects.get(issue=issue, channel=channel)
    assert (link.external_id, link.external_key) == ("42", "#42")
    for row in (new, regression):
        row.refresh_from_db()
        assert row.state == State.SUCCEEDED and row.progress == {"tried": 1}
    assert "ghp_SECRETTOKEN" not in str(attempts(new)[0].calls)


def test_a_regression_never_overtakes_the_create(
    project: Project, issue: Issue, test_kinds: None
) -> None:
    with Receiver(Reply(503, b"busy"), Reply(201, b'{"id": 5}'), Reply(201, b"{}")) as receiver:
        channel = ticket_channel(project, receiver)
        new = enqueue_one(channel, issue)
        regression = enqueue_one(channel, issue, key="regression:1:9", kind="issue.regression")
        Notification.objects.filter(id=regression.id).update(created_at=now() + timedelta(1e-3))
        assert delivery.deliver_due() == 1  # the create fails, backs off
        assert delivery.deliver_due() == 0  # the regression waits behind it
        regression.refresh_from_db()
        assert regression.state == State.PENDING and regression.attempts == 0
        make_due(new)
        assert delivery.deliver_due() == 1
        assert delivery.deliver_due() == 1
        paths = [r.path for r in receiver.received]
    assert paths == ["/tickets", "/tickets", "/tickets/5/comments"]


def test_tickets_never_expire(project: Project, issue: Issue, test_kinds: None) -> None:
    with Receiver(Reply(201, b'{"id": 1}')) as receiver:
        row = enqueue_one(ticket_channel(project, receiver), issue)
        Notification.objects.filter(id=row.id).update(created_at=now() - timedelta(days=9))
        delivery.deliver_due()
        assert len(receiver.received) == 1
    row.refresh_from_db()
    assert row.state == State.SUCCEEDED


def test_a_deleted_ticket_drops_the_link(project: Project, issue: Issue, test_kinds: None) -> None:
    with Receiver(Reply(404, b"{}")) as receiver:
        channel = ticket_channel(project, receiver)
        ExternalIssueLink.objects.create(
            issue=issue, channel=channel, external_id="9", created_at=now()
        )
        row = enqueue_one(channel, issue, key="regression:1:1", kind="issue.regression")
        delivery.deliver_due()
    assert not ExternalIssueLink.objects.filter(issue=issue, channel=channel).exists()
    row.refresh_from_db()
    assert row.state == State.PENDING


def test_a_timeout_is_a_retry_with_the_error_logged(
    project: Project, issue: Issue, test_kinds: None
) -> None:
    with Receiver(Reply(hang=5)) as receiver:
        row = enqueue_one(ticket_channel(project, receiver), issue)
        delivery.deliver_due()
    row.refresh_from_db()
    assert row.state == State.PENDING and "timed out" in row.last_error
    (entry,) = attempts(row)
    assert entry.outcome == "retry" and entry.status_code is None
    assert 900 <= entry.duration_ms < 4000


def test_any_exception_from_a_backend_is_a_redacted_retry(
    project: Project, test_kinds: None
) -> None:
    channel = create_channel(
        project.organization, "boom", "test_exploding", {"secret": "hunter2-secret"}
    )[0]
    row = enqueue_one(channel)
    assert delivery.deliver_due() == 1
    row.refresh_from_db()
    assert row.state == State.PENDING
    assert "RuntimeError" in row.last_error and "hunter2-secret" not in row.last_error
    assert "[redacted]" in row.last_error


def test_a_channel_failing_for_days_is_disabled_and_owners_told(
    project: Project,
    issue: Issue,
    test_kinds: None,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.TRACEHOUND_ALERT_DISABLE_AFTER_DAYS = 3
    owner_of(project)
    with Receiver(Reply(502, b"bad gateway")) as receiver:
        channel = ticket_channel(project, receiver)
        row = enqueue_one(channel, issue)
        delivery.deliver_due()
        channel.refresh_from_db()
        assert channel.enabled and channel.failing_since is not None
        assert mail.outbox == []
        Channel.objects.filter(id=channel.id).update(failing_since=now() - timedelta(days=4))
        make_due(row)
        with django_capture_on_commit_callbacks(execute=True):
            delivery.deliver_due()
    channel.refresh_from_db()
    assert not channel.enabled and "failing since" in channel.disabled_reason
    assert len(mail.outbox) == 1
    row.refresh_from_db()
    assert row.state == State.PENDING  # tickets owed stay owed until it is enabled again


def test_bad_credentials_disable_the_channel_and_the_ticket_stays_owed(
    project: Project, issue: Issue, test_kinds: None
) -> None:
    from tracehound.alerts.channels import set_enabled

    with Receiver(Reply(401, b"{}"), Reply(201, b'{"id": 3}')) as receiver:
        channel = ticket_channel(project, receiver)
        row = enqueue_one(channel, issue)
        delivery.deliver_due()
        row.refresh_from_db()
        assert row.state == State.PENDING and "enabled again" in row.last_error
        assert attempts(row)[0].outcome == "retry"
        channel.refresh_from_db()
        assert not channel.enabled and "bad token" in channel.disabled_reason
        make_due(row)
        assert delivery.deliver_due() == 0  # a disabled channel sends nothing
        set_enabled(channel, True)  # the token was fixed
        assert delivery.deliver_due() == 1
        assert len(receiver.received) == 2
    row.refresh_from_db()
    assert row.state == State.SUCCEEDED
    assert ExternalIssueLink.objects.get(issue=issue, channel=channel).external_id == "3"


# ----------------------------------------------------------------------- claiming


def test_a_dead_workers_row_is_claimed_again_after_its_lease(project: Project) -> None:
    with Receiver() as receiver:
        row = enqueue_one(ntfy_channel(project, receiver))
        (claimed,) = delivery.claim(10)  # a worker claims it, then is killed
        assert claimed.id == row.id
        assert delivery.deliver_due() == 0  # still leased
        Notification.objects.filter(id=row.id).update(locked_until=now() - timedelta(seconds=1))
        assert delivery.deliver_due() == 1
        assert len(receiver.received) == 1
    row.refresh_from_db()
    assert row.state == State.SUCCEEDED


def test_deliver_one_sends_a_row_that_is_not_due_yet(project: Project) -> None:
    with Receiver() as receiver:
        row = enqueue_one(ntfy_channel(project, receiver))
        Notification.objects.filter(id=row.id).update(next_attempt_at=now() + timedelta(hours=1))
        entry = delivery.deliver_one(row)
        assert entry.outcome == "succeeded" and entry.number == 1
        assert len(receiver.received) == 1
        again = delivery.deliver_one(row)  # finished: its attempt, not a second send
        assert again.id == entry.id and len(receiver.received) == 1


def test_prune_forgets_old_finished_rows(project: Project) -> None:
    with Receiver() as receiver:
        channel = ntfy_channel(project, receiver)
        old = enqueue_one(channel, key="new:1")
        pending = enqueue_one(channel, key="new:2")
        delivery.deliver_one(old)
    Notification.objects.filter(id__in=[old.id, pending.id]).update(
        created_at=now() - timedelta(days=40)
    )
    assert delivery.prune() == 1
    assert not Notification.objects.filter(id=old.id).exists()
    assert not DeliveryAttempt.objects.filter(notification_id=old.id).exists()
    assert Notification.objects.filter(id=pending.id).exists()


def test_backoff_grows_with_jitter_and_respects_retry_after() -> None:
    delays = [delivery.backoff(n, None, None) for n in range(1, 8)]
    assert 5 <= delays[0] < 15 and 320 <= delays[6] < 960
    assert delivery.backoff(1, None, 3600) >= 3600
    assert delivery.backoff(1, None, 10**9) <= delivery.RETRY_AFTER_CAP
    assert delivery.backoff(40, None, None) <= delivery.BACKOFF_CAP * 1.5


def test_loopback_allowed_only_by_the_fixture(settings: Any) -> None:
    assert ipaddress.ip_network("127.0.0.0/8") in settings.TRACEHOUND_OUTBOUND_ALLOW


def test_the_alerts_deliver_once_command(project: Project) -> None:
    import io

    from django.core.management import CommandError, call_command

    with Receiver() as receiver:
        channel = ntfy_channel(project, receiver)
        for n in range(3):
            enqueue_one(channel, key=f"new:{n}")
        out = io.StringIO()
        call_command("alerts", "deliver", "--once", "--limit", "2", stdout=out)
        assert out.getvalue().strip() == "handled 3 notifications"
        assert len(receiver.received) == 3
    with pytest.raises(CommandError, match="--limit"):
        call_command("alerts", "deliver", "--once", "--limit", "0")


def test_a_kind_the_backend_does_not_handle_is_recorded_unsent(
    project: Project, issue: Issue, test_kinds: None
) -> None:
    with Receiver() as receiver:
        values = {"url": receiver.url, "token": "t"}
        channel = create_channel(project.organization, "resolver", "test_resolve_only", values)[0]
        row = enqueue_one(channel, issue)  # issue.new
        assert delivery.deliver_due() == 1
        assert receiver.received == []
    row.refresh_from_db()
    assert row.state == State.SUCCEEDED
    (entry,) = attempts(row)
    assert entry.outcome == "succeeded" and entry.response_excerpt.startswith("not sent")
    channel.refresh_from_db()
    assert channel.last_success_at is None  # nothing was sent: no news of its health


# ----------------------------------------------------------------------- leases as tokens


def test_a_lease_that_ran_out_mid_batch_is_not_sent_twice(project: Project, settings: Any) -> None:
    settings.TRACEHOUND_ALERT_LEASE_SECONDS = 1.0
    with Receiver(Reply(hang=1.5)) as receiver:
        channel = ntfy_channel(project, receiver)
        first = enqueue_one(channel, key="new:1")
        second = enqueue_one(channel, key="new:2")
        worker_a = delivery.claim(10)  # worker A takes both
        assert {r.id for r in worker_a} == {first.id, second.id}
        delivery.attempt(worker_a[0])  # 1.5 s: the other row's lease runs out meanwhile
        worker_b = delivery.claim(10)  # worker B takes the lapsed row
        assert [r.id for r in worker_b] == [worker_a[1].id]
        assert delivery.attempt(worker_b[0]) is not None
        assert delivery.attempt(worker_a[1]) is None  # A goes on: the row is B's now
        assert len(receiver.received) == 2
    for row in (first, second):
        assert [a.outcome for a in attempts(row)] == ["succeeded"]
        row.refresh_from_db()
        assert row.state == State.SUCCEEDED


class TakeoverBackend(Backend):
    """Sends, and meanwhile (as a slow send lets happen) another worker claims the row
    after its lease ran out: done here with that worker's own UPDATE."""

    kind: ClassVar[str] = "test_takeover"
    label: ClassVar[str] = "Takeover"

    def send(self, notification: Message, delivery: Delivery) -> Sent:
        row = Notification.objects.get(id=notification.id)
        Notification.objects.filter(id=row.id).update(locked_until=now() + timedelta(hours=1))
        return Sent(status=200, excerpt="sent")


def test_an_outcome_is_not_written_over_a_row_another_worker_took(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = registry.backends()
    monkeypatch.setattr(registry, "backends", lambda: {**real, "test_takeover": TakeoverBackend})
    channel = create_channel(project.organization, "t", "test_takeover", {})[0]
    row = enqueue_one(channel)
    (mine,) = delivery.claim(10)
    entry = delivery.attempt(mine)
    assert entry is not None and entry.outcome == "succeeded"  # logged: it was sent
    row.refresh_from_db()
    assert row.state == State.IN_FLIGHT and row.attempts == 0  # the other worker's now


def test_a_serial_channel_waits_for_a_row_whose_lease_lapsed(
    project: Project, issue: Issue, test_kinds: None
) -> None:
    with Receiver() as receiver:
        channel = ticket_channel(project, receiver)
        first = enqueue_one(channel, issue, key="new:1")
        other = Issue.objects.create(
            project=project,
            short_id=2,
            title="KeyError",
            grouping_version="newstyle:2023-01-11",
            first_seen=now(),
            last_seen=now(),
        )
        later = enqueue_one(channel, other, key="new:2")
        Notification.objects.filter(id=later.id).update(next_attempt_at=now() + timedelta(hours=1))
        (held,) = delivery.claim(10)
        assert held.id == first.id
        Notification.objects.filter(id=later.id).update(
            next_attempt_at=now() - timedelta(minutes=1)
        )  # due before the first: claimed first if the lapsed row did not hold the channel
        lapsed = now() - timedelta(seconds=1)
        Notification.objects.filter(id=first.id).update(locked_until=lapsed)
        again = delivery.claim(10)  # the lapsed row again, never the channel's next one
        assert [r.id for r in again] == [first.id]


# ----------------------------------------------------------------------- test notifications


def test_a_failed_test_notification_is_final_and_never_sent_again(project: Project) -> None:
    from tracehound.alerts.testing import send_test

    with Receiver(Reply(500, b'{"error":"down"}')) as receiver:
        channel = ntfy_channel(project, receiver)
        tried = [send_test(channel) for _ in range(3)]  # a user presses "test" three times
        assert [a.outcome for a in tried] == ["failed"] * 3
        assert all("not retried" in a.error and a.status_code == 500 for a in tried)
        rows = Notification.objects.filter(channel=channel, kind="test")
        assert sorted(rows.values_list("state", flat=True)) == [State.FAILED] * 3
        rows.update(next_attempt_at=now() - timedelta(hours=1))
        assert delivery.deliver_due() == 0
        assert len(receiver.received) == 3


def test_a_test_notification_that_succeeds_is_delivered_once(project: Project) -> None:
    from tracehound.alerts.testing import send_test

    with Receiver() as receiver:
        entry = send_test(ntfy_channel(project, receiver))
        assert entry.outcome == "succeeded" and len(receiver.received) == 1
