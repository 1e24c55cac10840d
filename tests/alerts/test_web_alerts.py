"""The alert pages: a channel form generated from the backend's settings (secrets never
rendered back), bad input named on its field, the delivery log, rules, the issue page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.alerts.surfaces import SECRET, receiver
from tracehound.accounts.models import AuditLogEntry
from tracehound.alerts import rule_actions
from tracehound.alerts.channels import full_config
from tracehound.alerts.models import AlertRule, Channel, ExternalIssueLink, Notification
from tracehound.projects.models import Organization

pytestmark = pytest.mark.django_db(transaction=True)

CHANNELS = "/organizations/acme/settings/channels/"
RULES = "/organizations/acme/settings/projects/backend/alerts/"


def echo_form(**changes: Any) -> dict[str, Any]:
    values = {"kind": "echo", "name": "ops", "s_url": "https://hooks.example.com/x",
              "s_token": SECRET, "s_mode": "a", **changes}  # fmt: skip
    return {k: v for k, v in values.items() if v is not None}


def make_channel(**values: Any) -> Channel:
    channel, _ = rule_actions.create_channel(
        Organization.objects.get(slug="acme"),
        "ops",
        "echo",
        {"url": "https://hooks.example.com/x", "token": SECRET, **values},
    )
    return channel


def test_the_new_channel_form_has_a_field_per_declared_setting(client, owner, echo_kind):
    client.force_login(owner)
    page = client.get(f"{CHANNELS}new/?kind=echo")
    assert page.status_code == 200
    html = page.content.decode()
    for name in ("s_url", "s_token", "s_mode", "s_loud", "s_headers", "s_recipients", "s_note"):
        assert f'name="{name}"' in html
    assert 'type="password"' in html and 'type="checkbox"' in html and "<textarea" in html


def test_an_owner_creates_a_channel_from_the_form(client, owner, echo_kind):
    client.force_login(owner)
    response = client.post(f"{CHANNELS}new/?kind=echo", echo_form(s_headers="X-Team: ops"))
    assert response.status_code == 302, response.content.decode()[:2000]
    channel = Channel.objects.get()
    assert full_config(channel)["token"] == SECRET
    assert full_config(channel)["headers"] == {"X-Team": "ops"}
    assert AuditLogEntry.objects.filter(action="channel.create").exists()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"s_url": "not a url"}, "s_url", "url: must be an http"),
        ({"s_token": ""}, "s_token", "token: is required"),
        ({"s_headers": "no colon here"}, "s_headers", "headers: line"),
        ({"s_recipients": "a@b.example, nope"}, "s_recipients", "recipients: &#x27;nope&#x27;"),
        ({"name": ""}, "name", "name: must be 1 to 100"),
    ],
)
def test_a_bad_setting_is_shown_on_its_field_and_nothing_is_saved(
    client, owner, echo_kind, changes, field, message
):
    client.force_login(owner)
    response = client.post(f"{CHANNELS}new/?kind=echo", echo_form(**changes))
    assert response.status_code == 400
    html = response.content.decode()
    block = html[html.index(f'id="field-{field}"') :]
    assert message in block[: block.index("</div>")]
    assert not Channel.objects.exists()


def test_an_unknown_kind_is_refused_by_name(client, owner, echo_kind):
    client.force_login(owner)
    response = client.get(f"{CHANNELS}new/?kind=<script>")
    assert response.status_code == 400
    assert "kind: unknown kind" in response.content.decode()
    assert "<script>" not in response.content.decode()


def test_the_edit_form_never_renders_a_secret_and_blank_keeps_it(client, owner, echo_kind):
    channel = make_channel()
    client.force_login(owner)
    page = client.get(f"{CHANNELS}{channel.id}/").content.decode()
    assert SECRET not in page
    assert "leave blank to keep" in page
    assert "Echo (tests)" in page and "Send a test notification" in page and "Disable" in page
    response = client.post(f"{CHANNELS}{channel.id}/", echo_form(s_token="", name="ops-renamed"))
    assert response.status_code == 302
    channel.refresh_from_db()
    assert channel.name == "ops-renamed" and full_config(channel)["token"] == SECRET
    refused = client.post(f"{CHANNELS}{channel.id}/", echo_form(s_token="", s_url="ftp://x"))
    assert refused.status_code == 400 and SECRET not in refused.content.decode()


def test_a_member_sees_channels_read_only_and_cannot_change_them(client, owner, member, echo_kind):
    channel = make_channel()
    client.force_login(member)
    assert client.get(CHANNELS).status_code == 200
    page = client.get(f"{CHANNELS}{channel.id}/").content.decode()
    assert "Save channel" not in page and SECRET not in page
    assert client.post(f"{CHANNELS}{channel.id}/delete/").status_code == 403
    assert client.get(f"{CHANNELS}new/?kind=echo").status_code == 403
    assert Channel.objects.count() == 1


def test_enable_disable_and_delete_buttons(client, owner, echo_kind):
    channel = make_channel()
    client.force_login(owner)
    client.post(f"{CHANNELS}{channel.id}/disable/")
    channel.refresh_from_db()
    assert not channel.enabled
    client.post(f"{CHANNELS}{channel.id}/enable/")
    channel.refresh_from_db()
    assert channel.enabled
    client.post(f"{CHANNELS}{channel.id}/delete/")
    assert not Channel.objects.exists()


def test_an_unavailable_kind_shows_as_unavailable(client, owner):
    Channel.objects.create(
        organization=Organization.objects.get(slug="acme"),
        name="gone",
        kind="removed_plugin",
        created_at=datetime.now(tz=UTC),
    )
    client.force_login(owner)
    page = client.get(CHANNELS).content.decode()
    assert "unavailable" in page
    channel = Channel.objects.get()
    assert "is not installed" in client.get(f"{CHANNELS}{channel.id}/").content.decode()


def test_a_hostile_channel_name_and_setting_are_escaped(client, owner, echo_kind):
    name = '<img src=x onerror="alert(1)">'
    channel, _ = rule_actions.create_channel(
        Organization.objects.get(slug="acme"),
        name,
        "echo",
        {
            "url": "https://a.example/?q=<b>",
            "token": "t",
            "note": "</textarea><script>x()</script>",
        },
    )
    client.force_login(owner)
    for path in (CHANNELS, f"{CHANNELS}{channel.id}/"):
        html = client.get(path).content.decode()
        assert "<img src=x" not in html and "<script>x()" not in html


def test_send_a_test_and_see_it_in_the_delivery_log(client, owner, echo_kind, allow_loopback):
    client.force_login(owner)
    with receiver() as hook:
        channel = make_channel(url=hook.url)
        result = client.post(f"{CHANNELS}{channel.id}/test/")
        assert result.status_code == 200
        assert "succeeded" in result.content.decode()
        assert len(hook.requests) == 1
    log = client.get(f"/organizations/acme/settings/deliveries/?channel={channel.id}")
    html = log.content.decode()
    assert log.status_code == 200 and 'data-outcome="succeeded"' in html
    assert SECRET not in html and SECRET not in result.content.decode()


def test_the_delivery_log_refuses_a_bad_filter_by_name(client, owner):
    client.force_login(owner)
    response = client.get("/organizations/acme/settings/deliveries/?channel=abc")
    assert response.status_code == 400 and "channel: not a channel id" in response.content.decode()
    response = client.get("/organizations/acme/settings/deliveries/?cursor=zz")
    assert response.status_code == 400 and "cursor:" in response.content.decode()


def rule_form(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": "Prod errors",
        "enabled": "on",
        "triggers": ["new_issue", "users"],
        "users_count": "5",
        "users_window": "10",
        "environment": "production",
        "min_level": "warning",
        "release": "",
        "tag_filters": "browser.name eq Chrome\nos not_set",
        "throttle_minutes": "15",
        **changes,
    }
    return {k: v for k, v in values.items() if v is not None}


def test_an_owner_creates_and_edits_a_rule_from_the_form(client, owner, echo_kind):
    channel = make_channel()
    client.force_login(owner)
    response = client.post(f"{RULES}new/", rule_form(channels=[str(channel.id)]))
    assert response.status_code == 302, response.content.decode()[:3000]
    rule = AlertRule.objects.get()
    assert rule.triggers == ["new_issue", "users"] and (rule.users_count, rule.users_window) == (
        5,
        10,
    )
    assert rule.tag_filters == [
        {"key": "browser.name", "op": "eq", "value": "Chrome"},
        {"key": "os", "op": "not_set", "value": ""},
    ]
    assert list(rule.channels.all()) == [channel]
    page = client.get(f"{RULES}{rule.id}/").content.decode()
    assert "browser.name eq Chrome" in page
    client.post(f"{RULES}{rule.id}/", rule_form(enabled=None, channels=[]))
    rule.refresh_from_db()
    assert not rule.enabled and not rule.channels.exists()
    assert "Prod errors" in client.get(RULES).content.decode()
    client.post(f"{RULES}{rule.id}/delete/")
    assert not AlertRule.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"triggers": []}, "triggers", "triggers: choose at least one"),
        ({"users_count": ""}, "users_count", "users: needs a count"),
        ({"users_window": "50000"}, "users_count", "users: the window must be between"),
        ({"tag_filters": "browser.name like Chrome"}, "tag_filters", "unknown operator"),
        ({"throttle_minutes": "-5"}, "throttle_minutes", "throttle_minutes: must be between"),
        ({"name": ""}, "name", "name: must be 1 to 200"),
    ],
)
def test_a_bad_rule_is_shown_on_its_field(client, owner, changes, field, message):
    client.force_login(owner)
    response = client.post(f"{RULES}new/", rule_form(**changes))
    assert response.status_code == 400
    html = response.content.decode()
    block = html[html.index(f'id="field-{field}"') :]
    assert message in block[: block.index("</div>")]
    assert not AlertRule.objects.exists()


def test_a_member_without_project_write_cannot_create_rules(client, member):
    client.force_login(member)
    assert client.get(RULES).status_code == 200
    assert client.post(f"{RULES}new/", rule_form()).status_code == 403
    assert not AlertRule.objects.exists()


def test_the_issue_page_shows_linked_tickets_and_notifications(
    client, owner, project, wsgi, digest_all, echo_kind
):
    from tests.permissions import FIXTURE
    from tracehound.issues.models import Issue

    wsgi("POST", f"/api/{project.id}/envelope/", FIXTURE.read_bytes(), headers=project.auth)
    digest_all()
    issue = Issue.objects.get()
    channel = make_channel()
    now = datetime.now(tz=UTC)
    ExternalIssueLink.objects.create(
        issue=issue, channel=channel, external_key="ET-7",
        url="https://acme.atlassian.net/browse/ET-7", created_at=now,
    )  # fmt: skip
    Notification.objects.create(
        channel=channel, issue=issue, project=project.project, kind="issue.new",
        dedupe_key=f"new:{issue.id}", state="failed", attempts=3,
        last_error="answered <500>", next_attempt_at=now, created_at=now,
    )  # fmt: skip
    client.force_login(owner)
    html = client.get(f"/organizations/acme/issues/{issue.id}/").content.decode()
    assert 'href="https://acme.atlassian.net/browse/ET-7"' in html and ">ET-7<" in html
    assert 'data-state="failed"' in html and "answered &lt;500&gt;" in html
    assert "issue.new" in html


def test_a_ticket_link_that_is_not_http_is_shown_as_text(
    client, owner, project, wsgi, digest_all, echo_kind
):
    from tests.permissions import FIXTURE
    from tracehound.issues.models import Issue

    wsgi("POST", f"/api/{project.id}/envelope/", FIXTURE.read_bytes(), headers=project.auth)
    digest_all()
    issue = Issue.objects.get()
    ExternalIssueLink.objects.create(
        issue=issue, channel=make_channel(), external_key="#1",
        url="javascript:alert(1)", created_at=datetime.now(tz=UTC),
    )  # fmt: skip
    client.force_login(owner)
    html = client.get(f"/organizations/acme/issues/{issue.id}/").content.decode()
    assert "javascript:alert" not in html and "#1" in html
