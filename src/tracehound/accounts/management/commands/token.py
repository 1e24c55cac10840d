from typing import Any

import orjson
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser
from django.db.models import QuerySet

from tracehound.accounts.models import TOKEN_PREFIX, ApiToken, hash_token
from tracehound.accounts.tokens import (
    TokenError,
    create_organization_token,
    create_personal_token,
    revoke_token,
    token_state,
)
from tracehound.lib.command import OperatorCommand
from tracehound.projects.models import Organization

CLI = "command line"


class Command(OperatorCommand):
    help = (
        "Manage API tokens. `token create USERNAME [--scopes a,b]` or `token create --org"
        " ORG --scopes a,b` prints a new token once; `token list USERNAME|--org ORG` shows"
        " tokens; `token revoke TOKEN|PREFIX|--user USERNAME` stops them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a personal or an organization token")
        owner = create.add_mutually_exclusive_group(required=True)
        owner.add_argument("username", nargs="?")
        owner.add_argument("--org", help="an organization token (for CI), by slug")
        create.add_argument("--name", default="cli")
        create.add_argument(
            "--scopes",
            help="comma-separated; default for a personal token: all its user's role allows",
        )
        create.add_argument("--expires-days", type=int, help="expire after this many days")
        create.add_argument("--json", action="store_true")
        listing = sub.add_parser("list", help="list a user's or an organization's tokens")
        whose = listing.add_mutually_exclusive_group(required=True)
        whose.add_argument("username", nargs="?")
        whose.add_argument("--org")
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

    def get_org(self, slug: str) -> Organization:
        org = Organization.objects.filter(slug=slug).first()
        if org is None:
            raise CommandError(f"no organization {slug!r}")
        return org

    def handle_create(self, options: dict[str, Any]) -> None:
        scopes = options["scopes"].split(",") if options["scopes"] is not None else None
        try:
            if options["org"]:
                if scopes is None:
                    raise CommandError(
                        "an organization token needs --scopes (e.g. org:read,project:releases)"
                    )
                row, token = create_organization_token(
                    self.get_org(options["org"]),
                    options["name"],
                    scopes,
                    expires_in_days=options["expires_days"],
                    actor_label=CLI,
                )
            else:
                row, token = create_personal_token(
                    self.get_user(options["username"]),
                    options["name"],
                    scopes,
                    expires_in_days=options["expires_days"],
                    actor_label=CLI,
                )
        except TokenError as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            expires = row.expires_at.isoformat() if row.expires_at else None
            data = {
                "id": row.pk,
                "token": token,
                "name": row.name,
                "scopes": row.scopes,
                "expires_at": expires,
            }
            self.stdout.write(orjson.dumps(data).decode())
        else:
            self.stdout.write(token)

    def handle_list(self, options: dict[str, Any]) -> None:
        rows: QuerySet[ApiToken]
        if options["org"]:
            rows = ApiToken.objects.filter(organization=self.get_org(options["org"]), user=None)
        else:
            rows = ApiToken.objects.filter(user=self.get_user(options["username"]))
        for row in rows.order_by("created_at", "id"):
            used = f"last used {row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "unused"
            state = token_state(row)
            if row.revoked_at:
                state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}"
            expiry = f"  expires {row.expires_at:%Y-%m-%d %H:%M}" if row.expires_at else ""
            self.stdout.write(
                f"{row.token_prefix}  {row.name or '-'}  {','.join(row.scopes)}"
                f"  created {row.created_at:%Y-%m-%d %H:%M}  {used}{expiry}  {state}"
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
        count = sum(revoke_token(row, actor_label=CLI) for row in rows)
        self.stdout.write(f"Revoked {count} token{'' if count == 1 else 's'}")
