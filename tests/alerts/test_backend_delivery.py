"""Each chat backend end to end through the real worker (`delivery.deliver_one`): a
channel made by `create_channel`, a row written by `outbox.enqueue`, one attempt
against a contract-checking receiver, and the delivery log it leaves."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from standardwebhooks import Webhook

from tests.alerts import receivers
from tests.alerts import test_backend_email as email_tests
from tests.alerts.receivers import RESET, Answer, notification
from tests.alerts.test_backend_email import Inbox
from tests.alerts.test_backend_msteams import teams_contract
from tests.alerts.test_backend_pagerduty import ACCEPTED, ROUTING_KEY, pagerduty_contract
from tests.alerts.test_backend_slack import slack_contract
from tests.alerts.test_backend_webhook import webhook_contract
from tracehound.alerts import delivery, models, outbox
from tracehound.alerts.base import Notification
from tracehound.alerts.channels import create_channel

# Fixtures: receivers, the SMTP inbox and the acme/shop project with its members.
receiver_factory = receivers.receiver_factory
inbox = email_tests.inbox
project = email_tests.project

pytestmark = pytest.mark.django_db


def enqueue(project: Any, kind: str, values: dict[str, Any], n: Notification | None = None) -> Any:
    channel, shown = create_channel(project.organization, f"c-{uuid.uuid4().hex[:8]}", kind, values)
    message = n or notification()
    (row,) = outbox.enqueue(
        [channel], message, dedupe_key=f"test:{message.id}", project_id=project.id
    )
    return row, shown


def test_slack_end_to_end_and_a_dead_webhook_disables_the_channel(
    project: Any, receiver_factory: Any
) -> None:
    hook = receiver_factory(slack_contract, default=Answer(200, b"ok"))
    url = hook.url("/services/T0/B0/tokentoken")
    row, _ = enqueue(project, "slack", {"webhook_url": url})
    entry = delivery.deliver_one(row)
    assert entry.outcome == "succeeded" and hook.violations == []
    assert "tokentoken" not in entry.url and "tokentoken" not in str(entry.calls)
    hook.script(Answer(404, b"no_service"))
    row2, _ = enqueue(project, "slack", {"webhook_url": url})
    entry2 = delivery.deliver_one(row2)
    assert entry2.outcome == "failed" and entry2.status_code == 404
    row2.channel.refresh_from_db()
    assert row2.channel.enabled is False


def test_teams_end_to_end_and_429_is_retried_after_the_receivers_wait(
    project: Any, receiver_factory: Any
) -> None:
    hook = receiver_factory(teams_contract, default=Answer(202))
    hook.script(Answer(429, b"", {"Retry-After": "90"}))
    row, _ = enqueue(project, "msteams", {"webhook_url": hook.url("/x?sig=SIGSIGSIG")})
    first = delivery.deliver_one(row)
    assert first.outcome == "retry"
    row.refresh_from_db()
    assert row.state == "pending"
    assert (row.next_attempt_at - first.started_at).total_seconds() >= 89
    second = delivery.deliver_one(row)
    assert second.outcome == "succeeded" and hook.violations == []
    assert "SIGSIGSIG" not in first.url + second.url


def test_webhook_end_to_end_keeps_the_webhook_id_across_a_reset(
    project: Any, receiver_factory: Any
) -> None:
    hook = receiver_factory(default=Answer(200))
    hook.script(RESET)
    row, shown = enqueue(project, "webhook", {"url": hook.url("/hook")})
    hook.check = webhook_contract(shown["signing_secret"])
    assert delivery.deliver_one(row).outcome == "retry"
    assert delivery.deliver_one(row).outcome == "succeeded"
    ids = {r.headers["webhook-id"] for r in hook.requests}
    assert ids == {row.id.hex} and hook.violations == []
    Webhook(shown["signing_secret"]).verify(hook.requests[1].body, hook.requests[1].headers)


def test_pagerduty_end_to_end_triggers_then_resolves_one_incident(
    project: Any, receiver_factory: Any
) -> None:
    hook = receiver_factory(pagerduty_contract, default=ACCEPTED)
    values = {"routing_key": ROUTING_KEY, "events_url": hook.url("/v2/enqueue")}
    channel, _ = create_channel(project.organization, "pd", "pagerduty", values)
    for kind in ("issue.new", "issue.resolved"):
        message = notification(kind)
        (row,) = outbox.enqueue([channel], message, dedupe_key=f"{kind}:42", project_id=project.id)
        assert delivery.deliver_one(row).outcome == "succeeded"
    trigger, resolve = (r.json() for r in hook.requests)
    assert trigger["dedup_key"] == resolve["dedup_key"] == "tracehound:acme:shop:42"
    assert resolve["event_action"] == "resolve" and hook.violations == []
    assert all(ROUTING_KEY not in a.response_excerpt for a in models.DeliveryAttempt.objects.all())


def test_email_end_to_end_a_retry_mails_only_the_deferred_recipient(
    project: Any, inbox: Inbox
) -> None:
    values = {"recipients": "addresses", "addresses": "a@x.example, b@x.example"}
    inbox.answers = {"b@x.example": ["451 4.3.0 try again"]}
    row, _ = enqueue(project, "email", values)
    first = delivery.deliver_one(row)
    assert first.outcome == "retry"
    row.refresh_from_db()
    assert row.progress["mailed"] == ["a@x.example"]
    assert delivery.deliver_one(row).outcome == "succeeded"
    assert [r for rcpts, _ in inbox.messages for r in rcpts] == ["a@x.example", "b@x.example"]
