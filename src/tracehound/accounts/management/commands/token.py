from typing import Any

import orjson
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracehound.accounts.models import ApiToken


class Command(BaseCommand):
    help = "Manage API tokens. `token create USERNAME` prints a new token once."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a token for a user")
        create.add_argument("username")
        create.add_argument("--name", default="cli")
        create.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        try:
            user = User.objects.get(username=options["username"])
        except User.DoesNotExist:
            raise CommandError(f"no user named {options['username']!r}") from None
        _, token = ApiToken.issue(user, options["name"])
        if options["json"]:
            self.stdout.write(orjson.dumps({"token": token}).decode())
        else:
            self.stdout.write(token)
