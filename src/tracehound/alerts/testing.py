""" "Send a test notification": one real delivery through the channel, logged like any other.

The test goes through the outbox and the worker's own attempt (`delivery.deliver_one`),
so what the user sees (status, response excerpt, error) is what a real alert would get,
and the attempt is in the delivery log. It is one delivery now, not a queued alert: a
test that fails is final (the worker's bookkeeping marks a kind "test" row failed instead
of retrying it), so pressing "test" on a broken channel never queues pings for later.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from tracehound.alerts import outbox
from tracehound.alerts.base import Notification as Message
from tracehound.alerts.models import Channel, DeliveryAttempt


class TestUnavailable(Exception):
    """The channel cannot be tested now (disabled, or its kind is not installed)."""


def sample(channel: Channel) -> Message:
    """The rules branch's `messages.sample_message`, or a plain one while it is absent."""
    try:
        module = importlib.import_module("tracehound.alerts.messages")
        sample_message: Callable[[Channel], Message] = module.sample_message
    except (ImportError, AttributeError):
        return Message(
            id="",
            kind="test",
            created_at=datetime.now(tz=UTC),
            organization=channel.organization.slug,
            project="",
            project_name="",
            reason="Test notification from Tracehound",
        )
    return sample_message(channel)


def send_test(
    channel: Channel, *, actor: Any = None, request: HttpRequest | None = None
) -> DeliveryAttempt:
    """Enqueue a "test" notification for `channel` and make one delivery attempt now."""
    from tracehound.alerts import registry
    from tracehound.alerts.rule_actions import record

    if registry.get(channel.kind) is None:
        raise TestUnavailable(f"the kind {channel.kind[:64]!r} is not installed")
    if not channel.enabled:
        raise TestUnavailable("the channel is disabled: enable it first")
    from tracehound.alerts.delivery import deliver_one

    with transaction.atomic():
        rows = outbox.enqueue([channel], sample(channel), dedupe_key=f"test:{uuid.uuid4()}")
    attempt = deliver_one(rows[0])
    record(
        "channel.test",
        channel,
        actor=actor,
        request=request,
        data={"outcome": attempt.outcome, "status": attempt.status_code},
    )
    return attempt
