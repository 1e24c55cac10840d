"""/api/0/organizations/{org}/channels/ and /api/0/projects/{org}/{project}/alert-rules/
through the real WSGI stack: shapes, refusals naming the field, secrets never answered."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from tests.alerts.surfaces import SECRET, receiver
from tracehound.accounts.models import AuditLogEntry
from tracehound.alerts.models import AlertRule, Channel

pytestmark = pytest.mark.django_db(transaction=True)

CHANNELS = "/api/0/organizations/acme/channels/"
RULES = "/api/0/projects/acme/backend/alert-rules/"
JSON = {"Content-Type": "application/json"}


def send(api: Any, path: str, user: Any, method: str, data: Any) -> Any:
    body = data if isinstance(data, bytes) else json.dumps(data).encode()  # 2**64 too
    return api(path, user, method=method, body=body, headers=JSON)


def create_echo(
    api: Any,
    owner: Any,
    url: str = "https://hooks.example.com/x",
    config_extra: dict[str, Any] | None = None,
    **extra: Any,
) -> Any:
    config = {"url": url, "token": SECRET, **(config_extra or {})}
    data = {"name": "ops", "kind": "echo", "config": config, **extra}
    return send(api, CHANNELS, owner, "POST", data)


def test_an_owner_creates_reads_updates_and_deletes_a_channel(api, owner, echo_kind):
    created = create_echo(api, owner)
    assert created.status == 201, created.body
    data = created.json()
    assert data["name"] == "ops" and data["kind"] == "echo" and data["available"]
    assert data["config"]["token"] == "[set]" and data["config"]["url"].startswith("https://")
    assert data["generated"] == {}
    path = f"{CHANNELS}{data['id']}/"
    changed = send(api, path, owner, "PUT", {"name": "ops2", "config": {"mode": "b"}})
    assert changed.status == 200, changed.body
    assert changed.json()["config"]["mode"] == "b"
    # The token was left out: it is kept.
    from tracehound.alerts.channels import full_config

    assert full_config(Channel.objects.get())["token"] == SECRET
    off = send(api, path, owner, "PUT", {"enabled": False})
    assert off.json()["enabled"] is False
    assert [c["name"] for c in api(CHANNELS, owner).json()] == ["ops2"]
    assert api(path, owner, method="DELETE").status == 204
    assert not Channel.objects.exists()
    actions = set(AuditLogEntry.objects.values_list("action", flat=True))
    assert {"channel.create", "channel.update", "channel.disable", "channel.delete"} <= actions


def test_no_channel_answer_holds_a_secret(api, owner, echo_kind):
    created = create_echo(api, owner).json()
    path = f"{CHANNELS}{created['id']}/"
    bodies = [
        orjson.dumps(created),
        api(CHANNELS, owner).body,
        api(path, owner).body,
        send(api, path, owner, "PUT", {"config": {"note": "hi"}}).body,
        api(f"{path}deliveries/", owner).body,
    ]
    assert not any(SECRET.encode() in b for b in bodies)
    assert not AuditLogEntry.objects.filter(data__icontains=SECRET).exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "x", "kind": "nope", "config": {}}, "kind"),
        (
            {"name": "x", "kind": "echo", "config": {"url": "javascript:alert(1)", "token": "t"}},
            "url",
        ),
        ({"name": "x", "kind": "echo", "config": {"url": "https://a.example"}}, "token"),
        (
            {"name": "", "kind": "echo", "config": {"url": "https://a.example", "token": "t"}},
            "name",
        ),
        ({"name": 5, "kind": "echo", "config": {}}, "name"),
        (
            {
                "name": "x",
                "kind": "echo",
                "config": {"url": "https://a", "token": "t", "headers": "Bad Header: x"},
            },
            "headers",
        ),
        (
            {
                "name": "x",
                "kind": "echo",
                "config": {"url": "https://a", "token": "t", "recipients": "not-mail"},
            },
            "recipients",
        ),
        ({"name": "x", "kind": "echo", "config": {"url": "https://a", "token": "t\x00"}}, "token"),
        ({"name": "x", "kind": "echo", "config": "nope"}, "config"),
        ({"name": "x", "kind": "echo", "config": ["url", "https://a"]}, "config"),
    ],
)
def test_a_bad_channel_is_refused_naming_the_field(api, owner, echo_kind, data, field):
    response = send(api, CHANNELS, owner, "POST", data)
    assert response.status == 400, response.body
    assert response.json()["field"] == field
    assert response.json()["detail"].startswith(f"{field}: ")
    assert not Channel.objects.exists()


def test_a_channel_name_taken_is_refused(api, owner, echo_kind):
    create_echo(api, owner)
    response = create_echo(api, owner)
    assert response.status == 400 and response.json()["field"] == "name"


def test_a_member_reads_channels_but_cannot_change_them(api, owner, member, echo_kind):
    cid = create_echo(api, owner).json()["id"]
    assert api(CHANNELS, member).status == 200
    assert api(f"{CHANNELS}{cid}/", member, method="DELETE").status == 403
    assert send(api, f"{CHANNELS}{cid}/test/", member, "POST", {}).status == 403
    assert Channel.objects.count() == 1


def test_another_organizations_channel_is_404(api, owner, outsider, echo_kind):
    cid = create_echo(api, owner).json()["id"]
    assert api(f"/api/0/organizations/other-org/channels/{cid}/", outsider).status == 404
    assert api(f"{CHANNELS}{cid}/", outsider).status == 404


def test_an_unavailable_kind_is_listed_and_cannot_be_tested(api, owner):
    from datetime import UTC, datetime

    from tracehound.projects.models import Organization

    channel = Channel.objects.create(
        organization=Organization.objects.get(slug="acme"),
        name="old plugin",
        kind="removed_plugin",
        created_at=datetime.now(tz=UTC),
    )
    listed = api(CHANNELS, owner).json()
    assert listed[0]["available"] is False and listed[0]["kindLabel"] == "unavailable"
    response = send(api, f"{CHANNELS}{channel.id}/test/", owner, "POST", {})
    assert response.status == 409 and "not installed" in response.json()["detail"]


def test_send_a_test_notification_and_read_it_in_the_delivery_log(
    api, owner, echo_kind, allow_loopback
):
    with receiver(status=200, body=b'{"received": "<yes>"}') as hook:
        cid = create_echo(api, owner, url=hook.url).json()["id"]
        tested = send(api, f"{CHANNELS}{cid}/test/", owner, "POST", {})
        assert tested.status == 200, tested.body
        assert tested.json()["outcome"] == "succeeded" and tested.json()["status"] == 200
        assert len(hook.requests) == 1 and orjson.loads(hook.requests[0]["body"])["kind"] == "test"
        hook.status = 503
        failed = send(api, f"{CHANNELS}{cid}/test/", owner, "POST", {}).json()
        assert failed["outcome"] != "succeeded" and failed["status"] == 503
    log = api(f"{CHANNELS}{cid}/deliveries/", owner, query="limit=1")
    assert log.status == 200
    assert [a["status"] for a in log.json()] == [503]  # newest first
    assert 'rel="next"; results="true"' in log.headers["link"]
    assert SECRET.encode() not in log.body
    assert AuditLogEntry.objects.filter(action="channel.test").count() == 2


def rule_body(**extra: Any) -> dict[str, Any]:
    return {
        "name": "Errors in production",
        "triggers": ["new_issue", "regression", "frequency"],
        "frequency": {"count": 100, "window": 5},
        "environment": "production",
        "min_level": "error",
        "release": "latest",
        "tag_filters": [{"key": "browser.name", "op": "eq", "value": "Chrome"}],
        "throttle_minutes": 60,
        "channels": ["ops"],
        **extra,
    }


def test_a_rule_is_created_read_updated_and_deleted(api, owner, echo_kind):
    create_echo(api, owner)
    created = send(api, RULES, owner, "POST", rule_body())
    assert created.status == 201, created.body
    data = created.json()
    assert data["frequency"] == {"count": 100, "window": 5}
    assert [c["name"] for c in data["channels"]] == ["ops"]
    path = f"{RULES}{data['id']}/"
    changed = send(
        api, path, owner, "PUT", {"enabled": False, "frequency": None, "triggers": ["new_issue"]}
    )
    assert changed.status == 200, changed.body
    assert changed.json()["enabled"] is False and changed.json()["frequency"] is None
    assert api(RULES, owner).json()[0]["id"] == data["id"]
    # The channel ids the API answers are accepted back.
    again = send(api, path, owner, "PUT", {"channels": [c["id"] for c in data["channels"]]})
    assert [c["name"] for c in again.json()["channels"]] == ["ops"]
    assert api(path, owner, method="DELETE").status == 204
    assert not AlertRule.objects.exists()


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"triggers": ["new_issue", "bogus"]}, "triggers"),
        ({"triggers": "new_issue"}, "triggers"),
        ({"frequency": None}, "frequency"),
        ({"frequency": {"count": 10}}, "frequency"),
        ({"frequency": {"count": 10, "window": 43201}}, "frequency"),
        ({"frequency": {"count": 10**12, "window": 5}}, "frequency"),
        ({"channels": ["nope"]}, "channels"),
        ({"tag_filters": [{"key": "a", "op": "like", "value": "b"}]}, "tag_filters"),
        ({"min_level": "catastrophic"}, "min_level"),
        ({"throttle_minutes": -1}, "throttle_minutes"),
        ({"triggers": {"new_issue": True}}, "triggers"),
        ({"channels": {"ops": True}}, "channels"),
        ({"enabled": "no"}, "enabled"),
        ({"colour": "red"}, "colour"),
        ({"name": "x" * 201}, "name"),
        ({"environment": "x" * 1_000_000}, "environment"),
        ({"tag_filters": [{"key": "a", "op": "eq", "value": "b\x00"}]}, "tag_filters"),
        ({"tag_filters": [{"key": "", "op": "eq", "value": "b"}]}, "tag_filters"),
        ({"release": ["1.0"]}, "release"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_field(api, owner, echo_kind, extra, field):
    create_echo(api, owner)
    response = send(api, RULES, owner, "POST", rule_body(**extra))
    assert response.status == 400, response.body
    assert response.json()["field"] == field
    assert not AlertRule.objects.exists()


def test_a_count_of_2_64_is_refused_not_a_crash(api, owner):
    body = b'{"name": "r", "triggers": ["users"], "users": {"count": 18446744073709551616, "window": 5}}'
    response = send(api, RULES, owner, "POST", body)
    assert response.status == 400, response.body
    assert not AlertRule.objects.exists()


def test_another_organizations_channel_cannot_be_used_by_a_rule(api, owner, outsider, echo_kind):
    from tracehound.alerts import rule_actions
    from tracehound.projects.models import Organization

    other, _ = rule_actions.create_channel(
        Organization.objects.get(slug="other-org"), "theirs", "echo",
        {"url": "https://a.example", "token": "t"},
    )  # fmt: skip
    response = send(api, RULES, owner, "POST", rule_body(channels=[other.id]))
    assert response.status == 400 and response.json()["field"] == "channels"


def test_a_member_reads_rules_but_only_project_writers_change_them(api, owner, member):
    assert send(api, RULES, member, "POST", rule_body(channels=[])).status == 403
    assert api(RULES, member).status == 200


def test_a_rule_read_from_the_api_is_written_back_unchanged(api, owner, echo_kind):
    create_echo(api, owner)
    created = send(api, RULES, owner, "POST", rule_body()).json()
    path = f"{RULES}{created['id']}/"
    read = api(path, owner).json()
    again = send(api, path, owner, "PUT", read)
    assert again.status == 200, again.body
    assert again.json() == read
    # A copy through POST: the read-only fields are the new rule's own.
    copy = send(api, RULES, owner, "POST", {**read, "name": "copy"})
    assert copy.status == 201, copy.body
    assert copy.json()["id"] != read["id"] and copy.json()["channels"] == read["channels"]


@pytest.mark.parametrize(
    ("channels", "expected"),
    [
        (lambda c: [{"id": c["id"]}], 200),
        (lambda c: [{"name": "ops"}], 200),
        (lambda c: [{"id": int(c["id"])}], 200),
        (lambda c: [{"id": "999999"}], 400),
        (lambda c: [{"name": "nope"}], 400),
        (lambda c: [{"id": 2**64}], 400),
        (lambda c: [2**64], 400),
    ],
)
def test_rule_channels_as_the_api_answers_them(api, owner, echo_kind, channels, expected):
    channel = create_echo(api, owner).json()
    rule = send(api, RULES, owner, "POST", rule_body(channels=[])).json()
    response = send(api, f"{RULES}{rule['id']}/", owner, "PUT", {"channels": channels(channel)})
    assert response.status == expected, response.body
    names = [c.name for c in AlertRule.objects.get().channels.all()]
    assert names == (["ops"] if expected == 200 else [])
    if expected == 400:
        assert response.json()["field"] == "channels"


def test_a_rule_with_another_id_is_refused(api, owner, echo_kind):
    create_echo(api, owner)
    first = send(api, RULES, owner, "POST", rule_body()).json()
    second = send(api, RULES, owner, "POST", rule_body(name="second")).json()
    response = send(api, f"{RULES}{second['id']}/", owner, "PUT", {**first, "name": "second"})
    assert response.status == 400 and response.json()["field"] == "id"
    assert AlertRule.objects.get(pk=second["id"]).name == "second"


def test_a_channel_read_from_the_api_is_written_back_unchanged(api, owner, echo_kind):
    created = create_echo(api, owner, config_extra={"headers": {"X-Key": "k3y-value"}})
    assert created.status == 201, created.body
    path = f"{CHANNELS}{created.json()['id']}/"
    read = api(path, owner).json()
    assert read["config"]["token"] == "[set]"
    again = send(api, path, owner, "PUT", read)
    assert again.status == 200, again.body
    assert again.json() == read
    from tracehound.alerts.channels import full_config

    stored = full_config(Channel.objects.get())
    assert stored["token"] == SECRET  # "[set]" sent back keeps the secret
    other = send(api, path, owner, "PUT", {**read, "id": str(int(read["id"]) + 1)})
    assert other.status == 400 and other.json()["field"] == "id"
    kind = send(api, path, owner, "PUT", {**read, "kind": "webhook"})
    assert kind.status == 400 and kind.json()["field"] == "kind"
