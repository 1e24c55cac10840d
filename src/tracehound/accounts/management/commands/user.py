import getpass
import sys
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction


class Command(BaseCommand):
    help = "Manage users. `user create USERNAME` makes an ordinary user (see --superuser)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a user")
        create.add_argument("username")
        create.add_argument("--email", default="")
        create.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of standard input",
        )
        create.add_argument(
            "--superuser",
            action="store_true",
            help="an administrator, who sees every organization",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        user = User(username=options["username"], email=options["email"])
        user.is_superuser = user.is_staff = options["superuser"]
        try:
            user.full_clean(exclude=["password"])
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        password = self.read_password(options["password_stdin"])
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise CommandError("password refused: " + " ".join(exc.messages)) from None
        user.set_password(password)
        with transaction.atomic():
            if User.objects.filter(username=user.username).exists():
                raise CommandError(f"a user named {user.username!r} already exists")
            user.save()
        if user.is_superuser:
            self.stdout.write(f"Created superuser {user.username} (sees every organization)")
        else:
            self.stdout.write(
                f"Created user {user.username}. Give them a project with"
                f" `tracehound project create ORG/PROJECT --owner {user.username}`"
            )

    def read_password(self, from_stdin: bool) -> str:
        if from_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        elif sys.stdin.isatty():
            password = getpass.getpass("Password: ")
            if getpass.getpass("Password (again): ") != password:
                raise CommandError("the passwords did not match")
        else:
            raise CommandError("no terminal to ask for a password: use --password-stdin")
        if not password:
            raise CommandError("the password is empty")
        return password
