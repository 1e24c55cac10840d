"""Email through a real SMTP server (aiosmtpd): one multipart message per recipient,
a stable Message-ID, progress so a retry mails only the rest, 4yz retried and 5yz
refused for good, per-user opt-out with a signed one-click link."""

from __future__ import annotations

import email
import email.policy
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from tests.alerts import receivers
from tests.alerts.receivers import delivery, hostile, notification
from tracehound.accounts.mail import email_settings
from tracehound.alerts import models
from tracehound.alerts.backends.email import EmailBackend
from tracehound.alerts.base import ConfigError, DeliveryError, Notification
from tracehound.alerts.channels import backend_for, create_channel
from tracehound.alerts.recipients import email_recipients
from tracehound.projects.actions import create_project
from tracehound.projects.models import OrganizationMember, ProjectTeam, Team, TeamMember

allow_loopback = receivers.allow_loopback

pytestmark = pytest.mark.django_db(transaction=False)


class Inbox:
    """An SMTP server's handler: answers RCPT from `answers` (address → reply, used
    once each), records every accepted message."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.answers: dict[str, list[str]] = {}

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:  # noqa: N802, E501
        replies = self.answers.get(address)
        if replies:
            return replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with override_settings(
            **email_settings(f"smtp://127.0.0.1:{port}"),
            DEFAULT_FROM_EMAIL="alerts@tracehound.example",
            BASE_URL="https://tracehound.example",
        ):
            yield handler
    finally:
        controller.stop()


def user(name: str, **extra: Any) -> Any:
    return get_user_model().objects.create_user(name, f"{name}@example.com", "pw", **extra)


@pytest.fixture
def project() -> Any:
    """acme/shop; the owner and team member see it, `outsider` (a member of another
    team) does not."""
    project, _ = create_project("acme", "shop")
    org = project.organization
    team, other = (Team.objects.create(organization=org, slug=s, name=s) for s in ("web", "ops"))
    ProjectTeam.objects.create(project=project, team=team)
    roles = {"owner": "owner", "dev": "member", "outsider": "member", "ghost": "member"}
    for name, role in roles.items():
        member = OrganizationMember.objects.create(
            organization=org, user=user(name, is_active=name != "ghost"), role=role
        )
        if name in ("dev", "ghost"):
            TeamMember.objects.create(team=team, member=member)
        if name == "outsider":
            TeamMember.objects.create(team=other, member=member)
    return project


def outbox_row(project: Any, values: dict[str, str], n: Notification) -> models.Notification:
    channel, _ = create_channel(
        project.organization, f"mail-{uuid.uuid4().hex[:8]}", "email", values
    )
    now = datetime.now(tz=UTC)
    return models.Notification.objects.create(
        id=uuid.UUID(n.id),
        channel=channel,
        project=project,
        kind=n.kind,
        dedupe_key=f"test:{n.id}",
        payload=n.to_payload(),
        next_attempt_at=now,
        created_at=now,
    )


def send(
    row: models.Notification, progress: dict[str, Any] | None = None, n: Notification | None = None
) -> tuple[Any, Any]:
    backend = backend_for(row.channel)
    assert backend is not None
    d = delivery(backend, progress)
    n = n or Notification.from_payload(row.id.hex, row.payload)
    return backend.send(n, d), d


def test_members_who_see_the_project_each_get_one_multipart_mail(
    project: Any, inbox: Inbox
) -> None:
    n = notification()
    sent, d = send(outbox_row(project, {}, n))
    assert sorted(r for rcpts, _ in inbox.messages for r in rcpts) == [
        "dev@example.com",
        "owner@example.com",
    ]
    assert all(len(rcpts) == 1 for rcpts, _ in inbox.messages)
    _, mail = inbox.messages[0]
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and html is not None
    assert "KeyError: 'user_id'" in text.get_content()
    assert "KeyError: &#x27;user_id&#x27;" in html.get_content()
    assert "https://tracehound.example/organizations/acme/issues/42/" in html.get_content()
    assert mail["Subject"] == "[Tracehound] Shop: New issue: KeyError: 'user_id'"
    assert (
        mail["List-Unsubscribe"].strip().startswith("<https://tracehound.example/alerts/opt-out/")
    )
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert d.progress["mailed"] == ["owner@example.com", "dev@example.com"]
    assert "mailed 2 of 2" in sent.excerpt


def test_the_message_id_is_stable_per_notification_and_recipient(
    project: Any, inbox: Inbox
) -> None:
    n = notification()
    values = {"recipients": "addresses", "addresses": "a@x.example, b@x.example"}
    row = outbox_row(project, values, n)
    send(row)
    send(row)  # a retry whose progress was lost: the same Message-IDs again
    ids = {(rcpts[0], m["Message-ID"]) for rcpts, m in inbox.messages}
    assert len(inbox.messages) == 4 and len(ids) == 2
    assert len({mid for _, mid in ids}) == 2 and all(n.id in mid for _, mid in ids)


def test_a_4yz_recipient_is_retried_alone_and_a_5yz_one_is_never_retried(
    project: Any, inbox: Inbox
) -> None:
    values = {
        "recipients": "addresses",
        "addresses": "ok@x.example, busy@x.example, gone@x.example",
    }
    row = outbox_row(project, values, notification())
    inbox.answers = {
        "busy@x.example": ["450 4.2.1 mailbox busy"],
        "gone@x.example": ["550 5.1.1 no such user"],
    }
    with pytest.raises(DeliveryError) as info:
        send(row, progress := {})
    assert info.value.retryable
    assert progress["mailed"] == ["ok@x.example"]
    assert set(progress["refused"]) == {"gone@x.example"}
    sent, _ = send(row, progress)  # the retry, with the persisted progress
    assert [r for rcpts, _ in inbox.messages for r in rcpts] == ["ok@x.example", "busy@x.example"]
    assert "gone@x.example (SMTP 550)" in sent.excerpt


def test_all_recipients_refused_is_a_permanent_failure(project: Any, inbox: Inbox) -> None:
    row = outbox_row(
        project, {"recipients": "addresses", "addresses": "gone@x.example"}, notification()
    )
    inbox.answers = {"gone@x.example": ["550 no such user"]}
    with pytest.raises(DeliveryError) as info:
        send(row)
    assert not info.value.retryable


def test_an_unreachable_smtp_server_is_retried_with_progress_kept(project: Any) -> None:
    row = outbox_row(project, {}, notification())
    closed = override_settings(**email_settings(f"smtp://127.0.0.1:{free_port()}"))
    with closed, pytest.raises(DeliveryError) as info:
        send(row, progress := {})
    assert info.value.retryable and progress["mailed"] == []


def test_an_opted_out_member_gets_no_mail_and_the_link_opts_out_in_one_click(
    project: Any, inbox: Inbox
) -> None:
    send(outbox_row(project, {}, notification()))
    mail = next(m for rcpts, m in inbox.messages if rcpts == ["dev@example.com"])
    link = mail["List-Unsubscribe"].strip().strip("<>").removeprefix("https://tracehound.example")
    client = Client(enforce_csrf_checks=True)
    assert client.get(link).status_code == 200  # a confirmation page: scanners opt no one out
    assert not models.AlertOptOut.objects.exists()
    assert client.post(link, {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert models.AlertOptOut.objects.get().user.username == "dev"
    inbox.messages.clear()
    send(outbox_row(project, {}, notification()))
    assert [r for rcpts, _ in inbox.messages for r in rcpts] == ["owner@example.com"]


def test_a_tampered_opt_out_link_is_refused(project: Any, inbox: Inbox) -> None:
    send(outbox_row(project, {}, notification()))
    link = inbox.messages[0][1]["List-Unsubscribe"].strip().strip("<>")
    tampered = link.removeprefix("https://tracehound.example").replace("/opt-out/", "/opt-out/x")
    assert Client().post(tampered).status_code == 400
    assert not models.AlertOptOut.objects.exists()


def test_a_member_toggles_alert_email_for_one_project(project: Any) -> None:
    client = Client()
    dev = get_user_model().objects.get(username="dev")
    client.force_login(dev)
    url = "/alerts/email/acme/shop/"
    assert b"You get alert email" in client.get(url).content
    client.post(url, {"enabled": "0"})
    row = outbox_row(project, {}, notification())
    assert [a for _, a in email_recipients(row.channel, row)] == ["owner@example.com"]
    client.post(url, {"enabled": "1"})
    assert len(email_recipients(row.channel, row)) == 2
    assert client.post(url, {"enabled": "maybe"}).status_code == 400
    outsider = get_user_model().objects.get(username="outsider")
    client.force_login(outsider)
    assert client.get(url).status_code == 404


def test_an_opt_out_from_every_project_is_honoured(project: Any) -> None:
    dev = get_user_model().objects.get(username="dev")
    models.AlertOptOut.objects.create(user=dev, project=None, created_at=datetime.now(tz=UTC))
    row = outbox_row(project, {}, notification())
    assert [a for _, a in email_recipients(row.channel, row)] == ["owner@example.com"]


def test_a_hostile_issue_makes_a_valid_mail_with_escaped_html(project: Any, inbox: Inbox) -> None:
    n = hostile()
    # PostgreSQL's jsonb cannot hold NUL: the outbox row stores a tame copy, and the
    # hostile notification goes straight to the backend.
    row = outbox_row(
        project, {"recipients": "addresses", "addresses": "a@x.example"}, notification(id=n.id)
    )
    send(row, n=n)
    _, mail = inbox.messages[0]
    assert len(mail["Subject"]) <= 250 and "\n" not in mail["Subject"]
    assert mail["X-Injected"] is None
    html = mail.get_body(("html",))
    assert html is not None
    content = html.get_content()
    assert "<script>" not in content and "&lt;script&gt;" in content
    assert len(content) < 100_000


@pytest.mark.parametrize(
    ("values", "setting"),
    [
        ({"recipients": "addresses"}, "addresses"),
        ({"recipients": "addresses", "addresses": "not-an-address"}, "addresses"),
        ({"recipients": "everyone"}, "recipients"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(values: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigError) as info:
        EmailBackend.clean(values)
    assert info.value.setting == setting


def test_a_notification_without_a_project_goes_to_the_organizations_owners(
    project: Any, inbox: Inbox
) -> None:
    row = outbox_row(project, {}, notification("test"))
    row.project = None
    row.save(update_fields=["project"])
    send(row)
    assert [r for rcpts, _ in inbox.messages for r in rcpts] == ["owner@example.com"]


def test_without_an_email_url_alerts_are_logged_and_delivered(project, settings, caplog):
    """The default install (no TRACEHOUND_EMAIL_URL) uses LogEmailBackend: the email
    channel's delivery succeeds and each message is in the `tracehound.mail` log."""
    from tracehound.alerts.delivery import deliver_one

    settings.EMAIL_BACKEND = "tracehound.accounts.mail.LogEmailBackend"
    row = outbox_row(project, {"recipients": "members"}, notification())
    with caplog.at_level("WARNING", logger="tracehound.mail"):
        attempt = deliver_one(row)
    assert (attempt.outcome, attempt.error) == ("succeeded", "")
    logged = [r.getMessage() for r in caplog.records if r.name == "tracehound.mail"]
    assert sorted(m.split("to=")[1].split(" ")[0] for m in logged) == [
        "dev@example.com",
        "owner@example.com",
    ]
