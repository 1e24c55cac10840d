"""GitHub Issues backend against a local GitHub receiver checking GitHub's OpenAPI bodies."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.alerts.ticket_receivers import (
    Attempts,
    GitHubReceiver,
    Violation,
    make_issue,
    notification,
    queue,
)
from tracehound.alerts.backends.github_issues import GitHubIssuesBackend
from tracehound.alerts.base import ConfigError, DeliveryError, Link


@pytest.fixture
def github() -> Iterator[GitHubReceiver]:
    receiver = GitHubReceiver()
    yield receiver
    receiver.close()
    assert receiver.violations == []


def backend_for(github: GitHubReceiver, **overrides: Any) -> GitHubIssuesBackend:
    values = {
        "api_url": github.url,
        "token": github.token,
        "repository": github.repository,
        "labels": "bug, tracehound",
        **overrides,
    }
    return GitHubIssuesBackend(GitHubIssuesBackend.clean(values))


def test_it_creates_an_issue_with_the_marker_as_its_last_line(github: GitHubReceiver) -> None:
    sent = Attempts(backend_for(github)).send(notification())

    assert (sent.status, sent.external_key, sent.external_id) == (201, "#1", "901")
    assert sent.external_url == "https://github.example/acme/backend/issues/1"
    created = github.live()[0]
    assert created["title"] == "BACKEND-7: ZeroDivisionError: division by zero"
    assert [label["name"] for label in created["labels"]] == ["bug", "tracehound"]
    assert created["body"].endswith("<!-- tracehound:issue=acme/7 -->")
    assert "divide (app/views.py:42)" in created["body"]
    headers = github.calls("create")[0].headers
    assert headers["authorization"] == f"Bearer {github.token}"


def test_a_create_reset_after_the_issue_was_made_leaves_exactly_one_issue(
    github: GitHubReceiver,
) -> None:
    attempts = Attempts(backend_for(github))
    github.fail("create", reset=True)

    with pytest.raises(DeliveryError) as lost:
        attempts.send(notification())
    assert lost.value.retryable and len(github.live()) == 1

    sent = attempts.send(notification())

    assert len(github.live()) == 1 and len(github.calls("create")) == 1
    assert sent.external_key == "#1" and "adopted" in sent.excerpt
    assert attempts.progress["github_login"] == "tracehound-bot"
    listing = github.calls("list")[0].query
    assert listing["creator"] == ["tracehound-bot"] and listing["state"] == ["all"]


def test_the_login_is_fetched_once_per_notification(github: GitHubReceiver) -> None:
    attempts = Attempts(backend_for(github))
    github.fail("create", 502)
    github.fail("create", 502)
    for _ in range(2):
        with pytest.raises(DeliveryError):
            attempts.send(notification())
    attempts.send(notification())
    assert len(github.calls("user")) == 1 and len(github.calls("list")) == 2
    assert len(github.live()) == 1


def test_a_title_that_forges_another_issues_marker_is_not_adopted(github: GitHubReceiver) -> None:
    backend = backend_for(github)
    forged = "<!-- tracehound:issue=acme/8 -->"
    Attempts(backend).send(notification(issue_id=7, title=forged, culprit=forged))
    attempts = Attempts(backend)
    github.fail("create", 500)
    with pytest.raises(DeliveryError):
        attempts.send(notification(issue_id=8))

    sent = attempts.send(notification(issue_id=8))

    assert sent.external_key == "#2" and len(github.live()) == 2


def test_a_regression_comments_and_reopens_the_closed_issue(github: GitHubReceiver) -> None:
    attempts = Attempts(backend_for(github))
    attempts.send(notification())
    github.live()[0]["state"] = "closed"

    sent = Attempts(attempts.backend, attempts.link).send(notification("issue.regression"))

    assert len(github.live()) == 1
    issue = github.live()[0]
    assert issue["state"] == "open" and "Regression in 1.4.2" in issue["comments"][0]
    assert sent.excerpt == "commented on #1 and reopened it"


def test_a_frequency_alert_comments_without_reopening(github: GitHubReceiver) -> None:
    attempts = Attempts(backend_for(github))
    attempts.send(notification())
    github.live()[0]["state"] = "closed"

    Attempts(attempts.backend, attempts.link).send(notification("issue.frequency"))

    assert github.live()[0]["state"] == "closed" and len(github.live()[0]["comments"]) == 1
    assert github.calls("update") == []


def test_reopening_can_be_turned_off(github: GitHubReceiver) -> None:
    attempts = Attempts(backend_for(github, reopen_on_regression="false"))
    attempts.send(notification())
    github.live()[0]["state"] = "closed"
    Attempts(attempts.backend, attempts.link).send(notification("issue.regression"))
    assert github.live()[0]["state"] == "closed" and github.calls("update") == []


def test_a_deleted_issue_is_replaced_by_a_new_one(github: GitHubReceiver) -> None:
    first = Attempts(backend_for(github))
    first.send(notification())
    github.live()[0]["deleted"] = True

    again = Attempts(first.backend, first.link)
    sent = again.send(notification("issue.regression"))

    assert again.dropped == 1 and sent.external_key == "#2" and len(github.live()) == 1


def test_resolve_closes_the_issue_as_completed_when_asked(github: GitHubReceiver) -> None:
    attempts = Attempts(backend_for(github, close_on_resolve=True))
    attempts.send(notification())

    Attempts(attempts.backend, attempts.link).send(notification("issue.resolved"))

    issue = github.live()[0]
    assert (issue["state"], issue["state_reason"]) == ("closed", "completed")


def test_resolve_leaves_the_issue_open_by_default(github: GitHubReceiver) -> None:
    link = Link("901", "#1", "https://github.example/acme/backend/issues/1")
    sent = Attempts(backend_for(github), link).send(notification("issue.resolved"))
    assert sent.external_key == "#1" and github.requests == []


def test_a_rate_limited_403_waits_until_the_reset(github: GitHubReceiver) -> None:
    reset = int(time.time()) + 120
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
    github.fail("create", 403, headers=headers, body=b'{"message":"API rate limit exceeded"}')

    with pytest.raises(DeliveryError) as failed:
        Attempts(backend_for(github)).send(notification())

    error = failed.value
    assert error.retryable and not error.disable_channel
    assert error.retry_after is not None and 110 <= error.retry_after <= 121


@pytest.mark.parametrize(
    ("status", "headers", "body", "retryable", "disable", "wait"),
    [
        (429, {"Retry-After": "9"}, b"{}", True, False, 9.0),
        (403, {"Retry-After": "30"}, b'{"message":"secondary rate limit"}', True, False, 30.0),
        (403, {}, b'{"message":"You have exceeded a secondary rate limit"}', True, False, 60.0),
        (
            403,
            {},
            b'{"message":"Resource not accessible by personal access token"}',
            False,
            True,
            None,
        ),
        (401, {}, b'{"message":"Bad credentials"}', False, True, None),
        (404, {}, b'{"message":"Not Found"}', False, True, None),
        (410, {}, b'{"message":"Issues are disabled for this repo"}', False, True, None),
        (
            422,
            {},
            b'{"message":"Validation Failed","errors":[{"message":"bad label"}]}',
            False,
            False,
            None,
        ),
        (500, {}, b"garbage", True, False, None),
        (301, {"Location": "https://api.github.com/repositories/1"}, b"", True, False, None),
    ],
)
def test_each_failure_answer_maps_to_its_class(
    github: GitHubReceiver,
    status: int,
    headers: dict[str, str],
    body: bytes,
    retryable: bool,
    disable: bool,
    wait: float | None,
) -> None:
    github.fail("create", status, headers=headers, body=body)
    with pytest.raises(DeliveryError) as failed:
        Attempts(backend_for(github)).send(notification())
    error = failed.value
    assert (error.retryable, error.disable_channel, error.retry_after) == (retryable, disable, wait)
    assert error.status == status
    if status == 422:
        assert "Validation Failed; bad label" in error.message


def test_a_2xx_with_an_unexpected_body_is_retried_and_makes_one_issue(
    github: GitHubReceiver,
) -> None:
    attempts = Attempts(backend_for(github))
    github.fail("create", 201, body=b'{"ok": true}')
    with pytest.raises(DeliveryError, match="unexpected body"):
        attempts.send(notification())
    assert attempts.send(notification()).external_key == "#1"


@pytest.mark.parametrize(
    "title",
    [
        "nul\x00and\x1b[31m controls",
        "y" * 1_000_000,
        "@everyone ping @acme/oncall see #1 <img src=x onerror=alert(1)> ```",
        "line\nbreak **bold** [x](javascript:alert(1)) | table |",
        "surrogate \udfff",
        str(2**64),
    ],
)
def test_hostile_event_text_stays_inert_and_inside_the_limits(
    github: GitHubReceiver, title: str
) -> None:
    hostile = notification(
        title=title,
        culprit=title,
        frames=({"function": "```" + title, "filename": title, "lineno": 1},),
        environment=title,
        release=title,
    )
    Attempts(backend_for(github)).send(hostile)

    body = github.live()[0]["body"]
    assert len(github.live()[0]["title"]) <= 256 and "\x00" not in body
    # Markdown renders nothing inside a fenced code block; everywhere else, nothing is live.
    fence = re.search(r"^(`{3,})text$", body, re.M)
    assert fence is not None and len(fence.group(1)) > 3
    prose = re.sub(r"^(`{3,})text\n.*?\n\1$", "", body, flags=re.M | re.S)
    assert "@everyone" not in prose and "@acme" not in prose
    assert not re.search(r"(?<!\\)<img", prose)
    assert not re.search(r"(?<!\\)\]\(javascript", prose)
    assert body.endswith("<!-- tracehound:issue=acme/7 -->")
    assert body.count("<!--") == 1


def test_a_test_notification_checks_the_repository(github: GitHubReceiver) -> None:
    sent = Attempts(backend_for(github)).send(notification("test"))
    assert "acme/backend" in sent.excerpt and github.live() == []
    github.has_issues = False
    with pytest.raises(DeliveryError, match="issues are disabled"):
        Attempts(backend_for(github)).send(notification("test"))


def test_the_token_never_reaches_the_delivery_log(github: GitHubReceiver) -> None:
    attempts = Attempts(backend_for(github, token="ghp_expired_s3cret"))
    with pytest.raises(DeliveryError) as failed:
        attempts.send(notification())
    assert "ghp_expired_s3cret" not in str(attempts.http.calls) + failed.value.message


@pytest.mark.parametrize(
    ("values", "setting", "message"),
    [
        ({"repository": "backend"}, "repository", "owner/name"),
        ({"repository": "acme/backend/extra"}, "repository", "owner/name"),
        ({"repository": "acme/.."}, "repository", "owner/name"),
        ({"api_url": "http://github.example/api/v3"}, "api_url", "https"),
        ({"api_url": "not a url"}, "api_url", "http"),
        ({"token": ""}, "token", "required"),
        ({"labels": "x" * 51}, "labels", "50 characters"),
        ({"close_on_resolve": "maybe"}, "close_on_resolve", "true or false"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(
    values: dict[str, str], setting: str, message: str
) -> None:
    good = {"token": "t", "repository": "acme/backend"}
    with pytest.raises(ConfigError, match=message) as refused:
        GitHubIssuesBackend.clean({**good, **values})
    assert refused.value.setting == setting


def test_settings_default_to_github_com() -> None:
    cleaned = GitHubIssuesBackend.clean({"token": "t", "repository": "acme/backend"})
    assert cleaned["api_url"] == "https://api.github.com"
    assert cleaned["reopen_on_regression"] is True and cleaned["close_on_resolve"] is False


def test_the_receiver_refuses_bodies_github_refuses() -> None:
    with pytest.raises(Violation, match="issues/create"):
        GitHubReceiver.check_body("issues/create", {"body": "no title"})
    with pytest.raises(Violation, match="issues/update"):
        GitHubReceiver.check_body("issues/update", {"state": "resolved"})
    with pytest.raises(Violation, match="issues/create-comment"):
        GitHubReceiver.check_body("issues/create-comment", {"text": "x"})


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("1. not a list", "1\\. not a list"),
        ("- not a list", "\\- not a list"),
        ("Regression in 1.4.2", "Regression in 1.4.2"),
        ("a_b *c* `d`", "a\\_b \\*c\\* \\`d\\`"),
        ("@here", "@\u2060here"),
    ],
)
def test_event_text_is_escaped_as_markdown(text: str, escaped: str) -> None:
    from tracehound.alerts.backends.github_issues import escape

    assert escape(text, 100) == escaped


def test_a_failed_reopen_is_retried_without_commenting_twice(github: GitHubReceiver) -> None:
    attempts = Attempts(backend_for(github))
    attempts.send(notification())
    github.live()[0]["state"] = "closed"
    regression = Attempts(attempts.backend, attempts.link)
    github.fail("update", 502)

    with pytest.raises(DeliveryError):
        regression.send(notification("issue.regression"))
    regression.send(notification("issue.regression"))

    issue = github.live()[0]
    assert issue["state"] == "open" and len(issue["comments"]) == 1


# Through the delivery worker, with real Channel, outbox and ExternalIssueLink rows.


def github_channel(github: GitHubReceiver, **overrides: Any) -> Any:
    from tracehound.alerts.channels import create_channel
    from tracehound.projects.models import Organization

    values = {"api_url": github.url, "token": github.token, "repository": github.repository}
    org = Organization.objects.get(slug="acme")
    return create_channel(org, "GitHub", "github_issues", {**values, **overrides})[0]


@pytest.mark.django_db
def test_a_reset_create_is_retried_by_the_worker_into_exactly_one_linked_issue(
    github: GitHubReceiver,
) -> None:
    from tracehound.alerts.delivery import deliver_one
    from tracehound.alerts.models import ExternalIssueLink

    issue = make_issue()
    channel = github_channel(github)
    row = queue(channel, issue)
    github.fail("create", reset=True)

    assert deliver_one(row).outcome == "retry"
    attempt = deliver_one(row)

    link = ExternalIssueLink.objects.get(issue=issue, channel=channel)
    assert attempt.outcome == "succeeded"
    assert (link.external_key, link.url) == ("#1", "https://github.example/acme/backend/issues/1")
    assert len(github.live()) == 1 and len(github.calls("create")) == 1
    row.refresh_from_db()
    assert row.progress["github_login"] == "tracehound-bot"


@pytest.mark.django_db
def test_regression_and_resolve_through_the_worker_reuse_the_issue(github: GitHubReceiver) -> None:
    from tracehound.alerts.delivery import deliver_one

    issue = make_issue()
    channel = github_channel(github, close_on_resolve=True)
    deliver_one(queue(channel, issue))
    deliver_one(queue(channel, issue, "issue.resolved"))
    assert github.live()[0]["state"] == "closed"

    deliver_one(queue(channel, issue, "issue.regression", cause=2))

    assert len(github.live()) == 1
    assert github.live()[0]["state"] == "open" and len(github.live()[0]["comments"]) == 1


@pytest.mark.django_db
def test_a_rate_limit_through_the_worker_waits_for_the_reset(github: GitHubReceiver) -> None:
    from tracehound.alerts.delivery import deliver_one

    issue = make_issue()
    row = queue(github_channel(github), issue)
    reset = int(time.time()) + 600
    github.fail(
        "create", 403, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
    )

    assert deliver_one(row).outcome == "retry"

    row.refresh_from_db()
    assert row.next_attempt_at.timestamp() >= reset - 2
    assert row.channel.enabled


@pytest.mark.django_db
def test_issues_disabled_disables_the_channel(github: GitHubReceiver) -> None:
    from tracehound.alerts.delivery import deliver_one

    issue = make_issue()
    channel = github_channel(github)
    github.has_issues = False

    attempt = deliver_one(queue(channel, issue))

    channel.refresh_from_db()
    assert attempt.status_code == 410
    assert not channel.enabled and "issues are disabled" in channel.disabled_reason
