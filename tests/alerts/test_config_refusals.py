"""Channel settings that cannot work are refused when saved, naming the setting and
never quoting a secret: malformed URLs, ports out of range, text a header cannot carry.
Through the API (real WSGI stack), the CLI and the channel actions."""

from __future__ import annotations

from io import StringIO
from typing import Any

import orjson
import pytest
from django.core.management import call_command

from tracehound.alerts import channels
from tracehound.alerts.base import ConfigError
from tracehound.alerts.models import Channel
from tracehound.projects.models import Organization

pytestmark = pytest.mark.django_db(transaction=True)

CHANNELS = "/api/0/organizations/acme/channels/"
JSON = {"Content-Type": "application/json"}
WEBHOOK = "https://hooks.example.com/x"
TEAMS = "https://prod-00.westus.logic.azure.com/workflows/abc/triggers/manual/paths/invoke"
ROUTING_KEY = "R0UT1NGK3Y" + "0" * 22


def post(api: Any, user: Any, kind: str, config: dict[str, Any]) -> Any:
    body = orjson.dumps({"name": "ops", "kind": kind, "config": config})
    return api(CHANNELS, user, method="POST", body=body, headers=JSON)


# (kind, config, the setting refused)
BAD = [
    ("webhook", {"url": "https://[::1"}, "url"),
    ("webhook", {"url": "http://[::1/"}, "url"),
    ("webhook", {"url": "https://hooks.example.com:99999/x"}, "url"),
    ("webhook", {"url": "https://hooks.example.com:0/x"}, "url"),
    ("webhook", {"url": "https://hooks.example.com/hübsch"}, "url"),
    ("webhook", {"url": "https://hooks.example.com/x?q=ü"}, "url"),
    ("webhook", {"url": WEBHOOK, "headers": {"X-Token": "abc☃def"}}, "headers"),
    ("webhook", {"url": WEBHOOK, "headers": "X-Token: abc\x7fdef"}, "headers"),
    ("msteams", {"webhook_url": "https://[::1"}, "webhook_url"),
    ("msteams", {"webhook_url": "https://example.logic.azure.com:99999/w"}, "webhook_url"),
    ("slack", {"webhook_url": "https://[::1/services/x"}, "webhook_url"),
    ("pagerduty", {"routing_key": ROUTING_KEY, "events_url": "https://[::1"}, "events_url"),
    (
        "github_issues",
        {"token": "ghp_☃abc", "repository": "acme/app"},
        "token",
    ),
    (
        "jira_cloud",
        {
            "site_url": "https://acme.atlassian.net",
            "email": "a@example.com",
            "api_token": "tøken",
            "project_key": "OPS",
        },
        "api_token",
    ),
]


@pytest.mark.parametrize(("kind", "config", "field"), BAD)
def test_a_setting_that_cannot_be_sent_is_refused_by_the_api(api, owner, kind, config, field):
    response = post(api, owner, kind, config)
    assert response.status == 400, response.body
    assert response.json()["field"] == field
    assert response.json()["detail"].startswith(f"{field}: ")
    assert not Channel.objects.exists()


@pytest.mark.parametrize(("kind", "config", "field"), BAD)
def test_the_same_settings_are_refused_on_update(owner, kind, config, field):
    good = {
        "webhook": {"url": WEBHOOK},
        "msteams": {"webhook_url": TEAMS},
        "slack": {"webhook_url": "https://hooks.slack.com/services/T0/B0/abcdefgh"},
        "pagerduty": {"routing_key": ROUTING_KEY},
        "github_issues": {"token": "ghp_abc", "repository": "acme/app"},
        "jira_cloud": {
            "site_url": "https://acme.atlassian.net",
            "email": "a@example.com",
            "api_token": "token",
            "project_key": "OPS",
        },
    }[kind]
    org = Organization.objects.get(slug="acme")
    channel, _ = channels.create_channel(org, "ops", kind, good)
    before = (channel.config, channel.secrets)
    with pytest.raises(ConfigError) as exc:
        channels.update_channel(Channel.objects.get(), config)
    assert exc.value.setting == field
    channel.refresh_from_db()
    assert (channel.config, channel.secrets) == before


def test_a_bad_ipv6_url_is_refused_by_the_cli_not_a_traceback(project, capsys):
    err = StringIO()
    with pytest.raises(SystemExit) as exc:
        call_command(
            "channel", "create", "acme", "ops", "--kind", "webhook", "--set", "url=https://[::1",
            stdout=StringIO(), stderr=err,
        )  # fmt: skip
    assert exc.value.code == 2
    assert err.getvalue().startswith("error: url: is not a valid URL"), err.getvalue()


@pytest.mark.parametrize(
    "headers",
    [
        "Authorization Bearer sk_live_TOPSECRET99",
        "X-A: 1\nAuthorization Bearer sk_live_TOPSECRET99",
        {"Bearer sk_live_TOPSECRET99": "x"},
        {"Authorization": "Bearer sk_live_TOPSECRET99\r\nX: y"},
    ],
)
def test_a_headers_error_never_quotes_the_secret(api, owner, headers):
    response = post(api, owner, "webhook", {"url": WEBHOOK, "headers": headers})
    assert response.status == 400, response.body
    assert response.json()["field"] == "headers"
    assert b"TOPSECRET" not in response.body
    assert not Channel.objects.exists()


def test_a_headers_line_error_names_the_line_number(api, owner):
    headers = "X-A: 1\nAuthorization Bearer sk_live_TOPSECRET99"
    response = post(api, owner, "webhook", {"url": WEBHOOK, "headers": headers})
    assert response.json()["detail"] == "headers: line 2 is not 'Name: value'"


def test_ascii_header_values_tokens_and_percent_encoded_urls_are_kept(api, owner):
    config = {
        "url": "https://hooks.example.com/h%C3%BCbsch?a=b",
        "headers": {"X-Token": "abc def~!"},
    }
    response = post(api, owner, "webhook", config)
    assert response.status == 201, response.body
    stored = channels.full_config(Channel.objects.get())
    assert stored["url"] == config["url"] and stored["headers"] == config["headers"]


def test_a_bad_ipv6_url_is_shown_on_its_field_in_the_form(client, owner):
    client.force_login(owner)
    form = {"kind": "webhook", "name": "ops", "s_url": "http://[::1/"}
    response = client.post("/organizations/acme/settings/channels/new/?kind=webhook", form)
    assert response.status_code == 400
    html = response.content.decode()
    block = html[html.index('id="field-s_url"') :]
    assert "url: is not a valid URL" in block[: block.index("</div>")]
    assert not Channel.objects.exists()
