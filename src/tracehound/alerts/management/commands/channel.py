"""`tracehound channel …`: alert channels of an organization, for scripts and deployments.

    tracehound channel create ORG NAME --kind KIND --set key=value … [--json]
    tracehound channel list ORG [--json]
    tracehound channel test ORG NAME
    tracehound channel enable|disable|delete ORG NAME

A refused setting exits 2 with "error: <setting>: <message>"; a failed test delivery
exits 1 after printing its status and error.
"""

from __future__ import annotations

import sys
from typing import Any

import orjson
from django.core.management.base import CommandError, CommandParser

from tracehound.alerts import registry, rule_actions
from tracehound.alerts.base import ConfigError
from tracehound.alerts.channels import public_config
from tracehound.alerts.models import Channel
from tracehound.alerts.testing import TestUnavailable, send_test
from tracehound.lib.command import OperatorCommand
from tracehound.projects.management import lookup
from tracehound.projects.models import Organization


def refuse(command: OperatorCommand, exc: ConfigError) -> SystemExit:
    command.stderr.write(f"error: {exc.setting}: {exc.message}")
    return SystemExit(2)


def parse_sets(pairs: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for number, pair in enumerate(pairs, start=1):
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            # Named by position, not quoted: a mistyped --set is often a bare token.
            raise ConfigError("--set", f"expected key=value (--set number {number})")
        values[key.strip()] = value
    return values


def find(org: Organization, name: str) -> Channel:
    channel = Channel.objects.filter(organization=org, name=name[:100]).first()
    if channel is None:
        raise CommandError(f"no channel {name!r} in organization {org.slug!r}")
    return channel


class Command(OperatorCommand):
    help = "Manage alert channels: create, list, test, enable, disable, delete."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser(
            "create", help="create a channel; prints it (and secrets made once)"
        )
        create.add_argument("org")
        create.add_argument("name")
        create.add_argument("--kind", required=True, help="email, webhook, slack, msteams, …")
        create.add_argument(
            "--set", action="append", default=[], metavar="KEY=VALUE", help="a setting (repeat)"
        )
        create.add_argument("--json", action="store_true")
        listing = sub.add_parser("list", help="the organization's channels")
        listing.add_argument("org")
        listing.add_argument("--json", action="store_true")
        for action, text in (
            ("test", "send a test notification now; exits 1 if it failed"),
            ("enable", "enable a channel"),
            ("disable", "disable a channel (its pending chat alerts are dropped)"),
            ("delete", "delete a channel and its delivery log"),
        ):
            one = sub.add_parser(action, help=text)
            one.add_argument("org")
            one.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        org = lookup.organization(options["org"])
        action = options["action"]
        try:
            if action == "create":
                self.create(org, options)
            elif action == "list":
                self.list(org, options["json"])
            elif action == "test":
                self.test(find(org, options["name"]))
            elif action in ("enable", "disable"):
                channel = find(org, options["name"])
                rule_actions.set_channel_enabled(channel, action == "enable")
                self.stdout.write(f"Channel {channel.name} {action}d")
            else:
                channel = find(org, options["name"])
                rule_actions.delete_channel(channel)
                self.stdout.write(f"Deleted channel {channel.name}")
        except ConfigError as exc:
            raise refuse(self, exc) from None

    def create(self, org: Organization, options: dict[str, Any]) -> None:
        values = parse_sets(options["set"])
        channel, shown_once = rule_actions.create_channel(
            org, options["name"], options["kind"], values
        )
        if options["json"]:
            data = {"id": channel.id, "name": channel.name, "kind": channel.kind, **shown_once}
            self.stdout.write(orjson.dumps(data).decode())
            return
        self.stdout.write(f"Channel {channel.name} ({channel.kind}, id {channel.id})")
        for key, value in shown_once.items():
            self.stdout.write(f"{key}: {value}  (shown once; keep it now)")

    def list(self, org: Organization, as_json: bool) -> None:
        rows = Channel.objects.filter(organization=org).order_by("name")
        if as_json:
            data = [
                {
                    "id": c.id,
                    "name": c.name,
                    "kind": c.kind,
                    "available": registry.get(c.kind) is not None,
                    "enabled": c.enabled,
                    "config": public_config(c),
                }
                for c in rows
            ]
            self.stdout.write(orjson.dumps(data).decode())
            return
        for c in rows:
            state = "enabled" if c.enabled else f"disabled {c.disabled_reason}".strip()
            if registry.get(c.kind) is None:
                state = "unavailable"
            self.stdout.write(f"{c.id}\t{c.name}\t{c.kind}\t{state}")

    def test(self, channel: Channel) -> None:
        try:
            attempt = send_test(channel)
        except TestUnavailable as exc:
            raise CommandError(f"cannot test {channel.name!r}: {exc}") from None
        status = attempt.status_code if attempt.status_code is not None else "-"
        line = f"{attempt.outcome}: status {status}, {attempt.duration_ms} ms"
        if attempt.outcome == "succeeded":
            self.stdout.write(line)
            return
        self.stderr.write(f"{line}: {attempt.error or 'failed'}")
        sys.exit(1)
