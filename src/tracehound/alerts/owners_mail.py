"""The mail an organization's owners get when one of its channels is disabled.

A channel is disabled when a receiver says it is gone for good (401/403/404/410) or it
has failed for days; alerts stop flowing silently otherwise, so someone who can fix the
channel must hear of it, by a route that does not depend on that channel.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail

from tracehound.alerts.models import Channel


def owner_addresses(channel: Channel) -> list[str]:
    from tracehound.projects.models import OrganizationMember

    members = OrganizationMember.objects.filter(
        organization_id=channel.organization_id,
        role=OrganizationMember.Role.OWNER,
        user__is_active=True,
    ).select_related("user")
    return sorted({m.user.email for m in members if m.user.email})


def channel_disabled(channel: Channel, reason: str) -> int:
    """Mail each owner (one message each); returns how many were sent."""
    addresses = owner_addresses(channel)
    if not addresses:
        return 0
    org = channel.organization
    base = str(getattr(settings, "BASE_URL", "")).rstrip("/")
    name = channel.name.replace("\r", " ").replace("\n", " ")[:100]
    subject = f"[Tracehound] Alert channel {name!r} in {org.slug} was disabled"
    body = (
        f"The alert channel {name!r} ({channel.kind}) of the organization {org.slug} was"
        f" disabled and sends no more notifications.\n\n"
        f"Reason: {reason}\n\n"
        "Fix its settings (a new token or webhook URL) and enable it again in the"
        " organization's alert channels"
        + (f": {base}/" if base else ".")
        + "\nNotifications for tickets and PagerDuty incidents are kept and sent when it"
        " is enabled again; chat alerts meanwhile were dropped.\n"
    )
    sent = 0
    for address in addresses:
        sent += send_mail(subject, body, None, [address], fail_silently=False)
    return sent
