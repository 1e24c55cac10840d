from typing import Any

from django.core.management.base import CommandParser

from tracehound.accounts.access import ROLES
from tracehound.lib.command import OperatorCommand
from tracehound.projects import membership
from tracehound.projects.management import lookup
from tracehound.projects.membership import MembershipError
from tracehound.projects.models import OrganizationMember


class Command(OperatorCommand):
    help = (
        "Manage organization members. `member role ORG USER ROLE` sets a user's role"
        f" ({', '.join(ROLES)}), adding them to the organization if needed;"
        " `member remove ORG USER`."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        role = sub.add_parser("role", help="set (or give) a member's role")
        role.add_argument("org")
        role.add_argument("user")
        role.add_argument("role", choices=ROLES)
        remove = sub.add_parser("remove", help="remove a member from the organization")
        remove.add_argument("org")
        remove.add_argument("user")

    def handle(self, *args: Any, **options: Any) -> None:
        org = lookup.organization(options["org"])
        user = lookup.user(options["user"])
        existing = OrganizationMember.objects.filter(organization=org, user=user).first()
        try:
            if options["action"] == "remove":
                if existing is None:
                    raise MembershipError("user", f"{user.get_username()} is not a member")
                membership.remove_member(None, existing)
                self.stdout.write(f"Removed {user.get_username()} from {org.slug}")
                return
            if existing is None:
                membership.add_member(None, org, user, options["role"])
            else:
                membership.change_role(None, existing, options["role"])
        except MembershipError as exc:
            raise lookup.refused(exc) from None
        self.stdout.write(f"{user.get_username()} is {options['role']} of {org.slug}")
