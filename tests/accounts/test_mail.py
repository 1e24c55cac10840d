"""TRACEHOUND_EMAIL_URL: parsing, and a real SMTP delivery of an invitation."""

from __future__ import annotations

import socket

import pytest
from aiosmtpd.controller import Controller
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from tracehound.accounts.invitations import invite
from tracehound.accounts.mail import email_settings
from tracehound.projects.actions import create_project
from tracehound.projects.models import Organization


def test_unset_writes_messages_to_the_log():
    assert email_settings("")["EMAIL_BACKEND"] == "tracehound.accounts.mail.LogEmailBackend"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.com", {"EMAIL_HOST": "mail.example.com", "EMAIL_PORT": 25}),
        (
            "smtp+starttls://me%40example.com:p%3Ass@mail.example.com:2587",
            {
                "EMAIL_PORT": 2587,
                "EMAIL_HOST_USER": "me@example.com",
                "EMAIL_HOST_PASSWORD": "p:ss",
                "EMAIL_USE_TLS": True,
                "EMAIL_USE_SSL": False,
            },
        ),
        ("smtps://u:p@mail.example.com", {"EMAIL_PORT": 465, "EMAIL_USE_SSL": True}),
    ],
)
def test_email_urls_give_djangos_settings(url, expected):
    settings = email_settings(url)
    assert {k: settings[k] for k in expected} == expected


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://mail.example.com", "must start with smtp://"),
        ("smtp://", "must name a host"),
        ("smtp://mail.example.com:99999", "not a valid URL"),
        ("smtp://mail.example.com/path", "scheme://"),
    ],
)
def test_a_bad_email_url_names_the_variable(url, words):
    with pytest.raises(ImproperlyConfigured, match="TRACEHOUND_EMAIL_URL") as info:
        email_settings(url)
    assert words in str(info.value)


def test_a_bad_url_never_shows_the_password():
    with pytest.raises(ImproperlyConfigured) as info:
        email_settings("ftp://user:hunter2@mail.example.com")
    assert "hunter2" not in str(info.value)


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.django_db
def test_an_invitation_is_delivered_by_a_real_smtp_server():
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        create_project("acme", "backend")
        with override_settings(
            **email_settings(f"smtp://127.0.0.1:{port}"),
            DEFAULT_FROM_EMAIL="tracehound@example.com",
        ):
            _, link = invite(
                Organization.objects.get(slug="acme"), "new@example.com", "member", [], None
            )
    finally:
        controller.stop()
    [(sender, recipients, content)] = inbox.messages
    assert sender == "tracehound@example.com" and recipients == ["new@example.com"]
    assert link.encode() in content and b"Join acme" in content
