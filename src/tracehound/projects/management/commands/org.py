from typing import Any

import orjson
from django.core.management.base import CommandParser

from tracehound.lib.command import OperatorCommand
from tracehound.projects import membership
from tracehound.projects.management import lookup
from tracehound.projects.membership import MembershipError


class Command(OperatorCommand):
    help = "Manage organizations. `org create ORG [--name N] [--owner USER]`."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create an organization")
        create.add_argument("slug", help="lowercase slug (a-z, 0-9, -, _)")
        create.add_argument("--name", help="display name (default: the slug)")
        create.add_argument("--owner", help="username of its first owner")
        create.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        owner = lookup.user(options["owner"]) if options["owner"] else None
        try:
            org = membership.create_organization(options["slug"], options["name"], owner=owner)
        except MembershipError as exc:
            raise lookup.refused(exc) from None
        if options["json"]:
            data = {"id": org.id, "slug": org.slug, "name": org.name}
            self.stdout.write(orjson.dumps(data).decode())
        else:
            self.stdout.write(f"Organization {org.slug} (id {org.id})")
