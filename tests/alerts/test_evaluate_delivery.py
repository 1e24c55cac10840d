"""End to end: an SDK's envelope → ingest → digest → rule → outbox → the delivery worker
→ a receiver on 127.0.0.1, through the example ntfy plugin (installed in the test
environment). Exactly one request per cause."""

from __future__ import annotations

import pytest

from tests.alerts.delivery_receiver import Receiver
from tests.alerts.test_evaluate import digest_events, rows, rule
from tests.issues.digesting import error
from tracehound.alerts import delivery, registry
from tracehound.alerts.channels import create_channel
from tracehound.issues import actions
from tracehound.issues.models import Issue

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_new_issue_reaches_the_receiver_once(wsgi, project, digest_all):
    registry.backends.cache_clear()
    if "ntfy" not in registry.backends():
        pytest.skip("the example plugin is not installed (make .venv/.installed)")
    with Receiver() as receiver:
        org = project.project.organization
        push, _ = create_channel(org, "push", "ntfy", {"server_url": receiver.url, "topic": "t"})
        rule(project, [push], ["new_issue", "regression", "resolved"])
        digest_events(wsgi, project, digest_all, error("KeyError", environment="production"))
        digest_events(wsgi, project, digest_all, error("KeyError"))  # not new: nothing
        assert delivery.deliver_due() == 1
        assert delivery.deliver_due() == 0
        issue = Issue.objects.get()
        actions.resolve(issue, None)
        assert delivery.deliver_due() == 1
        first, second = receiver.received
    assert first.method == "POST" and first.path == "/t"
    assert "KeyError" in first.headers["title"]
    assert f"/organizations/acme/issues/{issue.pk}/" in first.headers["click"]
    assert [n.state for n in rows()] == ["succeeded", "succeeded"]
    assert [n.kind for n in rows()] == ["issue.new", "issue.resolved"]
    assert second.method == "POST"
