"""The default alert rule a new project gets: email its members on new issues and
regressions.

Called where projects are created (projects.actions.create_project,
projects.membership.create_project — the API, the web form and the CLI go through
these), in the creating transaction. Existing projects are not changed by the
migration that added alerts: their owners add rules themselves (docs/alerts.md).

The organization's channel "Email members" (kind email, recipients members) is shared
by its projects' default rules and created on first use. When the email backend is not
installed (a build without it), no default rule is made and this is logged: a rule
pointing at nothing would only mislead. The Django setting TRACEHOUND_DEFAULT_ALERT_RULE
= False turns it off (tests that count notifications).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from django.conf import settings
from django.db import transaction

from tracehound.alerts import registry
from tracehound.alerts.base import ConfigError
from tracehound.alerts.channels import create_channel
from tracehound.alerts.models import AlertRule, Channel
from tracehound.projects.models import Project

log = logging.getLogger("tracehound.alerts")

RULE_NAME = "Email members on new issues and regressions"
CHANNEL_NAME = "Email members"
TRIGGERS = ["new_issue", "regression"]
THROTTLE_MINUTES = 30


def members_channel(project: Project) -> Channel | None:
    """The organization's "Email members" channel, created when absent."""
    org = project.organization
    channel = Channel.objects.filter(organization=org, name=CHANNEL_NAME).first()
    if channel is not None:
        return channel
    if registry.get("email") is None:
        log.info("no default alert rule for %s: the email backend is not installed", project)
        return None
    try:
        channel, _ = create_channel(org, CHANNEL_NAME, "email", {"recipients": "members"})
    except ConfigError as exc:  # a concurrent creation won the name, or settings changed
        channel = Channel.objects.filter(organization=org, name=CHANNEL_NAME).first()
        if channel is None:
            log.warning("no default alert rule for %s: %s", project, exc)
    return channel


@transaction.atomic
def ensure_default_rule(project: Project) -> AlertRule | None:
    """The project's default rule, created (with the channel) if the project has none
    by that name; returns it, or None when no email channel can be made."""
    if not getattr(settings, "TRACEHOUND_DEFAULT_ALERT_RULE", True):
        return None  # tests that count notifications turn it off
    rule = AlertRule.objects.filter(project=project, name=RULE_NAME).first()
    if rule is not None:
        return rule
    channel = members_channel(project)
    if channel is None:
        return None
    rule = AlertRule.objects.create(
        project=project,
        name=RULE_NAME,
        triggers=list(TRIGGERS),
        throttle_minutes=THROTTLE_MINUTES,
        created_at=datetime.now(tz=UTC),
    )
    rule.channels.add(channel)
    return rule
