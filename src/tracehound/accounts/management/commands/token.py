from typing import Any

import orjson
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from tracehound.accounts.models import TOKEN_PREFIX, ApiToken, hash_token


class Command(BaseCommand):
    help = (
        "Manage API tokens. `token create USERNAME` prints a new token once; `token list"
        " USERNAME` shows a user's tokens; `token revoke TOKEN|--user USERNAME` stops them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a token for a user")
        create.add_argument("username")
        create.add_argument("--name", default="cli")
        create.add_argument("--json", action="store_true")
        listing = sub.add_parser("list", help="list a user's tokens (by prefix)")
        listing.add_argument("username")
        revoke = sub.add_parser("revoke", help="revoke a token, or all tokens of a user")
        which = revoke.add_mutually_exclusive_group(required=True)
        which.add_argument("token", nargs="?", help="the token, or its prefix from `token list`")
        which.add_argument("--user", help="revoke every token of this user")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"handle_{options['action']}")(options)

    def get_user(self, username: str) -> Any:
        User = get_user_model()
        try:
            return User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"no user named {username!r}") from None

    def handle_create(self, options: dict[str, Any]) -> None:
        _, token = ApiToken.issue(self.get_user(options["username"]), options["name"])
        if options["json"]:
            self.stdout.write(orjson.dumps({"token": token}).decode())
        else:
            self.stdout.write(token)

    def handle_list(self, options: dict[str, Any]) -> None:
        user = self.get_user(options["username"])
        for row in ApiToken.objects.filter(user=user).order_by("created_at", "id"):
            used = f"last used {row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "unused"
            state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
            self.stdout.write(
                f"{row.token_prefix}  {row.name or '-'}  created {row.created_at:%Y-%m-%d %H:%M}"
                f"  {used}  {state}"
            )

    def handle_revoke(self, options: dict[str, Any]) -> None:
        active = ApiToken.objects.filter(revoked_at__isnull=True)
        if options["user"]:
            rows = active.filter(user=self.get_user(options["user"]))
        else:
            token = options["token"].strip()
            rows = active.filter(token_hash=hash_token(token))
            if not rows.exists() and len(token) in (8, 8 + len(TOKEN_PREFIX)):
                rows = active.filter(token_prefix__in=[token, TOKEN_PREFIX + token])
                if rows.count() > 1:
                    raise CommandError(f"several tokens start with {token}: give the whole token")
            if not rows.exists():
                raise CommandError("no such token (or it is already revoked)")
        count = rows.update(revoked_at=timezone.now())
        self.stdout.write(f"Revoked {count} token{'' if count == 1 else 's'}")
