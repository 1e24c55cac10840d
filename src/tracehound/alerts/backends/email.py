"""Email over SMTP (reference §1.7): one multipart (text + HTML) message per recipient.

Each message has a Message-ID stable per (notification, recipient), so a retried send
is recognisable. `progress["mailed"]` lists the addresses already accepted and
`progress["refused"]` those refused for good (5yz), so a retry mails only the rest.
A 4yz answer or a lost connection is retried; member recipients get a List-Unsubscribe
link to a signed one-click opt-out (alerts.views).
"""

from __future__ import annotations

import hashlib
import smtplib
import uuid
from typing import Any, ClassVar
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.urls import reverse

from tracehound.alerts import models, render
from tracehound.alerts.base import (
    Backend,
    ConfigError,
    Delivery,
    DeliveryError,
    Notification,
    Sent,
    Setting,
)
from tracehound.alerts.recipients import email_recipients

OPT_OUT_SALT = "tracehound.alerts.opt-out"


def opt_out_token(user_id: int, project_id: int | None) -> str:
    return signing.dumps({"u": user_id, "p": project_id}, salt=OPT_OUT_SALT)


def opt_out_url(user_id: int, project_id: int | None) -> str:
    path = reverse("alert-opt-out", args=[opt_out_token(user_id, project_id)])
    return f"{settings.BASE_URL}{path}"


def message_id(notification_id: str, address: str) -> str:
    """Stable per (notification, recipient): a retry sends the same Message-ID."""
    digest = hashlib.sha256(address.lower().encode()).hexdigest()[:16]
    domain = urlsplit(settings.BASE_URL).hostname or "tracehound.invalid"
    return f"<{notification_id}.{digest}@{domain}>"


def context(notification: Notification) -> dict[str, Any]:
    issue = notification.issue
    event = notification.event
    return {
        "headline": render.headline(notification, 300),
        "reason": render.one_line(notification.reason, 300),
        "title": render.truncate(issue.title, 1000) if issue else "",
        "culprit": render.truncate(issue.culprit, 1000) if issue else "",
        "message": render.truncate(event.message, 1000) if event else "",
        "frames": [
            {k: render.truncate(v, 300) for k, v in frame.items()}
            for frame in (issue.frames[:5] if issue else ())
        ],
        "facts": render.facts(notification),
        "url": render.issue_url(notification),
        "project": render.one_line(notification.project_name or notification.project, 100),
    }


def build(
    notification: Notification, address: str, user_id: int | None, project_id: int | None
) -> EmailMultiAlternatives:
    ctx = context(notification)
    headers = {
        "Message-ID": message_id(notification.id, address),
        "Auto-Submitted": "auto-generated",
        "X-Tracehound-Notification": notification.id,
    }
    if user_id is not None:
        ctx["opt_out_url"] = opt_out_url(user_id, project_id)
        headers["List-Unsubscribe"] = f"<{ctx['opt_out_url']}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    subject = render.one_line(f"[Tracehound] {ctx['project']}: {ctx['headline']}", 200)
    mail = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("alerts/email.txt", ctx),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[address],
        headers=headers,
    )
    mail.attach_alternative(render_to_string("alerts/email.html", ctx), "text/html")
    return mail


def smtp_code(exc: Exception, address: str) -> int | None:
    """The SMTP reply code of a failed send for `address`, None when unknown."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code = exc.recipients.get(address, (None, b""))[0]
        return int(code) if code is not None else None
    if isinstance(exc, smtplib.SMTPResponseException):
        return int(exc.smtp_code)
    return None


class EmailBackend(Backend):
    kind = "email"
    label = "Email"
    description = "Mail the project's members, or fixed addresses."
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting(
            "recipients",
            "Recipients",
            kind="choice",
            required=False,
            default="members",
            choices=(
                ("members", "The project's members (each can opt out)"),
                ("addresses", "These addresses"),
            ),
        ),
        Setting("addresses", "Addresses", kind="email_list", required=False, default=""),
    )

    @classmethod
    def clean(cls, values: Any) -> dict[str, Any]:
        cleaned = super().clean(values)
        if cleaned["recipients"] == "addresses" and not cleaned["addresses"]:
            raise ConfigError("addresses", "is required when recipients is 'addresses'")
        if cleaned["recipients"] == "members":
            cleaned["addresses"] = ""
        return cleaned

    def send(self, notification: Notification, delivery: Delivery) -> Sent:
        row = (
            models.Notification.objects.select_related("channel", "project__organization")
            .filter(pk=uuid.UUID(notification.id))
            .first()
        )
        if row is None:
            raise DeliveryError("the notification is no longer in the outbox", retryable=False)
        recipients = email_recipients(row.channel, row)
        mailed: list[str] = list(delivery.progress.get("mailed") or [])
        refused: dict[str, str] = dict(delivery.progress.get("refused") or {})
        delivery.progress["mailed"], delivery.progress["refused"] = mailed, refused
        todo = [(uid, a) for uid, a in recipients if a not in mailed and a not in refused]
        deferred = self.mail_all(notification, todo, row.project_id, mailed, refused)
        summary = f"mailed {len(mailed)} of {len(recipients)}"
        if refused:
            summary += f"; refused: {', '.join(f'{a} ({m})' for a, m in refused.items())}"
        if deferred:
            raise DeliveryError(f"{summary}; will retry {len(deferred)}: {deferred[0][:300]}")
        if refused and not mailed:
            raise DeliveryError(summary[:1000], retryable=False)
        return Sent(excerpt=summary[:2000] if recipients else "no recipients")

    def mail_all(
        self,
        notification: Notification,
        todo: list[tuple[int | None, str]],
        project_id: int | None,
        mailed: list[str],
        refused: dict[str, str],
    ) -> list[str]:
        """Send to each of `todo`, recording the outcome; returns the transient errors.
        A lost connection stops the run: the rest are retried with the row."""
        deferred: list[str] = []
        if not todo:
            return deferred
        try:
            with get_connection(fail_silently=False) as connection:
                for user_id, address in todo:
                    try:
                        connection.send_messages(
                            [build(notification, address, user_id, project_id)]
                        )
                    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException) as exc:
                        code = smtp_code(exc, address)
                        text = f"SMTP {code}" if code else type(exc).__name__
                        if code is not None and 500 <= code < 600:
                            refused[address] = text
                        else:
                            deferred.append(f"{address}: {text}")
                        continue
                    mailed.append(address)
        except (smtplib.SMTPException, OSError) as exc:
            deferred.append(f"SMTP connection: {type(exc).__name__}: {str(exc)[:200]}")
        return deferred
