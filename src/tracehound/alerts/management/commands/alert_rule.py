"""`tracehound alert-rule …`: alert rules of a project, for scripts and deployments.

    tracehound alert-rule create ORG/PROJECT NAME --when new-issue,regression,…
        [--filter level=error] [--filter environment=production] [--filter release=latest]
        [--filter tag:browser.name=Chrome] [--filter tag:KEY!=VALUE]
        [--frequency N/Mm] [--users N/Mm] [--throttle 30m] --channel NAME… [--json]
    tracehound alert-rule list ORG/PROJECT [--json]
    tracehound alert-rule delete ORG/PROJECT NAME

(`alert-rule` is this command, alert_rule, with the dash cli.py accepts.) A refused
field exits 2 with "error: <field>: <message>".
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from django.core.management.base import CommandError, CommandParser

from tracehound.alerts import rule_actions
from tracehound.alerts.base import ConfigError
from tracehound.alerts.management.commands.channel import refuse
from tracehound.alerts.models import AlertRule
from tracehound.lib.command import OperatorCommand
from tracehound.projects.management.commands.project import find_project, split_name

DURATION = re.compile(r"^(\d{1,9})([mhd]?)$")
UNITS = {"": 1, "m": 1, "h": 60, "d": 1440}


def minutes(field: str, text: str) -> int:
    match = DURATION.match(text.strip())
    if match is None:
        raise ConfigError(field, f"expected minutes like 30m, 2h or 1d, got {text[:40]!r}")
    return int(match.group(1)) * UNITS[match.group(2)]


def threshold(field: str, text: str | None) -> tuple[int, int] | None:
    """ "N/Mm" → (N, M minutes)."""
    if text is None:
        return None
    count, sep, window = text.partition("/")
    if not sep or not count.strip().isdigit() or len(count.strip()) > 9:
        raise ConfigError(field, f"expected N/Mm (e.g. 100/5m), got {text[:40]!r}")
    return int(count), minutes(field, window)


def parse_filters(filters: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {"tag_filters": []}
    for item in filters:
        if item.startswith("tag:"):
            key, op, value = item[4:], "set", ""
            if "!=" in item:
                key, _, value = item[4:].partition("!=")
                op = "ne"
            elif "=" in item:
                key, _, value = item[4:].partition("=")
                op = "eq"
            values["tag_filters"].append({"key": key, "op": op, "value": value})
            continue
        name, sep, value = item.partition("=")
        field = {"level": "min_level", "environment": "environment", "release": "release"}.get(
            name.strip()
        )
        if not sep or field is None:
            raise ConfigError(
                "--filter",
                f"expected level=, environment=, release= or tag:KEY=VALUE, got {item[:60]!r}",
            )
        values[field] = value.strip()
    return values


def serialize(rule: AlertRule) -> dict[str, Any]:
    return {
        "id": rule.id,
        **rule_actions.describe(rule),
        "channels": sorted(c.name for c in rule.channels.all()),
    }


class Command(OperatorCommand):
    help = "Manage alert rules of a project: create, list, delete."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a rule")
        create.add_argument("project", help="ORG/PROJECT")
        create.add_argument("name")
        create.add_argument(
            "--when",
            required=True,
            help="comma-separated: new-issue, regression, unignored, resolved, frequency, users",
        )
        create.add_argument("--filter", action="append", default=[], metavar="FILTER")
        create.add_argument("--frequency", metavar="N/Mm", help="more than N events in M minutes")
        create.add_argument("--users", metavar="N/Mm", help="more than N users in M minutes")
        create.add_argument("--throttle", default="30m", help="at most one alert per (30m)")
        create.add_argument("--channel", action="append", default=[], metavar="NAME")
        create.add_argument("--json", action="store_true")
        listing = sub.add_parser("list", help="the project's rules")
        listing.add_argument("project", help="ORG/PROJECT")
        listing.add_argument("--json", action="store_true")
        delete = sub.add_parser("delete", help="delete a rule")
        delete.add_argument("project", help="ORG/PROJECT")
        delete.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        project = find_project(*split_name(options["project"]))
        try:
            if options["action"] == "create":
                self.create(project, options)
            elif options["action"] == "list":
                self.list(project, options["json"])
            else:
                rule = AlertRule.objects.filter(project=project, name=options["name"][:200]).first()
                if rule is None:
                    raise CommandError(f"no alert rule {options['name']!r} in {options['project']}")
                rule_actions.delete_rule(rule)
                self.stdout.write(f"Deleted alert rule {rule.name}")
        except ConfigError as exc:
            raise refuse(self, exc) from None

    def create(self, project: Any, options: dict[str, Any]) -> None:
        triggers = [w.strip().replace("-", "_") for w in options["when"].split(",") if w.strip()]
        rule = rule_actions.create_rule(
            project,
            options["name"],
            triggers=triggers,
            frequency=threshold("frequency", options["frequency"]),
            users=threshold("users", options["users"]),
            throttle_minutes=minutes("throttle_minutes", options["throttle"]),
            channels=options["channel"],
            **parse_filters(options["filter"]),
        )
        if options["json"]:
            self.stdout.write(orjson.dumps(serialize(rule)).decode())
        else:
            self.stdout.write(f"Alert rule {rule.name} (id {rule.id})")

    def list(self, project: Any, as_json: bool) -> None:
        rows = AlertRule.objects.filter(project=project).prefetch_related("channels")
        if as_json:
            self.stdout.write(orjson.dumps([serialize(r) for r in rows.order_by("id")]).decode())
            return
        for r in rows.order_by("name"):
            state = "enabled" if r.enabled else "disabled"
            channels = ", ".join(sorted(c.name for c in r.channels.all()))
            self.stdout.write(f"{r.id}\t{r.name}\t{','.join(r.triggers)}\t{state}\t{channels}")
