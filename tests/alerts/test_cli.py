"""`tracehound channel …` and `tracehound alert-rule …`: configuration as code."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import orjson
import pytest
from django.core.management import CommandError, call_command

from tests.alerts.surfaces import SECRET, receiver
from tracehound.accounts.models import AuditLogEntry
from tracehound.alerts.models import AlertRule, Channel, DeliveryAttempt

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Runs a command that must exit 2; returns what it wrote to stderr."""
    err = StringIO()
    with pytest.raises(SystemExit) as exc:
        call_command(*args, stdout=StringIO(), stderr=err)
    assert exc.value.code == 2
    return err.getvalue()


def make_echo(url: str = "https://hooks.example.com/x") -> dict:
    return orjson.loads(
        run(
            "channel",
            "create",
            "acme",
            "ops",
            "--kind",
            "echo",
            "--set",
            f"url={url}",
            "--set",
            f"token={SECRET}",
            "--json",
        )  # fmt: skip
    )


def test_channel_create_prints_id_name_and_kind_as_json(project, echo_kind):
    data = make_echo()
    channel = Channel.objects.get()
    assert data == {"id": channel.id, "name": "ops", "kind": "echo"}
    assert SECRET not in orjson.dumps(data).decode()
    assert AuditLogEntry.objects.filter(action="channel.create", target_id=str(channel.id)).exists()


def test_channel_list_shows_settings_without_secrets(project, echo_kind):
    make_echo()
    listed = orjson.loads(run("channel", "list", "acme", "--json"))
    assert [c["name"] for c in listed] == ["ops"]
    assert listed[0]["config"]["token"] == "[set]"
    assert SECRET not in run("channel", "list", "acme") + run("channel", "list", "acme", "--json")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--kind", "nope"], "error: kind: unknown kind 'nope'"),
        (
            ["--kind", "echo", "--set", "url=ftp://x", "--set", "token=t"],
            "error: url: must be an http",
        ),
        (["--kind", "echo", "--set", "url=https://a.example"], "error: token: is required"),
        (["--kind", "echo", "--set", "url"], "error: --set: expected key=value"),
        (["--kind", "echo", "--set", "colour=red"], "error: colour: is not a setting"),
        (
            [
                "--kind",
                "echo",
                "--set",
                "url=https://a.example",
                "--set",
                "token=t",
                "--set",
                "mode=z",
            ],
            "error: mode: must be one of a, b",
        ),  # fmt: skip
    ],
)
def test_channel_create_refuses_a_bad_setting_naming_it(project, echo_kind, capsys, args, expected):
    err = refused(capsys, "channel", "create", "acme", "ops", *args)
    assert err.startswith(expected), err
    assert not Channel.objects.exists()


def test_a_set_without_a_key_is_refused_without_quoting_it(project, echo_kind, capsys):
    err = refused(
        capsys, "channel", "create", "acme", "ops", "--kind", "echo",
        "--set", "url=https://a.example", "--set", SECRET,
    )  # fmt: skip
    assert err.startswith("error: --set: expected key=value (--set number 2)"), err
    assert SECRET not in err


def test_a_hostile_channel_name_is_refused_or_kept_verbatim(project, echo_kind, capsys):
    err = refused(capsys, "channel", "create", "acme", "x" * 101, "--kind", "echo")
    assert err.startswith("error: name:")
    name = "<b>ops</b> `*_~ 💥"
    run("channel", "create", "acme", name, "--kind", "echo", "--set", "url=https://a.example",
        "--set", "token=t")  # fmt: skip
    assert Channel.objects.get().name == name


def test_channel_enable_disable_and_delete(project, echo_kind):
    make_echo()
    run("channel", "disable", "acme", "ops")
    assert not Channel.objects.get().enabled
    run("channel", "enable", "acme", "ops")
    assert Channel.objects.get().enabled
    run("channel", "delete", "acme", "ops")
    assert not Channel.objects.exists()
    actions = set(AuditLogEntry.objects.values_list("action", flat=True))
    assert {"channel.disable", "channel.enable", "channel.delete"} <= actions
    with pytest.raises(CommandError, match="no channel 'ops'"):
        run("channel", "delete", "acme", "ops")


