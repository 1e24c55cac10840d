from typing import Any

import orjson
from django.core.management.base import CommandParser

from tracehound.lib.command import OperatorCommand
from tracehound.projects import membership
from tracehound.projects.management import lookup
from tracehound.projects.membership import MembershipError


class Command(OperatorCommand):
    help = (
        "Manage teams. `team create ORG TEAM [--name N]`, `team add|remove ORG TEAM USER…`,"
        " `team grant|revoke ORG TEAM PROJECT` (give or take the team's access to a project)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a team")
        create.add_argument("org")
        create.add_argument("team", help="lowercase slug (a-z, 0-9, -, _)")
        create.add_argument("--name", help="display name (default: the slug)")
        create.add_argument("--json", action="store_true")
        for action, text in (("add", "add members to"), ("remove", "remove members from")):
            people = sub.add_parser(action, help=f"{text} a team")
            people.add_argument("org")
            people.add_argument("team")
            people.add_argument("users", nargs="+", metavar="USER")
        for action, text in (("grant", "give a team"), ("revoke", "take from a team")):
            access = sub.add_parser(action, help=f"{text} access to a project")
            access.add_argument("org")
            access.add_argument("team")
            access.add_argument("project")

    def handle(self, *args: Any, **options: Any) -> None:
        org = lookup.organization(options["org"])
        try:
            getattr(self, f"handle_{options['action']}")(org, options)
        except MembershipError as exc:
            raise lookup.refused(exc) from None

    def handle_create(self, org: Any, options: dict[str, Any]) -> None:
        team = membership.create_team(None, org, options["team"], options["name"])
        if options["json"]:
            data = {"id": team.id, "slug": team.slug, "name": team.name, "org": org.slug}
            self.stdout.write(orjson.dumps(data).decode())
        else:
            self.stdout.write(f"Team {org.slug}#{team.slug} (id {team.id})")

    def handle_add(self, org: Any, options: dict[str, Any]) -> None:
        team = lookup.team(org, options["team"])
        members = [lookup.member(org, name) for name in options["users"]]
        for member in members:
            membership.add_team_member(None, team, member)
        self.stdout.write(f"Team {org.slug}#{team.slug}: added {', '.join(options['users'])}")

    def handle_remove(self, org: Any, options: dict[str, Any]) -> None:
        team = lookup.team(org, options["team"])
        members = [lookup.member(org, name) for name in options["users"]]
        for member in members:
            membership.remove_team_member(None, team, member)
        self.stdout.write(f"Team {org.slug}#{team.slug}: removed {', '.join(options['users'])}")

    def handle_grant(self, org: Any, options: dict[str, Any]) -> None:
        team = lookup.team(org, options["team"])
        project = lookup.project(org, options["project"])
        membership.give_project_to_team(None, team, project)
        self.stdout.write(f"Team {org.slug}#{team.slug} has project {project.slug}")

    def handle_revoke(self, org: Any, options: dict[str, Any]) -> None:
        team = lookup.team(org, options["team"])
        project = lookup.project(org, options["project"])
        membership.take_project_from_team(None, team, project)
        self.stdout.write(f"Team {org.slug}#{team.slug} no longer has project {project.slug}")
