"""Secret settings as the API, the CLI and the pages report them: "[set]" only for a
stored non-empty value, and "[unreadable]" for secrets encrypted under a SECRET_KEY that
is gone, with the channel still listed and repairable by entering the secret again."""

from __future__ import annotations

from io import StringIO
from typing import Any

import orjson
import pytest
from django.core.management import call_command

from tests.alerts.surfaces import SECRET
from tracehound.alerts import rule_actions
from tracehound.alerts.channels import full_config
from tracehound.alerts.models import Channel
from tracehound.lib import secrets_box
from tracehound.projects.models import Organization

pytestmark = pytest.mark.django_db(transaction=True)

CHANNELS = "/api/0/organizations/acme/channels/"
PAGES = "/organizations/acme/settings/channels/"
JSON = {"Content-Type": "application/json"}


def send(api: Any, path: str, user: Any, method: str, data: Any) -> Any:
    return api(path, user, method=method, body=orjson.dumps(data), headers=JSON)


def webhook(**config: Any) -> Channel:
    channel, _ = rule_actions.create_channel(
        Organization.objects.get(slug="acme"),
        "hook",
        "webhook",
        {"url": "https://hooks.example.com/x", **config},
    )
    return channel


def test_a_webhook_without_headers_does_not_report_them_set(api, owner):
    created = send(
        api, CHANNELS, owner, "POST",
        {"name": "hook", "kind": "webhook", "config": {"url": "https://hooks.example.com/x"}},
    )  # fmt: skip
    assert created.status == 201, created.body
    config = created.json()["config"]
    assert config["headers"] == "" and config["signing_secret"] == "[set]"
    path = f"{CHANNELS}{created.json()['id']}/"
    assert api(path, owner).json()["config"]["headers"] == ""
    listed = orjson.loads(_cli("channel", "list", "acme", "--json"))
    assert listed[0]["config"]["headers"] == ""
    with_headers = send(api, path, owner, "PUT", {"config": {"headers": {"X-Token": SECRET}}})
    assert with_headers.json()["config"]["headers"] == "[set]"
    assert SECRET.encode() not in with_headers.body


def test_an_empty_header_object_is_not_stored_as_a_secret(owner):
    channel = webhook(headers={})
    assert "headers" not in secrets_box.decrypt(channel.secrets)


def _cli(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_unreadable_secrets_keep_the_channel_listed_and_repairable(api, owner, settings):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "old-key-" + "o" * 40, []
    slack = "https://hooks.slack.com/services/T0/B0/" + SECRET
    channel, _ = rule_actions.create_channel(
        Organization.objects.get(slug="acme"), "chat", "slack", {"webhook_url": slack}
    )
    settings.SECRET_KEY = "new-key-" + "n" * 40  # the old one not kept as a fallback
    with pytest.raises(secrets_box.SecretUnreadable):
        full_config(channel)
    listed = api(CHANNELS, owner)
    assert listed.status == 200, listed.body
    assert listed.json()[0]["config"]["webhook_url"] == "[unreadable]"
    path = f"{CHANNELS}{channel.id}/"
    assert api(path, owner).json()["config"]["webhook_url"] == "[unreadable]"
    listed_cli = orjson.loads(_cli("channel", "list", "acme", "--json"))
    assert listed_cli[0]["config"]["webhook_url"] == "[unreadable]"
    # Renaming without the secret: it is required and must be entered again.
    refused = send(api, path, owner, "PUT", {"name": "chat2"})
    assert refused.status == 400 and refused.json()["field"] == "webhook_url"
    new_url = "https://hooks.slack.com/services/T0/B0/renewed-secret-123"
    repaired = send(api, path, owner, "PUT", {"config": {"webhook_url": new_url}})
    assert repaired.status == 200, repaired.body
    assert repaired.json()["config"]["webhook_url"] == "[set]"
    assert full_config(Channel.objects.get())["webhook_url"] == new_url


def test_unreadable_secrets_keep_the_pages_working(client, owner, settings):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "old-key-" + "o" * 40, []
    channel = webhook(headers={"X-Token": SECRET})
    settings.SECRET_KEY = "new-key-" + "n" * 40
    client.force_login(owner)
    assert client.get(PAGES).status_code == 200
    page = client.get(f"{PAGES}{channel.id}/")
    assert page.status_code == 200
    assert SECRET not in page.content.decode()
    without_signing_secret = {"name": "hook", "s_url": "https://hooks.example.com/y"}
    refused = client.post(f"{PAGES}{channel.id}/", without_signing_secret)
    assert refused.status_code == 400
    assert "signing_secret: could not be decrypted" in refused.content.decode()
    form = {
        "name": "hook",
        "s_url": "https://hooks.example.com/y",
        "s_headers": "X-Token: again",
        "s_signing_secret": "whsec_" + "A" * 32,
    }
    response = client.post(f"{PAGES}{channel.id}/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    config = full_config(Channel.objects.get())
    assert config["headers"] == {"X-Token": "again"} and config["url"].endswith("/y")