def test_channel_test_prints_the_outcome_and_exits_1_when_it_failed(
    project, echo_kind, allow_loopback, capsys
):
    with receiver() as ok:
        make_echo(ok.url)
        assert run("channel", "test", "acme", "ops").startswith("succeeded: status 200")
        assert len(ok.requests) == 1
        assert ok.requests[0]["headers"]["Authorization"] == f"Bearer {SECRET}"
    Channel.objects.all().delete()
    with receiver(status=500) as bad:
        make_echo(bad.url)
        err = StringIO()
        with pytest.raises(SystemExit) as exc:
            call_command("channel", "test", "acme", "ops", stdout=StringIO(), stderr=err)
        assert exc.value.code == 1
        assert "status 500" in err.getvalue()
        assert SECRET not in err.getvalue()
    # Deleting the first channel took its log with it; the failed attempt is logged.
    assert list(DeliveryAttempt.objects.values_list("status_code", flat=True)) == [500]


def test_alert_rule_create_with_every_option(project, echo_kind):
    make_echo()
    data = orjson.loads(
        run(
            "alert_rule",
            "create",
            "acme/backend",
            "Noisy errors",
            "--when",
            "new-issue,regression,frequency",
            "--filter",
            "level=error",
            "--filter",
            "environment=production",
            "--filter",
            "release=latest",
            "--filter",
            "tag:browser.name=Chrome",
            "--filter",
            "tag:os!=Windows",
            "--frequency",
            "100/5m",
            "--throttle",
            "1h",
            "--channel",
            "ops",
            "--json",
        )  # fmt: skip
    )
    rule = AlertRule.objects.get()
    assert data["id"] == rule.id
    assert rule.triggers == ["new_issue", "regression", "frequency"]
    assert (rule.frequency_count, rule.frequency_window) == (100, 5)
    assert (rule.min_level, rule.environment, rule.release) == ("error", "production", "latest")
    assert rule.tag_filters == [
        {"key": "browser.name", "op": "eq", "value": "Chrome"},
        {"key": "os", "op": "ne", "value": "Windows"},
    ]
    assert rule.throttle_minutes == 60
    assert [c.name for c in rule.channels.all()] == ["ops"]
    assert "Noisy errors" in run("alert_rule", "list", "acme/backend")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--when", "new-issue,explosion"], "error: triggers: unknown trigger 'explosion'"),
        (["--when", "frequency"], "error: frequency: the frequency trigger needs a count"),
        (["--when", "frequency", "--frequency", "10/50000m"], "error: frequency: the window"),
        (["--when", "frequency", "--frequency", "10"], "error: frequency: expected N/Mm"),
        (["--when", "new-issue", "--channel", "nope"], "error: channels: no channel 'nope'"),
        (["--when", "new-issue", "--filter", "level=loud"], "error: min_level: must be one of"),
        (["--when", "new-issue", "--filter", "colour=red"], "error: --filter: expected"),
        (
            ["--when", "new-issue", "--throttle", "soon"],
            "error: throttle_minutes: expected minutes",
        ),
        (
            ["--when", "new-issue", "--throttle", "31d"],
            "error: throttle_minutes: must be between 0 and 43200",
        ),
        (["--when", "users", "--users", "99999999999/5m"], "error: users: expected N/Mm"),
    ],
)
def test_alert_rule_create_refuses_bad_input_naming_the_field(project, capsys, args, expected):
    err = refused(capsys, "alert_rule", "create", "acme/backend", "r", *args)
    assert err.startswith(expected), err
    assert not AlertRule.objects.exists()


def test_alert_rule_delete(project):
    run("alert_rule", "create", "acme/backend", "r", "--when", "new-issue")
    run("alert_rule", "delete", "acme/backend", "r")
    assert not AlertRule.objects.exists()
    assert AuditLogEntry.objects.filter(action="alert_rule.delete").exists()


def test_the_installed_tracehound_command_takes_alert_rule_with_a_dash(tmp_path):
    """The entry point maps `alert-rule` to the alert_rule command (one real process)."""
    exe = Path(sys.executable).with_name("tracehound")
    env = {**os.environ, "TRACEHOUND_DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [str(exe), "alert-rule", "create", "--help"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "--when" in done.stdout and "--frequency N/Mm" in done.stdout
