"""Jira Cloud backend against a local Jira receiver that checks the published ADF schema."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from tests.alerts.ticket_receivers import Attempts, JiraReceiver, make_issue, notification, queue
from tracehound.alerts.backends.jira_cloud import JiraCloudBackend
from tracehound.alerts.base import ConfigError, DeliveryError, Link


@pytest.fixture
def jira() -> Iterator[JiraReceiver]:
    receiver = JiraReceiver()
    yield receiver
    receiver.close()
    assert receiver.violations == []


def backend_for(jira: JiraReceiver, **overrides: Any) -> JiraCloudBackend:
    values = {
        "site_url": jira.url,
        "email": jira.email,
        "api_token": jira.token,
        "project_key": "ET",
        "labels": "tracehound, backend",
        **overrides,
    }
    return JiraCloudBackend(JiraCloudBackend.clean(values))


def test_it_creates_one_ticket_with_an_adf_description(jira: JiraReceiver) -> None:
    attempts = Attempts(backend_for(jira))

    sent = attempts.send(notification())

    assert (sent.status, sent.external_key) == (201, "ET-1")
    assert sent.external_url == f"{jira.url}/browse/ET-1"
    assert sent.external_id == jira.live()[0]["id"]
    fields = jira.live()[0]["fields"]
    assert fields["summary"] == "BACKEND-7: ZeroDivisionError: division by zero"
    assert fields["issuetype"] == {"name": "Bug"}
    assert fields["labels"] == ["tracehound", "backend", "tracehound-acme-7"]
    text = str(fields["description"])
    for part in ("app.views.divide", "divide (app/views.py:42)", "Events: 120", "1.4.2"):
        assert part in text
    assert "https://tracehound.example/acme/backend/issues/7/" in text
    assert "create_sent_at" in attempts.progress
    assert jira.calls("search") == []  # a first attempt has nothing to look for


def test_a_create_reset_after_the_ticket_was_made_leaves_exactly_one_ticket(
    jira: JiraReceiver,
) -> None:
    attempts = Attempts(backend_for(jira))
    jira.fail("create", reset=True)

    with pytest.raises(DeliveryError) as lost:
        attempts.send(notification())
    assert lost.value.retryable and not lost.value.disable_channel
    assert len(jira.live()) == 1  # made, but the answer never came

    sent = attempts.send(notification())

    assert len(jira.live()) == 1
    assert len(jira.calls("create")) == 1
    assert sent.external_key == "ET-1" and "adopted" in sent.excerpt
    assert jira.calls("search")[0].body["fields"] == ["summary"]
    assert jira.calls("legacy-search") == []


def test_a_create_that_timed_out_after_the_ticket_was_made_leaves_one_ticket(
    jira: JiraReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(JiraCloudBackend, "timeout", (2.0, 0.5))
    attempts = Attempts(backend_for(jira))
    jira.fail("create", delay=1.5)

    with pytest.raises(DeliveryError, match="could not reach Jira"):
        attempts.send(notification())
    sent = attempts.send(notification())

    assert len(jira.live()) == 1 and sent.external_key == "ET-1"


def test_a_retried_create_that_never_arrived_is_made_once_after_the_search(
    jira: JiraReceiver,
) -> None:
    attempts = Attempts(backend_for(jira))
    jira.fail("create", 500, body=b'{"errorMessages":["Internal error"]}')

    with pytest.raises(DeliveryError) as failed:
        attempts.send(notification())
    assert failed.value.retryable and failed.value.status == 500
    sent = attempts.send(notification())

    assert len(jira.calls("search")) == 1
    assert len(jira.live()) == 1 and sent.external_key == "ET-1"


def test_a_regression_comments_on_the_ticket_instead_of_opening_another(
    jira: JiraReceiver,
) -> None:
    attempts = Attempts(backend_for(jira))
    attempts.send(notification())

    sent = Attempts(attempts.backend, attempts.link).send(notification("issue.regression"))

    assert len(jira.live()) == 1
    assert sent.external_key == "ET-1" and sent.excerpt == "commented on ET-1"
    comment = str(jira.live()[0]["comments"][0])
    assert "Regression in 1.4.2" in comment and "Events: 120" in comment
    # By id: the id survives moving the ticket to another project, the key does not.
    assert jira.calls("comment")[0].path == f"/rest/api/3/issue/{sent.external_id}/comment"


def test_a_deleted_ticket_is_replaced_by_a_new_one(jira: JiraReceiver) -> None:
    first = Attempts(backend_for(jira))
    first.send(notification())
    jira.live()[0]["deleted"] = True

    again = Attempts(first.backend, first.link)
    sent = again.send(notification("issue.regression"))

    assert again.dropped == 1
    assert sent.external_key == "ET-2" and len(jira.live()) == 1


def test_a_new_issue_notification_with_a_ticket_makes_no_call(jira: JiraReceiver) -> None:
    link = Link("10001", "ET-1", f"{jira.url}/browse/ET-1")
    sent = Attempts(backend_for(jira), link).send(notification())
    assert sent.external_key == "ET-1" and jira.requests == []


def test_resolve_applies_the_configured_transition_by_name(jira: JiraReceiver) -> None:
    attempts = Attempts(backend_for(jira, resolve_transition="done"))
    attempts.send(notification())

    sent = Attempts(attempts.backend, attempts.link).send(notification("issue.resolved"))

    assert jira.live()[0]["status"] == "Done"
    assert jira.calls("transition")[0].body == {"transition": {"id": "31"}}
    assert "applied Done" in sent.excerpt


def test_resolve_accepts_a_transition_id(jira: JiraReceiver) -> None:
    attempts = Attempts(backend_for(jira, resolve_transition="31"))
    attempts.send(notification())
    Attempts(attempts.backend, attempts.link).send(notification("issue.resolved"))
    assert jira.live()[0]["status"] == "Done"


def test_resolve_names_the_available_transitions_when_none_matches(jira: JiraReceiver) -> None:
    attempts = Attempts(backend_for(jira, resolve_transition="Closed"))
    attempts.send(notification())

    with pytest.raises(DeliveryError, match=r"no transition 'Closed'.*Done") as failed:
        Attempts(attempts.backend, attempts.link).send(notification("issue.resolved"))
    assert not failed.value.retryable


def test_resolve_without_a_transition_makes_no_call(jira: JiraReceiver) -> None:
    link = Link("10001", "ET-1", f"{jira.url}/browse/ET-1")
    sent = Attempts(backend_for(jira), link).send(notification("issue.resolved"))
    assert sent.external_key == "ET-1" and jira.requests == []


def test_wrong_credentials_disable_the_channel(jira: JiraReceiver) -> None:
    with pytest.raises(DeliveryError, match="credentials expired or wrong") as failed:
        Attempts(backend_for(jira, api_token="expired")).send(notification())
    assert failed.value.disable_channel and failed.value.status == 401


@pytest.mark.parametrize(
    ("status", "headers", "body", "retryable", "disable", "wait"),
    [
        (429, {"Retry-After": "7"}, b"{}", True, False, 7.0),
        (503, {"Retry-After": "30"}, b"<html>busy</html>", True, False, 30.0),
        (500, {}, b"not json at all", True, False, None),
        (400, {}, b'{"errorMessages":[],"errors":{"summary":"too long"}}', False, False, None),
        (403, {}, b'{"errorMessages":["You cannot create issues here"]}', False, True, None),
        (404, {}, b'{"errorMessages":["No project"]}', False, True, None),
        (302, {"Location": "http://169.254.169.254/"}, b"", True, False, None),
    ],
)
def test_each_failure_answer_maps_to_its_class(
    jira: JiraReceiver,
    status: int,
    headers: dict[str, str],
    body: bytes,
    retryable: bool,
    disable: bool,
    wait: float | None,
) -> None:
    jira.fail("create", status, headers=headers, body=body)
    with pytest.raises(DeliveryError) as failed:
        Attempts(backend_for(jira)).send(notification())
    error = failed.value
    assert (error.retryable, error.disable_channel, error.retry_after) == (retryable, disable, wait)
    assert error.status == status
    if status == 400:
        assert "summary: too long" in error.message


def test_a_2xx_with_an_unexpected_body_is_a_retryable_failure(jira: JiraReceiver) -> None:
    attempts = Attempts(backend_for(jira))
    jira.fail("create", 201, body=b"<html>proxy page</html>")

    with pytest.raises(DeliveryError, match="unexpected body") as failed:
        attempts.send(notification())
    assert failed.value.retryable
    assert attempts.send(notification()).external_key == "ET-1"


@pytest.mark.parametrize(
    "title",
    [
        "nul\x00inside\x01and\x1f controls\x7f",
        "x" * 1_000_000,
        "<script>alert(1)</script> *bold* [link](javascript:x) {{jinja}}",
        "line one\nline two\r\n\tthree",
        "lone surrogate \ud800 here",
        str(2**64),
        "\x00\x01",
    ],
)
def test_hostile_event_text_still_makes_a_valid_ticket(jira: JiraReceiver, title: str) -> None:
    hostile = notification(
        title=title,
        culprit=title,
        frames=({"function": title, "filename": title, "lineno": 2**64},),
        environment=title,
        release=title,
    )
    sent = Attempts(backend_for(jira)).send(hostile)

    assert sent.external_key == "ET-1"  # the receiver validated summary and ADF
    summary = jira.live()[0]["fields"]["summary"]
    assert len(summary) <= 255 and "\x00" not in summary


def test_the_token_never_reaches_the_delivery_log(jira: JiraReceiver) -> None:
    attempts = Attempts(backend_for(jira, api_token="expired-but-s3cret"))
    with pytest.raises(DeliveryError) as failed:
        attempts.send(notification())
    logged = str(attempts.http.calls) + failed.value.message
    assert "expired-but-s3cret" not in logged and attempts.http.calls


def test_a_test_notification_checks_access_without_making_a_ticket(jira: JiraReceiver) -> None:
    sent = Attempts(backend_for(jira)).send(notification("test"))
    assert "ET accepts Bug" in sent.excerpt and jira.live() == []

    with pytest.raises(DeliveryError, match="no issue type 'Story'.*Bug, Task"):
        Attempts(backend_for(jira, issue_type="Story")).send(notification("test"))


@pytest.mark.parametrize(
    ("values", "setting", "message"),
    [
        ({"project_key": "e"}, "project_key", "2-10 capital letters"),
        ({"project_key": "1ET"}, "project_key", "starting with a letter"),
        ({"site_url": "ftp://acme.atlassian.net"}, "site_url", "http"),
        ({"site_url": "http://acme.atlassian.net"}, "site_url", "https"),
        ({"site_url": "https://acme.atlassian.net/jira/boards/1"}, "site_url", "cloudId"),
        ({"email": "not-an-address"}, "email", "email address"),
        ({"labels": "ok, not ok"}, "labels", "cannot hold spaces: 'not ok'"),
        ({"api_token": ""}, "api_token", "required"),
        ({"colour": "red"}, "colour", "not a setting"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(
    values: dict[str, str], setting: str, message: str
) -> None:
    good = {
        "site_url": "https://acme.atlassian.net",
        "email": "bot@example.com",
        "api_token": "t",
        "project_key": "ET",
    }
    with pytest.raises(ConfigError, match=message) as refused:
        JiraCloudBackend.clean({**good, **values})
    assert refused.value.setting == setting


def test_settings_accept_the_scoped_token_form_and_a_lower_case_key() -> None:
    cleaned = JiraCloudBackend.clean(
        {
            "site_url": "https://api.atlassian.com/ex/jira/11223344-a1b2-3b33-c444-def123456789",
            "email": "bot@example.com",
            "api_token": "t",
            "project_key": "et",
        }
    )
    assert cleaned["project_key"] == "ET" and cleaned["issue_type"] == "Bug"


@pytest.mark.parametrize(
    "doc",
    [
        "a plain string, as the v2 API took",
        {"type": "doc", "version": 1, "content": [{"type": "text", "text": ""}]},
        {
            "type": "doc",
            "version": 1,
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": ""}]}],
        },
    ],
)
def test_the_receiver_refuses_what_jira_refuses(doc: Any) -> None:
    from tests.alerts.ticket_receivers import Violation

    with pytest.raises(Violation, match="not valid ADF"):
        JiraReceiver.check_adf(doc)


def test_the_scoped_token_form_links_tickets_on_the_site() -> None:
    cloud = "/ex/jira/11223344-a1b2-3b33-c444-def123456789"
    jira = JiraReceiver(prefix=cloud)
    try:
        attempts = Attempts(backend_for(jira, site_url=jira.url + cloud))
        sent = attempts.send(notification())
        again = Attempts(attempts.backend)
        second = again.send(notification(issue_id=8))
    finally:
        jira.close()
    assert jira.violations == []
    assert sent.external_url == "https://acme.atlassian.net/browse/ET-1"
    assert second.external_url == "https://acme.atlassian.net/browse/ET-2"
    assert jira.calls("create")[0].path == cloud + "/rest/api/3/issue"
    assert attempts.progress["jira_site"] == "https://acme.atlassian.net"


def test_retry_after_reads_seconds_and_http_dates() -> None:
    from email.utils import format_datetime

    from tracehound.alerts.backends.ticketing import retry_after

    later = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    assert retry_after({"retry-after": "12"}) == 12.0
    assert 85 <= (retry_after({"retry-after": later}) or 0) <= 90
    assert retry_after({"retry-after": "soon"}, 60.0) == 60.0
    assert retry_after({}) is None


# Through the delivery worker, with real Channel, outbox and ExternalIssueLink rows.


def jira_channel(jira: JiraReceiver, **overrides: str) -> Any:
    from tracehound.alerts.channels import create_channel
    from tracehound.projects.models import Organization

    values = {
        "site_url": jira.url,
        "email": jira.email,
        "api_token": jira.token,
        "project_key": "ET",
        **overrides,
    }
    org = Organization.objects.get(slug="acme")
    return create_channel(org, "Jira", "jira_cloud", values)[0]


@pytest.mark.django_db
def test_a_reset_create_is_retried_by_the_worker_into_exactly_one_linked_ticket(
    jira: JiraReceiver,
) -> None:
    from tracehound.alerts.delivery import deliver_due
    from tracehound.alerts.models import DeliveryAttempt, ExternalIssueLink

    issue = make_issue()
    channel = jira_channel(jira)
    row = queue(channel, issue)
    jira.fail("create", reset=True)

    assert deliver_due() == 1
    row.refresh_from_db()
    assert (row.state, row.attempts) == ("pending", 1)
    assert "create_sent_at" in row.progress
    assert not ExternalIssueLink.objects.filter(issue=issue).exists()

    with time_machine.travel(row.next_attempt_at + timedelta(seconds=1), tick=True):
        assert deliver_due() == 1

    row.refresh_from_db()
    link = ExternalIssueLink.objects.get(issue=issue, channel=channel)
    assert row.state == "succeeded" and (link.external_key, link.url) == (
        "ET-1",
        f"{jira.url}/browse/ET-1",
    )
    assert len(jira.live()) == 1 and len(jira.calls("create")) == 1
    outcomes = list(
        DeliveryAttempt.objects.filter(notification=row).values_list("outcome", "number")
    )
    assert sorted(outcomes, key=lambda o: o[1]) == [("retry", 1), ("succeeded", 2)]
    assert jira.token not in str(list(DeliveryAttempt.objects.values("calls", "error", "url")))


@pytest.mark.django_db
def test_a_regression_through_the_worker_comments_on_the_linked_ticket(
    jira: JiraReceiver,
) -> None:
    from tracehound.alerts.delivery import deliver_one
    from tracehound.alerts.models import ExternalIssueLink

    issue = make_issue()
    channel = jira_channel(jira)
    deliver_one(queue(channel, issue))
    attempt = deliver_one(queue(channel, issue, "issue.regression"))

    assert attempt.outcome == "succeeded"
    assert len(jira.live()) == 1 and len(jira.live()[0]["comments"]) == 1
    assert ExternalIssueLink.objects.get(issue=issue).external_key == "ET-1"


@pytest.mark.django_db
def test_a_deleted_ticket_is_replaced_and_the_new_link_stored(jira: JiraReceiver) -> None:
    from tracehound.alerts.delivery import deliver_one
    from tracehound.alerts.models import ExternalIssueLink

    issue = make_issue()
    channel = jira_channel(jira)
    deliver_one(queue(channel, issue))
    jira.live()[0]["deleted"] = True

    deliver_one(queue(channel, issue, "issue.regression"))

    assert ExternalIssueLink.objects.get(issue=issue).external_key == "ET-2"
    assert len(jira.live()) == 1


@pytest.mark.django_db
def test_expired_credentials_disable_the_channel_and_the_ticket_waits_for_new_ones(
    jira: JiraReceiver,
) -> None:
    from tracehound.alerts.channels import set_enabled, update_channel
    from tracehound.alerts.delivery import deliver_one

    issue = make_issue()
    channel = jira_channel(jira, api_token="old-token-123")
    row = queue(channel, issue)

    attempt = deliver_one(row)

    channel.refresh_from_db()
    row.refresh_from_db()
    assert attempt.status_code == 401 and "credentials expired or wrong" in attempt.error
    assert not channel.enabled and "credentials expired or wrong" in channel.disabled_reason
    assert row.state == "pending" and jira.live() == []  # the ticket is owed, not dropped

    update_channel(channel, {"api_token": jira.token})
    set_enabled(channel, True)
    assert deliver_one(row).outcome == "succeeded" and len(jira.live()) == 1


@pytest.mark.django_db
def test_a_429_through_the_worker_waits_at_least_retry_after(jira: JiraReceiver) -> None:
    from tracehound.alerts.delivery import deliver_one

    issue = make_issue()
    row = queue(jira_channel(jira), issue)
    jira.fail("create", 429, headers={"Retry-After": "120"})
    before = datetime.now(UTC)

    attempt = deliver_one(row)

    row.refresh_from_db()
    assert attempt.outcome == "retry" and row.state == "pending"
    assert row.next_attempt_at >= before + timedelta(seconds=119)
    assert deliver_one(row).outcome == "succeeded" and len(jira.live()) == 1
