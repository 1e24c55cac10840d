"""Outgoing email configuration from TRACEHOUND_EMAIL_URL (read by settings.py).

Plain functions with no models, so settings can import them (and issue 8's alerts can
reuse them):

    smtp://host:25                    plain SMTP (no TLS)
    smtp+starttls://user:pass@host:587  STARTTLS after connecting
    smtps://user:pass@host:465         TLS from the first byte
    (unset)                           messages are written to the log
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.core.mail.backends.base import BaseEmailBackend

DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


def email_settings(url: str, variable: str = "TRACEHOUND_EMAIL_URL") -> dict[str, Any]:
    """Django's EMAIL_* settings for `url`; a bad URL raises ImproperlyConfigured naming
    `variable` (never echoing the password)."""
    if not url:
        return {
            "EMAIL_BACKEND": "tracehound.accounts.mail.LogEmailBackend",
            "EMAIL_HOST": "localhost",
            "EMAIL_PORT": 25,
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
            "EMAIL_USE_TLS": False,
            "EMAIL_USE_SSL": False,
            "EMAIL_TIMEOUT": 20,
        }
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ImproperlyConfigured(f"{variable} is not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ImproperlyConfigured(
            f"{variable} must start with smtp://, smtp+starttls:// or smtps://, got {scheme!r}"
        )
    if not parts.hostname:
        raise ImproperlyConfigured(f"{variable} must name a host, e.g. smtp://mail.example.com")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ImproperlyConfigured(f"{variable} must be scheme://[user:password@]host[:port]")
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname,
        "EMAIL_PORT": port or DEFAULT_PORTS[scheme],
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": scheme == "smtp+starttls",
        "EMAIL_USE_SSL": scheme == "smtps",
        "EMAIL_TIMEOUT": 20,
    }


class LogEmailBackend(BaseEmailBackend):
    """Writes each message to the `tracehound.mail` log instead of sending it, so a
    server without TRACEHOUND_EMAIL_URL still shows invitation and reset links. A real
    Django email backend (the alert email channel opens it as a context manager)."""

    def send_messages(self, messages: Any) -> int:
        import logging

        log = logging.getLogger("tracehound.mail")
        messages = list(messages)
        for message in messages:
            log.warning(
                "TRACEHOUND_EMAIL_URL is not set; not sent: to=%s subject=%r\n%s",
                ", ".join(message.recipients()),
                message.subject,
                message.body,
            )
        return len(messages)
