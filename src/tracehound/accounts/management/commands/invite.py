from typing import Any

import orjson
from django.core.management.base import CommandError, CommandParser

from tracehound.accounts.access import ROLES
from tracehound.accounts.invitations import InvitationError, invite
from tracehound.lib.command import OperatorCommand
from tracehound.projects.models import Organization, Team


class Command(OperatorCommand):
    help = (
        "Invite EMAIL into organization ORG: prints the single-use link (also emailed when"
        " TRACEHOUND_EMAIL_URL is set)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("org", help="the organization's slug")
        parser.add_argument("email")
        parser.add_argument("--role", default="member", choices=ROLES)
        parser.add_argument(
            "--team", action="append", default=[], help="a team's slug (may be repeated)"
        )
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        org = Organization.objects.filter(slug=options["org"]).first()
        if org is None:
            raise CommandError(f"no organization {options['org']!r}")
        teams = []
        for slug in dict.fromkeys(options["team"]):
            team = Team.objects.filter(organization=org, slug=slug).first()
            if team is None:
                raise CommandError(f"no team {slug!r} in {org.slug}")
            teams.append(team)
        try:
            invitation, link = invite(org, options["email"], options["role"], teams, None)
        except InvitationError as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            data = {
                "email": invitation.email,
                "organization": org.slug,
                "role": invitation.role,
                "teams": [t.slug for t in teams],
                "link": link,
                "expires": invitation.expires_at.isoformat(),
            }
            self.stdout.write(orjson.dumps(data).decode())
        else:
            self.stdout.write(link)
